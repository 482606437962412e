#!/usr/bin/env bash
# Makes `promtool` available (Debian's prometheus package, without its recommended node exporter) and prints
# its path. Idempotent: nothing happens when it is already installed. Needs root or passwordless sudo for apt-get.
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then command -v promtool; exit 0; fi
SUDO=()
if [[ "$(id -u)" != 0 ]]; then SUDO=(sudo -n); fi
echo "[promtool] apt-get install prometheus (for promtool)" >&2
"${SUDO[@]}" apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends prometheus >&2
command -v promtool
