#!/usr/bin/env bash
# Installs voicegate with its embedded defaults into .venv and starts the gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  python3 -m venv .venv
fi
echo "== installing voicegate[serve] into .venv (a minute or two the first time)"
# pip's own lines (Collecting, Downloading, Installing) are the progress; the already-satisfied ones are not
.venv/bin/python -m pip install --upgrade pip 2>&1 | grep -v '^Requirement already satisfied' || true
.venv/bin/python -m pip install -e '.[serve]' 2>&1 | grep -v '^Requirement already satisfied' || true
.venv/bin/python -c 'import voicegate.server.app' 2>/dev/null || {
  echo "serve.sh: the install failed (see the lines above)" >&2
  exit 1
}
echo "== starting voicegate serve (loading the models takes a few seconds); the other commands: .venv/bin/voicegate --help, or source .venv/bin/activate"
export HF_HUB_OFFLINE=1
exec .venv/bin/voicegate serve "$@"
