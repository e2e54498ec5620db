#!/usr/bin/env bash
# Installs the Debian packages the tests use (browser, speech, PortAudio, Redis, PostgreSQL, npm, the
# SIP peers SIPp and baresip), if missing, makes sure apt knows the packages of real speech the tests
# fetch (voicegate.bench.prompts), and fetches axe-core (the page's accessibility check) from npm
# into a cache.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v npm >/dev/null || need+=(npm)
command -v redis-server >/dev/null || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
ldconfig -p | grep -q libportaudio.so.2 || need+=(libportaudio2)
command -v sipp >/dev/null || need+=(sip-tester)
command -v baresip >/dev/null || need+=(baresip-core)
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
if [ ${#need[@]} -gt 0 ] || ! apt-cache show asterisk-core-sounds-en-g722 >/dev/null 2>&1; then
  "${sudo_cmd[@]}" apt-get update -qq
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# tests/browser/axe.py reads it from here
axe_dir="${XDG_CACHE_HOME:-$HOME/.cache}/voicegate/npm"
axe_version=4.14.1
if ! grep -qs "\"version\": \"$axe_version\"" "$axe_dir/node_modules/axe-core/package.json"; then
  echo "fetching axe-core $axe_version from npm"
  npm install --silent --no-audit --no-fund --prefix "$axe_dir" "axe-core@$axe_version"
fi
