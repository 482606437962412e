#!/usr/bin/env bash
# Prints the bin directory of the Node the MLIS processes, tests and benchmarks run on (ADR 0055): the machine's own
# `node` when its major version is MLIS_NODE_VERSION's or later, else Node MLIS_NODE_VERSION from the npm registry's
# node-linux-<arch> package (the same route as `npm ci`: no download from nodejs.org), unpacked once into the
# machine-level cache. Idempotent. scripts/lib.sh puts it first on PATH; set MLIS_NODE_BIN to a directory holding
# `node` to choose another.
set -euo pipefail
VERSION="${MLIS_NODE_VERSION:-26.12.1}"
MAJOR="${VERSION%%.*}"
CACHE="${MLIS_CACHE_DIR:-$HOME/.cache/mlis}/node-v$VERSION"

if command -v node >/dev/null 2>&1 && (($(node -p 'process.versions.node.split(".")[0]') >= MAJOR)); then
  dirname "$(command -v node)"
  exit 0
fi
if [[ -x "$CACHE/bin/node" ]]; then
  printf '%s/bin\n' "$CACHE"
  exit 0
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "[node] no node-linux package for $(uname -m): install Node $MAJOR and put it first on PATH" >&2; exit 1 ;;
esac
echo "[node] Node $VERSION from the npm registry (node-linux-$arch@$VERSION) into $CACHE" >&2
mkdir -p "$(dirname "$CACHE")"
work="$(mktemp -d "${CACHE}.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# npm pack checks the tarball against the registry's integrity hash, as npm ci does.
(cd "$work" && npm pack --silent "node-linux-$arch@$VERSION" >/dev/null)
tar -xzf "$work"/node-linux-"$arch"-"$VERSION".tgz -C "$work"
"$work/package/bin/node" -e 'process.exit(0)'
# A rename, so a concurrent run or an interrupted one never leaves a half-unpacked runtime at CACHE.
mv -T "$work/package" "$CACHE" 2>/dev/null || [[ -x "$CACHE/bin/node" ]]
printf '%s/bin\n' "$CACHE"
