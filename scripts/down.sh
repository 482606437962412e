#!/usr/bin/env bash
# `npm run down`: stops what `npm run up` started, by pid file, newest first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/stack.sh stop
bash temporal/dev-server.sh stop
bash scripts/postgres.sh stop
