#!/usr/bin/env bash
# Installs the npm dependencies (the repository's and the console's, console/ being its own package)
# when a package-lock.json changed since the last install. Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_TAG=deps
source "$ROOT/scripts/lib.sh"
# npm of the Node MLIS runs on, also when this script runs alone: the machine's older one warns EBADENGINE for MLIS's
# engines field and for dependencies that ask for a newer Node.
use_mlis_node

install() {
  local dir="$1"
  local stamp="$dir/node_modules/.mlis-lock-hash"
  local hash
  hash="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then return 0; fi
  echo "[deps] npm ci in ${dir#"$ROOT"/}" >&2
  # onnxruntime-node's postinstall downloads the CUDA provider from outside the registry, which fails offline and
  # makes npm roll the whole install back; its CPU provider ships in the package (docs/adr/0011-onnx-runtime-and-minilm.md).
  (cd "$dir" && ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --no-audit --no-fund >&2)
  echo "$hash" >"$stamp"
}

install "$ROOT"
install "$ROOT/console"
