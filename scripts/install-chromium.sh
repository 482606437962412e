#!/usr/bin/env bash
# The console's end-to-end tests drive Debian's chromium (never a browser download). Idempotent:
# installs it with apt only when /usr/bin/chromium is missing.
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then exit 0; fi
echo "[chromium] apt-get install -y chromium" >&2
SUDO=""
if [[ "$(id -u)" != 0 ]]; then SUDO="sudo"; fi
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >&2
