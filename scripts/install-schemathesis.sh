#!/usr/bin/env bash
# Installs schemathesis (PyPI) into a virtual environment under ~/.cache/mlis, once; prints the path of its CLI.
# Idempotent: a venv that already has the pinned version is reused. MLIS_SCHEMATHESIS_VERSION overrides the pin.
set -euo pipefail
LOG_TAG=schemathesis
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION="${MLIS_SCHEMATHESIS_VERSION:-4.32.5}"
VENV="$MLIS_CACHE/schemathesis-$VERSION"
CLI="$VENV/bin/st"

if [[ ! -x "$CLI" ]] || ! "$VENV/bin/python" -c "import importlib.metadata as m; assert m.version('schemathesis') == '$VERSION'" 2>/dev/null; then
  command -v python3 >/dev/null || die "python3 not found (schemathesis needs Python >= 3.9)"
  mkdir -p "$(dirname "$VENV")"
  exec 9>"$VENV.lock"
  flock 9
  if [[ ! -x "$CLI" ]]; then
    log "installing schemathesis $VERSION into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
  fi
fi
printf '%s\n' "$CLI"
