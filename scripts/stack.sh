#!/usr/bin/env bash
# Starts and stops the MLIS processes (api, control, executor nodes) in the background, by pid file.
# Postgres and the Temporal dev server are started separately (scripts/postgres.sh, temporal/dev-server.sh).
#
#   stack.sh start                 api + control + every node of MLIS_STACK_NODES, then wait until ready
#   stack.sh stop                  stop everything this state dir started (SIGTERM, then SIGKILL after a grace period)
#   stack.sh start-node ID         (re)start one node of MLIS_STACK_NODES
#   stack.sh stop-node ID [SIG]    stop one node (default TERM; KILL simulates a crash)
#   stack.sh pid NAME              print the pid of api, control or a node
#   stack.sh metrics-port NAME     print the /metrics port of control or a node
#   stack.sh status
#
# Environment: MLIS_STATE_DIR (pid files and logs; default .mlis/stack), MLIS_STACK_NODES (a space separated
# list of id:group:slots:cpu:mem_mb:gpus), MLIS_MODEL_DIR (default: what scripts/install-model.sh installs),
# MLIS_STACK_METRICS_PORT (default 9464: control's /metrics there, the nodes' on the next ports in MLIS_STACK_NODES
# order), plus everything libs/config reads (DATABASE_URL, TEMPORAL_ADDRESS, MLIS_API_PORT, ...).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_TAG=stack
source "$ROOT/scripts/lib.sh"
STATE_DIR="${MLIS_STATE_DIR:-$ROOT/.mlis/stack}"
# The processes keep their own state there too (the fs artifact store: libs/config).
export MLIS_STATE_DIR="$STATE_DIR"
NODES="${MLIS_STACK_NODES:-cpu-1:cpu:4:4:8192:0 cpu-2:cpu:4:4:8192:0 gpu-1:gpu:2:4:16384:2 gpu-2:gpu:2:4:16384:2}"
API_URL="${MLIS_API_URL:-http://127.0.0.1:${MLIS_API_PORT:-8001}}"
METRICS_PORT="${MLIS_STACK_METRICS_PORT:-9464}"
export MLIS_API_URL="$API_URL"

pid_file() { printf '%s/%s.pid' "$STATE_DIR" "$1"; }
log_file() { printf '%s/%s.log' "$STATE_DIR" "$1"; }

# launch NAME ENV... -- COMMAND...: runs in its own session so a stop never hits the caller.
launch() {
  local name="$1"; shift
  local env_args=()
  while [[ "$1" != "--" ]]; do env_args+=("$1"); shift; done
  shift
  if pid_alive "$(pid_file "$name")"; then log "$name already running (pid $(cat "$(pid_file "$name")"))"; return; fi
  mkdir -p "$STATE_DIR"
  env "${env_args[@]}" setsid "$@" >>"$(log_file "$name")" 2>&1 < /dev/null &
  echo $! >"$(pid_file "$name")"
  log "$name started (pid $!, log $(log_file "$name"))"
}

stop_process() {
  local name="$1" signal="${2:-TERM}" file pid
  file="$(pid_file "$name")"
  [[ -f "$file" ]] || return 0
  pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "$name did not stop in 10s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
    log "$name stopped (pid $pid, SIG$signal)"
  fi
  rm -f "$file"
}

node_spec() {
  local spec
  for spec in $NODES; do
    if [[ "${spec%%:*}" == "$1" ]]; then printf '%s' "$spec"; return; fi
  done
  log "unknown node $1 (MLIS_STACK_NODES: $NODES)"; exit 2
}

# A node's /metrics port: one past control's, then one per node in MLIS_STACK_NODES order, so a restart keeps it.
node_metrics_port() {
  local spec port=$((METRICS_PORT + 1))
  for spec in $NODES; do
    if [[ "${spec%%:*}" == "$1" ]]; then printf '%s' "$port"; return; fi
    port=$((port + 1))
  done
}

# Nodes run the `inference` model: installed once per machine (cheap when done), unless MLIS_MODEL_DIR names one.
ensure_model() {
  if [[ -z "${MLIS_MODEL_DIR:-}" ]]; then
    MLIS_MODEL_DIR="$(bash "$ROOT/scripts/install-model.sh")"
    export MLIS_MODEL_DIR
  fi
}

start_node() {
  local id group slots cpu mem gpus
  IFS=: read -r id group slots cpu mem gpus <<<"$(node_spec "$1")"
  launch "node-$id" MLIS_NODE_ID="$id" MLIS_NODE_GROUP="$group" MLIS_NODE_SLOTS="$slots" MLIS_NODE_CPU="$cpu" \
    MLIS_NODE_MEM_MB="$mem" MLIS_NODE_GPUS="$gpus" MLIS_NODE_METRICS_PORT="$(node_metrics_port "$id")" -- node "$ROOT/dist/apps/worker/main.js"
}

case "${1:-}" in
  start)
    [[ -f "$ROOT/dist/apps/api/main.js" ]] || { log "dist/ missing: run npm run build first"; exit 1; }
    # The API signs worker tokens with the dev key and checks the bootstrap secret that nodes present.
    bash "$ROOT/scripts/secrets.sh" ensure
    # shellcheck disable=SC2086 # the flags are words
    # The console build (npm run build) is served at /console; its job pages link to this Temporal Web UI.
    launch api MLIS_CONSOLE_DIR="${MLIS_CONSOLE_DIR:-$ROOT/console/dist}" \
      MLIS_TEMPORAL_UI_URL="${MLIS_TEMPORAL_UI_URL:-http://127.0.0.1:${TEMPORAL_UI_PORT:-8233}}" \
      -- node $MLIS_SCHEDULER_NODE_FLAGS "$ROOT/dist/apps/api/main.js"
    # shellcheck disable=SC2086
    launch control MLIS_CONTROL_METRICS_PORT="$METRICS_PORT" -- node $MLIS_SCHEDULER_NODE_FLAGS "$ROOT/dist/apps/control/main.js"
    wait_until 60 "API (logs in $STATE_DIR)" curl -fsS --max-time 2 "$API_URL/health/ready"
    ensure_model
    for spec in $NODES; do start_node "${spec%%:*}"; done
    wait_until 90 "every worker group (logs in $STATE_DIR)" curl -fsS --max-time 2 "$API_URL/health/ready/full"
    log "ready: $API_URL"
    ;;
  stop)
    if [[ -d "$STATE_DIR" ]]; then
      for file in "$STATE_DIR"/node-*.pid; do [[ -e "$file" ]] && stop_process "$(basename "$file" .pid)"; done
      stop_process control
      stop_process api
    fi
    ;;
  start-node) ensure_model; start_node "${2:?node id}" ;;
  stop-node) stop_process "node-${2:?node id}" "${3:-TERM}" ;;
  pid) cat "$(pid_file "${2:?name}")" ;;
  metrics-port) if [[ "${2:?control or a node id}" == control ]]; then echo "$METRICS_PORT"; else node_spec "$2" >/dev/null; node_metrics_port "$2"; echo; fi ;;
  status)
    for file in "$STATE_DIR"/*.pid; do
      [[ -e "$file" ]] || continue
      name="$(basename "$file" .pid)"
      if pid_alive "$file"; then echo "$name running pid $(cat "$file")"; else echo "$name stopped"; fi
    done
    ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
