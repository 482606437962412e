# Shared helpers for the provisioning scripts; source it, do not run it.
# Callers set LOG_TAG before sourcing to prefix their log lines.

MLIS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Machine-level downloads and builds, shared by every clone.
MLIS_CACHE="${MLIS_CACHE_DIR:-$HOME/.cache/mlis}"
# Project-local state (git-ignored).
MLIS_STATE="$MLIS_ROOT/.mlis"

# V8 flags for control and the benchmarks, whose work is scheduling cycles; docker-compose.yml and the Kubernetes
# manifests repeat them in control's command.
# A cycle on a large cluster allocates about 1 MB; with a 16 MB semi-space (V8's default on Node 20, 32 MB on
# Node 26), scavenges come every few cycles and copy and promote the objects of the cycle in flight, which made up
# most of a cycle's p99.
# A 64 MB young generation makes them rare and cheap (ADR 0010, docs/benchmarks.md). Set it in the
# environment to trade that for memory (about 64 MB more resident under load).
MLIS_SCHEDULER_NODE_FLAGS="${MLIS_SCHEDULER_NODE_FLAGS:---max-semi-space-size=64}"
# V8 flags for the API and for the nodes (apps/worker), the processes that stream artifact bytes. On Node 26 a
# transfer's short-lived Buffers started full collections of the whole heap one after another, and artifacts moved
# 35-45 % slower than on Node 20: external memory counted in the heap's global limit, and old generation limits twice
# the live heap instead of V8's 1.1-1.4 times, leave them to scavenges (ADR 0058). The API keeps V8's default young
# generation: a 64 MB one paused it 21-81 ms a scavenge under HTTP load, the submissions' tail (ADR 0051).
# docker-compose.yml, the Kubernetes manifests and the Dockerfile repeat them in the API's and the nodes' commands.
MLIS_API_NODE_FLAGS="${MLIS_API_NODE_FLAGS:---external-memory-accounted-in-global-limit --heap-growing-percent=100}"
MLIS_WORKER_NODE_FLAGS="${MLIS_WORKER_NODE_FLAGS:---external-memory-accounted-in-global-limit --heap-growing-percent=100}"

log() { printf '[%s] %s\n' "${LOG_TAG:-mlis}" "$*" >&2; }
die() { log "$*"; exit 1; }

# use_mlis_node: puts the Node every MLIS process, test run and benchmark runs on first on PATH (ADR 0055): the one
# scripts/install-node.sh chooses, or MLIS_NODE_BIN's. The scripts that run `node` call it; it is exported, so the
# scripts they run keep it without asking again.
use_mlis_node() {
  if [[ -z "${MLIS_NODE_BIN:-}" ]]; then
    MLIS_NODE_BIN="$(bash "$MLIS_ROOT/scripts/install-node.sh")" || die "no Node to run MLIS on (scripts/install-node.sh)"
  fi
  [[ -x "$MLIS_NODE_BIN/node" ]] || die "MLIS_NODE_BIN=$MLIS_NODE_BIN holds no node"
  [[ "$(command -v node)" == "$MLIS_NODE_BIN/node" ]] || PATH="$MLIS_NODE_BIN:$PATH"
  export MLIS_NODE_BIN PATH
}

# pid_runs FILE PATTERN: the pid in FILE is alive and runs a command line holding PATTERN. Pid files outlive their
# processes (a reboot or SIGKILL leaves them) and pids are reused: a bare kill -0 could name anything.
pid_runs() {
  local pid
  pid="$(cat "$1" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# process_start PID: when the process began, in clock ticks since boot (field 22 of /proc/PID/stat). A pid and its start
# time name one process for good: a recycled pid has a later start.
process_start() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  # After "pid (comm) " the fields start at the third, state; the command name may hold spaces and parentheses.
  stat="${stat##*) }"
  # shellcheck disable=SC2086 # split into fields on purpose
  set -- $stat
  printf '%s' "${20}"
}

# port_taken PORT: something accepts connections on 127.0.0.1:PORT.
port_taken() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port FROM: FROM, or else the first port of the 99 after it that nothing accepts connections on.
free_port() {
  local port="$1"
  while port_taken "$port"; do
    port=$((port + 1))
    ((port < $1 + 100)) || die "ports $1-$port are all taken"
  done
  printf '%s' "$port"
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.2 s until it succeeds or the deadline passes.
wait_until() {
  local seconds="$1" what="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  while ((SECONDS < deadline)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  "$@" >/dev/null 2>&1 && return 0
  log "$what: not ready after ${seconds}s"
  return 1
}

# stop_pid_file FILE NAME PATTERN: SIGTERM, SIGKILL after 15 s, then removes FILE; a pid that no longer runs PATTERN
# (see pid_runs) is left alone and only the stale FILE goes.
stop_pid_file() {
  local file="$1" name="$2" pattern="$3" pid
  if ! pid_runs "$file" "$pattern"; then
    rm -f "$file"
    log "$name not running"
    return 0
  fi
  pid="$(cat "$file")"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 15))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) ignored SIGTERM for 15s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  log "$name stopped (pid $pid)"
  rm -f "$file"
}
