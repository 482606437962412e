#!/usr/bin/env bash
# The Temporal dev server (`temporal server start-dev`) with a persistent SQLite file, the Web UI and
# MLIS's search attributes, in the background.
#
#   dev-server.sh start    start unless already running and healthy; waits until the namespace answers
#   dev-server.sh stop     stop the server this state dir started (pid file)
#   dev-server.sh status   prints running/stopped; exit 0 only when running and healthy
#
# Environment: TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (8233), TEMPORAL_METRICS_PORT (the server's Prometheus
# /metrics; unset: a free port the server picks), MLIS_TEMPORAL_START_TIMEOUT (90 s),
# MLIS_TEMPORAL_DIR (puts the db, log and pid file in one directory; default .mlis/temporal, .mlis/logs, .mlis/run).
set -euo pipefail
LOG_TAG=temporal
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

PORT="${TEMPORAL_PORT:-7233}"
UI_PORT="${TEMPORAL_UI_PORT:-8233}"
ADDRESS="127.0.0.1:$PORT"
START_TIMEOUT="${MLIS_TEMPORAL_START_TIMEOUT:-90}"
if [[ -n "${MLIS_TEMPORAL_DIR:-}" ]]; then
  DB="$MLIS_TEMPORAL_DIR/dev.sqlite"
  LOG_FILE="$MLIS_TEMPORAL_DIR/temporal.log"
  PID_FILE="$MLIS_TEMPORAL_DIR/temporal.pid"
else
  DB="$MLIS_STATE/temporal/dev.sqlite"
  LOG_FILE="$MLIS_STATE/logs/temporal.log"
  PID_FILE="$MLIS_STATE/run/temporal.pid"
fi
SEARCH_ATTRIBUTES=(MlisTenant MlisTaskType MlisState MlisWorkerGroup MlisNode)

# Namespace describe, not only cluster health: workers fail until the namespace is registered.
healthy() {
  "$TEMPORAL" operator namespace describe --address "$ADDRESS" --namespace default --command-timeout 3s >/dev/null 2>&1
}

# The pid file names a live dev server (not a process that reused the pid after a reboot).
server_alive() {
  pid_runs "$PID_FILE" 'server start-dev'
}

ready_or_dead() {
  healthy || ! server_alive
}

start() {
  if server_alive; then
    if wait_until "$START_TIMEOUT" "temporal dev server (pid $(cat "$PID_FILE"))" healthy; then
      log "already running (pid $(cat "$PID_FILE"), $ADDRESS)"
      return 0
    fi
    die "pid $(cat "$PID_FILE") is alive but $ADDRESS does not answer; see $LOG_FILE or run: $0 stop"
  fi
  rm -f "$PID_FILE"
  if healthy; then
    die "another Temporal server already answers on $ADDRESS; stop it or set TEMPORAL_PORT"
  fi

  mkdir -p "$(dirname "$DB")" "$(dirname "$LOG_FILE")" "$(dirname "$PID_FILE")"
  local args=(server start-dev
    --ip 127.0.0.1 --port "$PORT" --ui-port "$UI_PORT"
    --db-filename "$DB"
    --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=NORMAL
    # The server would otherwise call out to check for updates; there is no internet here.
    --dynamic-config-value frontend.enableServerVersionCheck=false
    # One partition a task queue (the server's default is 4): on one host a task then meets any poller that waits on
    # its queue, instead of landing on a partition none of them is on (ADR 0032).
    --dynamic-config-value matching.numTaskqueueReadPartitions=1
    --dynamic-config-value matching.numTaskqueueWritePartitions=1
    --namespace default
    --log-level warn)
  if [[ -n "${TEMPORAL_METRICS_PORT:-}" ]]; then args+=(--metrics-port "$TEMPORAL_METRICS_PORT"); fi
  local name
  for name in "${SEARCH_ATTRIBUTES[@]}"; do args+=(--search-attribute "$name=Keyword"); done

  log "starting on $ADDRESS (UI http://127.0.0.1:$UI_PORT, db $DB, log $LOG_FILE)"
  # Its own session, so a Ctrl-C in the caller's terminal does not reach it. The inner shell writes
  # its own pid and execs the server, which stays right even when setsid has to fork.
  rm -f "$PID_FILE"
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" "$TEMPORAL" "${args[@]}" >>"$LOG_FILE" 2>&1 </dev/null &
  wait_until 10 "pid file $PID_FILE" test -s "$PID_FILE" || die "the dev server did not start"

  wait_until "$START_TIMEOUT" "temporal dev server" ready_or_dead || true
  if ! server_alive || ! healthy; then
    tail -n 20 "$LOG_FILE" >&2 || true
    stop_pid_file "$PID_FILE" "temporal dev server" 'server start-dev'
    die "dev server failed to start; full log: $LOG_FILE"
  fi
  log "ready (pid $(cat "$PID_FILE"))"
}

case "${1:-}" in
  start)
    TEMPORAL="$(bash "$MLIS_ROOT/temporal/install-cli.sh")"
    start
    ;;
  stop)
    stop_pid_file "$PID_FILE" "temporal dev server" 'server start-dev'
    ;;
  status)
    TEMPORAL="$(bash "$MLIS_ROOT/temporal/install-cli.sh")"
    if server_alive && healthy; then
      echo "running pid $(cat "$PID_FILE") $ADDRESS"
    else
      echo "stopped"; exit 1
    fi
    ;;
  *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac
