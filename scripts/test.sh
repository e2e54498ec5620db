#!/usr/bin/env bash
# The whole test suite on a fresh machine: system packages, a virtualenv with every
# extra, then lint, type checks and the tests (real models, real browser, real servers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
export HF_HUB_OFFLINE=1
echo "== models"; .venv/bin/voicegate models --fetch
echo "== real speech"; .venv/bin/python -m voicegate.bench.prompts
# one command a line: set -e does not stop at a failure inside an && list
echo "== ruff";  .venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy";  .venv/bin/mypy
echo "== pytest"
# pytest exits 5 when it collects nothing; set -e makes that (and any failure) fatal.
# --durations lists the 25 slowest tests, which is where the suite's time goes. Two workers
# (pytest-xdist), each taking whole files (their servers, browsers and models are set up once
# per file): most tests wait on real time (speech streamed as it is spoken, servers starting),
# so on 2 cores with a CPU burner beside it the suite took 11 min against 18.5-19.5 in one.
.venv/bin/python -m pytest -q -p no:cacheprovider --durations=25 -n 2 --dist loadfile "$@"
