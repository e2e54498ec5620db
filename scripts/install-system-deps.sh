#!/usr/bin/env bash
# Installs the Debian packages the tests use (browser, speech, PortAudio, Redis, PostgreSQL, the SIP
# peers SIPp and baresip), if missing,
# and makes sure apt knows the packages of real speech the tests fetch (voicegate.bench.prompts).
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
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
