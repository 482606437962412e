#!/usr/bin/env bash
# `npm run up`: the whole local stack without Docker, then one demo job.
# Postgres (project-local cluster unless DATABASE_URL is set), the Temporal dev server with its Web UI,
# migrations, the API, the control process and four executor nodes (two cpu, two simulated gpu).
# Secrets (dev signing key, worker bootstrap secret) are created on first run by scripts/secrets.sh, and a
# dev token for tenant "default" with every scope is saved where the CLI finds it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LOG_TAG=up
source scripts/lib.sh
use_mlis_node
started=$(date +%s)
# What started stays up after a failure, for a look at why the rest did not; the caller is told how to stop it.
trap 'log "failed (the lines above say why); anything it started keeps running for a look: npm run down stops it"' ERR

bash scripts/install-deps.sh
# Before anything starts: an API port held by another program would otherwise show only as a readiness wait that fails.
bash scripts/stack.sh check-ports
echo "[up] building" >&2
npm run --silent build

bash scripts/postgres.sh start
# The owner runs migrations; api and control connect as the runtime role (owner-url first: it falls back to DATABASE_URL).
MLIS_MIGRATION_DATABASE_URL="$(bash scripts/postgres.sh owner-url)"
DATABASE_URL="$(bash scripts/postgres.sh url)"
export DATABASE_URL MLIS_MIGRATION_DATABASE_URL
bash temporal/dev-server.sh start
export TEMPORAL_ADDRESS="127.0.0.1:${TEMPORAL_PORT:-7233}"

node dist/db/run-migrations.js
bash scripts/secrets.sh ensure
MLIS_MODEL_DIR="$(bash scripts/install-model.sh)"
export MLIS_MODEL_DIR
bash scripts/stack.sh start

api="${MLIS_API_URL:-http://127.0.0.1:${MLIS_API_PORT:-8001}}"
# A dev credential, meant to be shown: the key that signs it never is.
token="$(node dist/apps/cli/main.js dev-token --tenant default --user dev --scope all --save)"
token_file="${MLIS_TOKEN_FILE:-${MLIS_CONFIG_DIR:-${XDG_CONFIG_HOME:-$HOME/.config}/mlis}/token}"
echo "[up] submitting the demo job (examples/job.sleep.json)" >&2
MLIS_API_URL="$api" MLIS_TOKEN="$token" node dist/apps/cli/main.js submit sleep --seconds 1 --wait --wait-timeout 120

cat <<TXT

MLIS is up in $(( $(date +%s) - started ))s.
  API             $api
  Console         $api/console   (sign in with the dev token below, or the dev sign-in form)
  OpenAPI         $api/docs
  Temporal Web UI http://127.0.0.1:${TEMPORAL_UI_PORT:-8233}
  Metrics         $api/metrics, control http://127.0.0.1:${MLIS_STACK_METRICS_PORT:-9464}/metrics, nodes on the next ports (bash scripts/stack.sh metrics-port cpu-1)
  CLI             ./bin/mlis workers    (MLIS_API_URL=$api)
  Logs            .mlis/stack/*.log, .mlis/logs/temporal.log
  Supervised      $(cd "${MLIS_STATE_DIR:-.mlis/stack}" && ls *.supervisor.pid 2>/dev/null | sed 's/.supervisor.pid//' | tr '\n' ' ')
                  restarted with backoff when they exit on their own (bash scripts/stack.sh status; .mlis/stack/supervisor.log);
                  Postgres and the Temporal dev server are not supervised

Dev token (tenant default, user dev, every scope, 12 h), saved to $token_file for the CLI:
  $token
  curl -H "Authorization: Bearer \$(cat $token_file)" $api/v1/jobs
  Others: ./bin/mlis dev-token --tenant T --user U --scope jobs:submit,jobs:read [--cross-tenant] [--ttl 1h] [--save]
  Check:  ./bin/mlis whoami
Stop everything with: npm run down
TXT
