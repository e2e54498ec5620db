#!/usr/bin/env bash
# Installs voicegate with its embedded defaults into .venv and starts the gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[serve]'
export HF_HUB_OFFLINE=1
.venv/bin/voicegate models --fetch >/dev/null  # Smart Turn and Silero VAD, out of their wheels
exec .venv/bin/voicegate serve "$@"
