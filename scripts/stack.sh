#!/usr/bin/env bash
# Starts and stops the MLIS processes (api, control, executor nodes) in the background, each under a supervisor
# that restarts it with backoff when it exits without the operator asking (a crash, kill -9, an OOM kill).
# Postgres and the Temporal dev server are started separately (scripts/postgres.sh, temporal/dev-server.sh).
#
#   stack.sh start                 api + control + every node of MLIS_STACK_NODES, supervised, then wait until ready
#   stack.sh check-ports           fail, naming them, when ports `start` binds are held by processes not of this stack
#   stack.sh stop                  stop everything this state dir started (SIGTERM, then SIGKILL after a grace period)
#   stack.sh start-node ID         (re)start one node of MLIS_STACK_NODES, supervised
#   stack.sh start-replica api|control N   start replica N (2, 3, ...) of the api or control process, supervised
#   stack.sh stop-replica api|control N    stop it and its supervisor; it stays down
#   stack.sh stop-node ID [SIG]    stop one node and its supervisor (default TERM); it stays down
#   stack.sh pid NAME              print the pid of api, control or a node (the process, not its supervisor)
#   stack.sh metrics-port NAME     print the /metrics port of control, control-N or a node
#   stack.sh status                each process, its pid and how often its supervisor restarted it
#
# Restarts: api and control after MLIS_SUPERVISE_BACKOFF_SECONDS (1), a node after its lease has run out
# (MLIS_LEASE_SECONDS + 2, so its lost work is placed elsewhere first and it comes back as a new incarnation);
# each further restart waits twice as long, at most MLIS_SUPERVISE_MAX_BACKOFF_SECONDS (60); a process that ran
# 60 s starts again from the first delay. Every restart is a line in the process's log and in supervisor.log.
#
# Environment: MLIS_STATE_DIR (pid files and logs; default .mlis/stack), MLIS_STACK_NODES (a space separated
# list of id:group:slots:cpu:mem_mb:gpus), MLIS_STACK_NETNS (node ids that run in a network namespace of their own,
# reaching the API and Temporal only through a relay that the chaos run can cut: root, `ip netns`; see below),
# MLIS_MODEL_DIR (default: what scripts/install-model.sh installs),
# MLIS_STACK_METRICS_PORT (default 9464: control's /metrics there, the nodes' on the next ports in MLIS_STACK_NODES
# order), MLIS_STACK_API_REPLICAS and MLIS_STACK_CONTROL_REPLICAS (default 1: how many api and control processes
# `start` runs; replica N of the api listens on MLIS_API_PORT + N - 1, replica N of control serves /metrics after the
# nodes' ports; the nodes reach every api replica, the first preferred, unless MLIS_NODE_API_URLS lists others), plus
# everything libs/config reads (DATABASE_URL, TEMPORAL_ADDRESS, MLIS_API_PORT, ...).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_TAG=stack
source "$ROOT/scripts/lib.sh"
use_mlis_node
STATE_DIR="${MLIS_STATE_DIR:-$ROOT/.mlis/stack}"
# The processes keep their own state there too (the fs artifact store: libs/config).
export MLIS_STATE_DIR="$STATE_DIR"
NODES="${MLIS_STACK_NODES:-cpu-1:cpu:4:4:8192:0 cpu-2:cpu:4:4:8192:0 gpu-1:gpu:2:4:16384:2 gpu-2:gpu:2:4:16384:2}"
API_PORT="${MLIS_API_PORT:-8001}"
API_URL="${MLIS_API_URL:-http://127.0.0.1:$API_PORT}"
METRICS_PORT="${MLIS_STACK_METRICS_PORT:-9464}"
API_REPLICAS="${MLIS_STACK_API_REPLICAS:-1}"
CONTROL_REPLICAS="${MLIS_STACK_CONTROL_REPLICAS:-1}"
export MLIS_API_URL="$API_URL"
# The APIs a node reaches, in order of preference (ADR 0053): every replica `start` runs, unless MLIS_NODE_API_URLS
# names them.
default_node_api_urls() {
  local urls="$API_URL" n
  for n in $(seq 2 "$API_REPLICAS"); do urls+=",http://127.0.0.1:$((API_PORT + n - 1))"; done
  printf '%s' "$urls"
}
NODE_API_URLS="${MLIS_NODE_API_URLS:-$(default_node_api_urls)}"

pid_file() { printf '%s/%s.pid' "$STATE_DIR" "$1"; }
start_file() { printf '%s/%s.start' "$STATE_DIR" "$1"; }
supervisor_file() { printf '%s/%s.supervisor.pid' "$STATE_DIR" "$1"; }
stopped_file() { printf '%s/%s.stopped' "$STATE_DIR" "$1"; }
restarts_file() { printf '%s/%s.restarts' "$STATE_DIR" "$1"; }
log_file() { printf '%s/%s.log' "$STATE_DIR" "$1"; }
# Every process this script supervises runs a script of this checkout's dist/, and its supervisor is this script. The
# command line alone is not enough: other processes name this checkout too (the Temporal dev server's and Postgres's
# data under .mlis, Jest), and a pid file outlives its process, so a recycled pid could name one of them. The start
# time the supervisor recorded with the pid must match as well.
child_alive() {
  pid_runs "$(pid_file "$1")" "$ROOT/dist/" || return 1
  [[ "$(process_start "$(cat "$(pid_file "$1")")")" == "$(cat "$(start_file "$1")" 2>/dev/null)" ]]
}
supervisor_alive() { pid_runs "$(supervisor_file "$1")" "__supervise $1 "; }
BACKOFF="${MLIS_SUPERVISE_BACKOFF_SECONDS:-1}"
NODE_BACKOFF=$(( ${MLIS_LEASE_SECONDS:-10} + 2 ))
MAX_BACKOFF="${MLIS_SUPERVISE_MAX_BACKOFF_SECONDS:-60}"

# supervise NAME FIRST_BACKOFF ENV... -- COMMAND...: runs COMMAND, and again after a backoff each time it exits,
# until the operator's stop marker exists. Runs in its own session (see launch); writes the child's pid file.
supervise() {
  local name="$1" first="$2"; shift 2
  local env_args=()
  while [[ "$1" != "--" ]]; do env_args+=("$1"); shift; done
  shift
  local backoff="$first" restarts=0 child status started
  # The operator's TERM goes to the child (stop_process); one sent here is passed on to it.
  trap '[[ -n "${child:-}" ]] && kill -TERM "$child" 2>/dev/null' TERM INT
  while [[ ! -e "$(stopped_file "$name")" ]]; do
    started=$SECONDS
    env "${env_args[@]}" "$@" &
    child=$!
    # Before the pid file, so that whenever it names this child its start time is there to check (child_alive).
    process_start "$child" >"$(start_file "$name")" || true
    # Written aside and renamed: a reader never sees the file empty (a test would signal pid 0, its own process group).
    echo "$child" >"$(pid_file "$name").tmp"
    mv -f "$(pid_file "$name").tmp" "$(pid_file "$name")"
    status=0
    wait "$child" || status=$?
    # wait returns early when a trapped signal arrives: wait for the child itself to end.
    while kill -0 "$child" 2>/dev/null; do wait "$child" || status=$?; done
    [[ -e "$(stopped_file "$name")" ]] && break
    if ((SECONDS - started >= 60)); then backoff="$first"; fi
    restarts=$((restarts + 1))
    echo "$restarts" >"$(restarts_file "$name")"
    printf '%s [supervisor] %s (pid %s) exited with status %s; restart %s in %ss\n' "$(date -u +%FT%TZ)" "$name" "$child" "$status" "$restarts" "$backoff" \
      | tee -a "$STATE_DIR/supervisor.log"
    local resume=$((SECONDS + backoff))
    while ((SECONDS < resume)) && [[ ! -e "$(stopped_file "$name")" ]]; do sleep 0.2; done
    backoff=$((backoff * 2 > MAX_BACKOFF ? MAX_BACKOFF : backoff * 2))
  done
  rm -f "$(supervisor_file "$name")"
}

# launch NAME FIRST_BACKOFF ENV... -- COMMAND...: a supervised process in its own session, so a stop never hits the caller.
launch() {
  local name="$1" first="$2"; shift 2
  if supervisor_alive "$name"; then log "$name already running (pid $(cat "$(pid_file "$name")"), supervised)"; return; fi
  # Its supervisor died but it did not: stopped first, or two would run (the second failing on the first's port).
  if child_alive "$name"; then
    log "$name still running unsupervised (pid $(cat "$(pid_file "$name")")): stopping it first"
    kill -TERM "$(cat "$(pid_file "$name")")" 2>/dev/null || true
    wait_gone "$(cat "$(pid_file "$name")")" "$name"
  fi
  mkdir -p "$STATE_DIR"
  rm -f "$(stopped_file "$name")" "$(pid_file "$name")" "$(start_file "$name")" "$(restarts_file "$name")"
  setsid bash "$ROOT/scripts/stack.sh" __supervise "$name" "$first" "$@" >>"$(log_file "$name")" 2>&1 </dev/null &
  echo $! >"$(supervisor_file "$name")"
  wait_until 10 "$name to start" test -s "$(pid_file "$name")"
  log "$name started (pid $(cat "$(pid_file "$name")"), supervised by $!, log $(log_file "$name"))"
}

# wait_gone PID: up to 10 s, then SIGKILL.
wait_gone() {
  local pid="$1" name="$2"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  log "$name did not stop in 10s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

stop_process() {
  local name="$1" signal="${2:-TERM}" pid supervisor
  mkdir -p "$STATE_DIR"
  # The marker first: the supervisor must not restart what the operator stops.
  touch "$(stopped_file "$name")"
  # Until the supervisor has seen the marker and gone (it removes its own pid file), up to 5 s: a supervisor that
  # checked for the marker just before it was written starts one more child, which is stopped on the next round.
  for _ in $(seq 1 50); do
    if child_alive "$name"; then
      pid="$(cat "$(pid_file "$name")")"
      kill "-$signal" "$pid" 2>/dev/null || true
      wait_gone "$pid" "$name"
      log "$name stopped (pid $pid, SIG$signal)"
    fi
    supervisor_alive "$name" || break
    sleep 0.1
  done
  if supervisor_alive "$name"; then
    supervisor="$(cat "$(supervisor_file "$name")")"
    kill -KILL "$supervisor" 2>/dev/null || true
    # Its last child, if it started one after the last round, goes with it.
    if child_alive "$name"; then kill -KILL "$(cat "$(pid_file "$name")")" 2>/dev/null || true; fi
  fi
  # The pid file stays: status reports the process as stopped.
  rm -f "$(supervisor_file "$name")"
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

# A node of MLIS_STACK_NETNS runs inside the network namespace NETNS_PREFIX-<id>, which has nothing but its own
# loopback. Two relays (test/support/netns-relay.ts) carry its connections to the API's and Temporal's ports out
# through Unix sockets in RELAY_DIR: `relay-host` in this namespace, `relay-<id>` inside the node's. SIGUSR1 to
# relay-<id> cuts the node off from both, SIGUSR2 heals it (the chaos run's partition fault).
NETNS_NODES=" ${MLIS_STACK_NETNS:-} "
# Namespaces are machine-wide: named after this state dir, so two stacks on one machine never share one.
NETNS_PREFIX="mlis-$(printf '%s' "$STATE_DIR" | cksum | cut -d' ' -f1)"
RELAY_DIR="$STATE_DIR/relay"
RELAY="$ROOT/dist/test/support/netns-relay.js"
relay_ports() {
  local temporal="${TEMPORAL_ADDRESS:-127.0.0.1:7233}" url
  for url in ${NODE_API_URLS//,/ }; do printf '%s ' "${url##*:}"; done
  printf '%s' "${temporal##*:}"
}
in_netns() { [[ "$NETNS_NODES" == *" $1 "* ]]; }

ensure_netns() {
  local name="$NETNS_PREFIX-$1"
  ip netns list | grep -qx "$name\( .*\)\?" || ip netns add "$name"
  ip -n "$name" link set lo up
  # shellcheck disable=SC2046 # the ports are words
  launch relay-host "$BACKOFF" -- node "$RELAY" host "$RELAY_DIR" $(relay_ports)
  # shellcheck disable=SC2046
  launch "relay-$1" "$BACKOFF" -- ip netns exec "$name" node "$RELAY" inside "$RELAY_DIR" $(relay_ports)
}

start_node() {
  local id group slots cpu mem gpus netns=()
  IFS=: read -r id group slots cpu mem gpus <<<"$(node_spec "$1")"
  if in_netns "$id"; then
    ensure_netns "$id"
    # `ip netns exec` execs the node: the pid file holds the node's own pid, as without a namespace.
    netns=(ip netns exec "$NETNS_PREFIX-$id")
  fi
  # shellcheck disable=SC2086 # the flags are words
  launch "node-$id" "$NODE_BACKOFF" MLIS_NODE_API_URLS="$NODE_API_URLS" MLIS_NODE_ID="$id" MLIS_NODE_GROUP="$group" MLIS_NODE_SLOTS="$slots" MLIS_NODE_CPU="$cpu" \
    MLIS_NODE_MEM_MB="$mem" MLIS_NODE_GPUS="$gpus" MLIS_NODE_METRICS_PORT="$(node_metrics_port "$id")" -- "${netns[@]}" node $MLIS_WORKER_NODE_FLAGS "$ROOT/dist/apps/worker/main.js"
}

# Replica 1 is `api` / `control`; replica N > 1 is `api-N` / `control-N`. Every replica shares Postgres and Temporal:
# scheduling cycles take an advisory lock and ledger writes are conditional, so replicas never double-book.
replica_name() { if (("$2" == 1)); then printf '%s' "$1"; else printf '%s-%s' "$1" "$2"; fi; }

start_api() {
  local port=$((API_PORT + $1 - 1))
  # shellcheck disable=SC2086 # the flags are words
  # The console build (npm run build) is served at /console; its job pages link to this Temporal Web UI.
  launch "$(replica_name api "$1")" "$BACKOFF" MLIS_API_PORT="$port" MLIS_CONSOLE_DIR="${MLIS_CONSOLE_DIR:-$ROOT/console/dist}" \
    MLIS_TEMPORAL_UI_URL="${MLIS_TEMPORAL_UI_URL:-http://127.0.0.1:${TEMPORAL_UI_PORT:-8233}}" \
    -- node $MLIS_API_NODE_FLAGS -r "$ROOT/dist/libs/workflow-host/workflow-stack-traces.js" "$ROOT/dist/apps/api/main.js"
}

api_ready() {
  wait_until 60 "$(replica_name api "$1") (logs in $STATE_DIR)" curl -fsS --max-time 2 "http://127.0.0.1:$((API_PORT + $1 - 1))/health/ready" \
    || explain_not_ready "$(replica_name api "$1")"
}

# Control's /metrics: replica 1 on MLIS_STACK_METRICS_PORT, further replicas after the nodes' ports.
control_metrics_port() {
  local port="$METRICS_PORT" spec
  if (("$1" > 1)); then
    port=$((METRICS_PORT + $1 - 1))
    for spec in $NODES; do port=$((port + 1)); done
  fi
  printf '%s' "$port"
}

start_control() {
  # shellcheck disable=SC2086
  launch "$(replica_name control "$1")" "$BACKOFF" MLIS_CONTROL_METRICS_PORT="$(control_metrics_port "$1")" -- node $MLIS_SCHEDULER_NODE_FLAGS -r "$ROOT/dist/libs/workflow-host/workflow-stack-traces.js" "$ROOT/dist/apps/control/main.js"
}

# Whether node NAME's current process has registered and polls its queue: its /health/ready answers 200 with its own
# pid (asked inside its namespace when it has one). Right after a restart the previous process's row still reads live
# for a few seconds, so the API's /health/ready/full alone can pass too early.
node_registered() {
  local pid netns=()
  pid="$(cat "$(pid_file "node-$1")" 2>/dev/null)" || return 1
  if in_netns "$1"; then netns=(ip netns exec "$NETNS_PREFIX-$1"); fi
  "${netns[@]}" curl -fsS --max-time 2 "http://127.0.0.1:$(node_metrics_port "$1")/health/ready" 2>/dev/null | grep -q "\"pid\":$pid,"
}

# The ports `start` binds, one "PORT NAME VARIABLE" line each. A node in a namespace of its own binds inside it.
planned_ports() {
  local n spec
  for n in $(seq 1 "$API_REPLICAS"); do echo "$((API_PORT + n - 1)) $(replica_name api "$n") MLIS_API_PORT"; done
  for n in $(seq 1 "$CONTROL_REPLICAS"); do echo "$(control_metrics_port "$n") $(replica_name control "$n") MLIS_STACK_METRICS_PORT"; done
  for spec in $NODES; do
    in_netns "${spec%%:*}" || echo "$(node_metrics_port "${spec%%:*}") node-${spec%%:*} MLIS_STACK_METRICS_PORT"
  done
}

# Refuses, before anything starts, a port that another process holds: the process meant for it would only exit on
# EADDRINUSE and be restarted until the readiness wait gave up. A port held by this stack's own process is fine (launch
# leaves it running, or stops it first when its supervisor is gone).
check_ports() {
  local port name variable holder taken=0
  while read -r port name variable; do
    if supervisor_alive "$name" || child_alive "$name"; then continue; fi
    port_taken "$port" || continue
    holder="$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'users:(("[^"]*",pid=[0-9]*' | head -n 1 | sed 's/users:(("\([^"]*\)",pid=\([0-9]*\)/ (\1, pid \2)/')" || true
    log "port $port, $name's, is taken by another process$holder: stop it, or set $variable to move the stack's ports"
    taken=1
  done < <(planned_ports)
  ((taken == 0)) || exit 1
}

# After a readiness wait gave up: why, from the process's own log (its last fatal or error line) and its restarts.
explain_not_ready() {
  local name="$1" last
  last="$(grep -h '"level":"\(fatal\|error\)"' "$(log_file "$name")" 2>/dev/null | tail -n 1 | cut -c1-600)" || true
  log "$name: $(cat "$(restarts_file "$name")" 2>/dev/null || echo 0) restarts; its last error: ${last:-none logged} (log $(log_file "$name"))"
  return 1
}

case "${1:-}" in
  start)
    [[ -f "$ROOT/dist/apps/api/main.js" ]] || { log "dist/ missing: run npm run build first"; exit 1; }
    check_ports
    # The API signs worker tokens with the dev key and checks the bootstrap secret that nodes present.
    bash "$ROOT/scripts/secrets.sh" ensure
    for n in $(seq 1 "$API_REPLICAS"); do start_api "$n"; done
    for n in $(seq 1 "$CONTROL_REPLICAS"); do start_control "$n"; done
    for n in $(seq 1 "$API_REPLICAS"); do api_ready "$n"; done
    ensure_model
    for spec in $NODES; do start_node "${spec%%:*}"; done
    for spec in $NODES; do
      wait_until 90 "node ${spec%%:*} to register (logs in $STATE_DIR)" node_registered "${spec%%:*}" || explain_not_ready "node-${spec%%:*}"
    done
    wait_until 90 "every worker group (logs in $STATE_DIR)" curl -fsS --max-time 2 "$API_URL/health/ready/full"
    log "ready: $API_URL"
    ;;
  stop)
    if [[ -d "$STATE_DIR" ]]; then
      for file in "$STATE_DIR"/node-*.pid "$STATE_DIR"/relay-*.pid; do
        [[ -e "$file" ]] || continue
        name="$(basename "$file" .pid)"
        stop_process "${name%.supervisor}"
      done
      for file in "$STATE_DIR"/control*.pid "$STATE_DIR"/api*.pid; do
        [[ -e "$file" && "$file" != *.supervisor.pid ]] || continue
        stop_process "$(basename "$file" .pid)"
      done
    fi
    if command -v ip >/dev/null; then
      for name in $(ip netns list 2>/dev/null | awk -v prefix="$NETNS_PREFIX-" 'index($1, prefix) == 1 { print $1 }'); do ip netns del "$name"; done
    fi
    ;;
  start-replica)
    case "${2:?api or control}" in
      api) start_api "${3:?replica number}"; api_ready "$3" ;;
      control) start_control "${3:?replica number}" ;;
      *) log "start-replica: api or control, not $2"; exit 2 ;;
    esac
    ;;
  check-ports) check_ports ;;
  stop-replica) stop_process "$(replica_name "${2:?api or control}" "${3:?replica number}")" ;;
  start-node) ensure_model; start_node "${2:?node id}" ;;
  stop-node) stop_process "node-${2:?node id}" "${3:-TERM}" ;;
  pid) cat "$(pid_file "${2:?name}")" ;;
  metrics-port)
    case "${2:?control, control-N or a node id}" in
      control) control_metrics_port 1; echo ;;
      control-[0-9]*) control_metrics_port "${2#control-}"; echo ;;
      *) node_spec "$2" >/dev/null; node_metrics_port "$2"; echo ;;
    esac
    ;;
  status)
    for file in "$STATE_DIR"/*.pid; do
      [[ -e "$file" && "$file" != *.supervisor.pid ]] || continue
      name="$(basename "$file" .pid)"
      restarts="$(cat "$(restarts_file "$name")" 2>/dev/null || echo 0)"
      supervised="$(supervisor_alive "$name" && echo supervised || echo unsupervised)"
      if child_alive "$name"; then echo "$name running pid $(cat "$file") ($supervised, $restarts restarts)"; else echo "$name stopped ($supervised, $restarts restarts)"; fi
    done
    ;;
  __supervise) shift; supervise "$@" ;;
  *) sed -n '/^set -euo/q; 2,$p' "$0" >&2; exit 2 ;;
esac
