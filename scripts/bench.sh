#!/usr/bin/env bash
# npm run bench:placement: runs a benchmark with the V8 flags the scheduling processes (api, control) get.
#   bench.sh NAME   runs dist/test/bench/NAME.bench.js (build first)
set -euo pipefail
LOG_TAG=bench
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_mlis_node
# shellcheck disable=SC2086 # the flags are words
exec node $MLIS_SCHEDULER_NODE_FLAGS "$MLIS_ROOT/dist/test/bench/${1:?benchmark name}.bench.js"
