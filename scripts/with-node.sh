#!/usr/bin/env bash
# with-node.sh COMMAND [ARG...]: runs COMMAND with the Node MLIS runs on first on PATH (scripts/lib.sh, ADR 0055). The
# npm scripts that run `node` or `jest` themselves go through it, as npm starts them with whatever Node runs npm.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_mlis_node
exec "$@"
