#!/usr/bin/env bash
# Installs the npm dependencies when package-lock.json changed since the last install. Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
stamp="node_modules/.mlis-lock-hash"
hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then exit 0; fi
echo "[deps] npm ci" >&2
# onnxruntime-node's postinstall downloads the CUDA provider from outside the registry, which fails offline and
# makes npm roll the whole install back; its CPU provider ships in the package (docs/adr/0011-onnx-runtime-and-minilm.md).
ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --no-audit --no-fund >&2
echo "$hash" >"$stamp"
