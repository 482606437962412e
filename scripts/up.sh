#!/usr/bin/env bash
# `npm run up`: the whole local stack without Docker, then one demo job.
# Postgres (project-local cluster unless DATABASE_URL is set), the Temporal dev server with its Web UI,
# migrations, the API, the control process and four executor nodes (two cpu, two simulated gpu).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
started=$(date +%s)

bash scripts/install-deps.sh
echo "[up] building" >&2
npm run --silent build

bash scripts/postgres.sh start
DATABASE_URL="$(bash scripts/postgres.sh url)"
export DATABASE_URL
bash temporal/dev-server.sh start
export TEMPORAL_ADDRESS="127.0.0.1:${TEMPORAL_PORT:-7233}"

node dist/db/run-migrations.js
bash scripts/stack.sh start

api="${MLIS_API_URL:-http://127.0.0.1:${MLIS_API_PORT:-8001}}"
echo "[up] submitting the demo job (examples/job.sleep.json)" >&2
MLIS_API_URL="$api" node dist/apps/cli/main.js submit sleep --seconds 1 --wait --wait-timeout 120

cat <<TXT

MLIS is up in $(( $(date +%s) - started ))s.
  API             $api
  OpenAPI         $api/docs
  Console data    $api/ui/api/overview
  Temporal Web UI http://127.0.0.1:${TEMPORAL_UI_PORT:-8233}
  CLI             ./bin/mlis workers    (MLIS_API_URL=$api)
  Logs            .mlis/stack/*.log, .mlis/logs/temporal.log
Stop everything with: npm run down
TXT
