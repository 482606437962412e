#!/usr/bin/env bash
# A real S3-compatible server for the artifact store's S3 tests: moto's server (from PyPI, in a venv in the
# machine cache), bound to 127.0.0.1. Never used outside tests; production points MLIS_S3_ENDPOINT at S3 or MinIO.
#
#   s3-test-server.sh install   create the venv and install moto[server] (idempotent, cheap when done)
#   s3-test-server.sh start     install, start on MLIS_S3_TEST_PORT (default 39000; the next free port when another
#                               process holds it), wait until it answers
#   s3-test-server.sh stop      stop the server this state dir started
#   s3-test-server.sh url       print its endpoint URL (the port it started on)
#
# Environment: MLIS_S3_TEST_PORT, MLIS_S3_TEST_DIR (pid file and log; default .mlis/s3-test-server).
set -euo pipefail
LOG_TAG=s3-test-server
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MOTO_VERSION=5.2.5
VENV="$MLIS_CACHE/moto-$MOTO_VERSION"
DIR="${MLIS_S3_TEST_DIR:-$MLIS_STATE/s3-test-server}"
PID_FILE="$DIR/moto.pid"
# The port the server last started on: `url` answers with it.
PORT_FILE="$DIR/port"
PORT="${MLIS_S3_TEST_PORT:-39000}"

install() {
  [[ -f "$VENV/.installed" ]] && return 0
  command -v python3 >/dev/null || die "python3 not found; install it (e.g. apt-get install -y python3 python3-venv)"
  log "installing moto[server]==$MOTO_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
  # Marked last so an interrupted install is never mistaken for a complete one.
  touch "$VENV/.installed"
}

case "${1:-}" in
  install) install ;;
  start)
    install
    mkdir -p "$DIR"
    if pid_runs "$PID_FILE" "$VENV/bin/moto_server"; then log "already running (pid $(cat "$PID_FILE"))"; exit 0; fi
    # Another process's server would answer the readiness check below: the first free port instead.
    asked="$PORT"
    PORT="$(free_port "$PORT")"
    [[ "$PORT" == "$asked" ]] || log "port $asked is taken by another process: using $PORT"
    echo "$PORT" >"$PORT_FILE"
    URL="http://127.0.0.1:$PORT"
    setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >>"$DIR/moto.log" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    wait_until 60 "moto on $URL (log $DIR/moto.log)" curl -fsS --max-time 2 "$URL/moto-api/"
    log "ready: $URL (pid $(cat "$PID_FILE"))"
    ;;
  stop) stop_pid_file "$PID_FILE" moto "$VENV/bin/moto_server" ;;
  url) echo "http://127.0.0.1:$(cat "$PORT_FILE" 2>/dev/null || echo "$PORT")" ;;
  *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
