#!/usr/bin/env bash
# Prints the absolute path of a `temporal` CLI binary; logs go to stderr.
# Uses `temporal` on PATH when present, else builds v1.5.1 from source into the machine cache once
# (~3.5 min cold; no release download needed, only the Go module proxy).
set -euo pipefail
LOG_TAG=temporal-cli
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

# Newest tag `go install pkg@version` accepts: later go.mod files carry a replace directive.
VERSION=1.5.1

if found="$(command -v temporal 2>/dev/null)"; then
  printf '%s\n' "$(readlink -f "$found")"
  exit 0
fi

bin="$MLIS_CACHE/bin/temporal"
if [[ ! -x "$bin" ]]; then
  command -v go >/dev/null || die "neither temporal nor go is installed; install Go >= 1.25 or put temporal on PATH"
  log "building temporal CLI v$VERSION into $MLIS_CACHE/bin (a few minutes the first time)"
  mkdir -p "$MLIS_CACHE/bin"
  GOBIN="$MLIS_CACHE/bin" go install \
    -ldflags "-X github.com/temporalio/cli/temporalcli.Version=$VERSION" \
    "github.com/temporalio/cli/cmd/temporal@v$VERSION" >&2
fi
printf '%s\n' "$bin"
