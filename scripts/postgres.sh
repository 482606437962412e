#!/usr/bin/env bash
# Postgres for MLIS. With DATABASE_URL set, uses that server as is; otherwise a project-local dev cluster
# in MLIS_PG_DIR (default .mlis/pg), on 127.0.0.1 only, trust auth: it is a dev cluster.
# Its port: MLIS_PG_PORT when set (taken by another process: start fails). Otherwise the port the cluster last started on
# (recorded in MLIS_PG_DIR/port), at first 55432; when that one is taken by another process (another checkout's
# cluster), start moves to the next free port and records it, and url, owner-url and psql follow.
# Two roles: mlis owns the database and runs migrations; mlis_app is what api and control connect as.
#
#   postgres.sh start          start the local cluster (initdb, roles mlis and mlis_app, database mlis) or check DATABASE_URL
#   postgres.sh stop           stop the local cluster
#   postgres.sh crash          stop the local cluster with an immediate shutdown (no checkpoint: a crash, for chaos tests)
#   postgres.sh status         exit 0 when the local cluster runs and answers (with DATABASE_URL: when that answers)
#   postgres.sh url            print the runtime role's URL of the mlis database (DATABASE_URL)
#   postgres.sh owner-url      print the owner's URL (MLIS_MIGRATION_DATABASE_URL, else DATABASE_URL when set)
#   postgres.sh createdb NAME  create database NAME owned by the owner, if missing
#   postgres.sh psql [ARGS]    psql on the mlis database, as the owner
#   postgres.sh test-fsync     print how many 8 kB fdatasync writes a second the local cluster's disk takes (pg_test_fsync)
#
# MLIS_PG_FAST=1 (tests) starts the local cluster with fsync, synchronous_commit and full_page_writes off.
# MLIS_PG_OPTIONS adds server settings when the local cluster starts, e.g. '-c shared_preload_libraries=pg_stat_statements'
# (then the extension is created in the postgres database, and `npm run bench:e2e` counts statements a job).
set -euo pipefail
LOG_TAG=postgres
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_DIR="${MLIS_PG_DIR:-$MLIS_STATE/pg}"
DATA="$PG_DIR/data"
PORT_FILE="$PG_DIR/port"
PORT="${MLIS_PG_PORT:-$(cat "$PORT_FILE" 2>/dev/null || echo 55432)}"
[[ "$PORT" =~ ^[0-9]+$ ]] || die "not a port: $PORT (MLIS_PG_PORT or $PORT_FILE)"
SOCKET_DIR="$PG_DIR/run"
LOG_FILE="$PG_DIR/postgres.log"
ROLE=mlis
APP_ROLE=mlis_app
DATABASE=mlis

pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$dir" && -x "$dir/initdb" ]] && printf '%s' "$dir"
}

install_postgres() {
  [[ -n "$(pg_bin)" ]] && return 0
  [[ "$(id -u)" == 0 ]] || die "Postgres server binaries not found in /usr/lib/postgresql/*/bin; install the postgresql package or set DATABASE_URL"
  log "installing the postgresql package"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  [[ -n "$(pg_bin)" ]] || die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb"
}

# Postgres refuses to run as root: as root, the server runs as the `postgres` OS user.
as_owner() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

prepare_owner() {
  [[ "$(id -u)" == 0 ]] || return 0
  if ! id postgres >/dev/null 2>&1; then
    log "creating the postgres system user"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
  fi
  # The server must reach its data directory through every parent.
  local dir="$PG_DIR"
  while dir="$(dirname "$dir")"; [[ "$dir" != / ]]; do
    if ! runuser -u postgres -- test -x "$dir"; then
      log "chmod o+x $dir so the postgres user can reach $PG_DIR"
      chmod o+x "$dir"
    fi
  done
}

local_psql() {
  "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PORT" -U postgres "$@"
}

running() {
  [[ -f "$DATA/PG_VERSION" ]] && as_owner "$PGBIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

# Before a start: when another process holds PORT, the next free port, unless MLIS_PG_PORT pins it. The choice is
# recorded so the cluster comes back on the same port after a stop or a crash.
choose_port() {
  if port_taken "$PORT"; then
    [[ -z "${MLIS_PG_PORT:-}" ]] || die "port $PORT (MLIS_PG_PORT) is taken by another process; pick another or unset MLIS_PG_PORT"
    local taken="$PORT"
    PORT="$(free_port "$PORT")"
    log "port $taken is taken by another process: using $PORT"
  fi
  echo "$PORT" >"$PORT_FILE"
}

start_local() {
  install_postgres
  PGBIN="$(pg_bin)"
  prepare_owner
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    log "initdb $DATA ($PGBIN)"
    rm -rf "$DATA"
    mkdir -p "$DATA" "$SOCKET_DIR"
    if [[ "$(id -u)" == 0 ]]; then chown -R postgres:postgres "$PG_DIR"; fi
    chmod 700 "$DATA"
    as_owner "$PGBIN/initdb" -D "$DATA" -U postgres -E UTF8 --no-locale \
      --auth-local=trust --auth-host=trust >"$PG_DIR/initdb.log" 2>&1 \
      || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
  fi
  if running; then
    local fsync
    fsync="$(local_psql -d postgres -Atc 'SHOW fsync')"
    log "already running (port $PORT, fsync=$fsync; settings change only on a restart)"
  else
    choose_port
    # shellcheck disable=SC2206 # MLIS_PG_OPTIONS is a list of server options, split on spaces.
    local options=(-p "$PORT" -k "$SOCKET_DIR" -c listen_addresses=127.0.0.1 ${MLIS_PG_OPTIONS:-})
    if [[ "${MLIS_PG_FAST:-}" == 1 ]]; then
      # Throwaway test data: durability traded for speed.
      options+=(-c fsync=off -c synchronous_commit=off -c full_page_writes=off)
    fi
    log "starting on 127.0.0.1:$PORT (data $DATA, log $LOG_FILE)"
    # 8>&-: the postmaster must not inherit (and hold forever) the start lock.
    as_owner "$PGBIN/pg_ctl" start -D "$DATA" -l "$LOG_FILE" -w -t 60 -o "${options[*]}" >/dev/null 8>&- \
      || { tail -n 20 "$LOG_FILE" >&2 || true; die "pg_ctl start failed"; }
  fi
  local_psql -d postgres <<SQL
SELECT 'CREATE ROLE $ROLE LOGIN CREATEDB' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$ROLE') \gexec
SELECT 'CREATE ROLE $APP_ROLE LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$APP_ROLE') \gexec
-- DROP DATABASE ... WITH (FORCE) as the owner ends the runtime role's sessions too.
SELECT 'GRANT pg_signal_backend TO $ROLE' WHERE NOT pg_has_role('$ROLE', 'pg_signal_backend', 'MEMBER') \gexec
SELECT 'CREATE DATABASE $DATABASE OWNER $ROLE' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$DATABASE') \gexec
SELECT 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' WHERE current_setting('shared_preload_libraries') ~ 'pg_stat_statements' \gexec
SQL
  log "ready: $(url)"
}

url() {
  if [[ -n "${DATABASE_URL:-}" ]]; then printf '%s\n' "$DATABASE_URL"; else printf 'postgres://%s@127.0.0.1:%s/%s\n' "$APP_ROLE" "$PORT" "$DATABASE"; fi
}

owner_url() {
  if [[ -n "${MLIS_MIGRATION_DATABASE_URL:-}" ]]; then printf '%s\n' "$MLIS_MIGRATION_DATABASE_URL"
  elif [[ -n "${DATABASE_URL:-}" ]]; then printf '%s\n' "$DATABASE_URL"
  else printf 'postgres://%s@127.0.0.1:%s/%s\n' "$ROLE" "$PORT" "$DATABASE"; fi
}

client_bin() {
  local bin
  bin="$(pg_bin || true)"
  if [[ -n "$bin" ]]; then printf '%s' "$bin"; else dirname "$(command -v psql || die "psql not found")"; fi
}

reachable() {
  "$(client_bin)/psql" -X -q -d "$(owner_url)" -c 'SELECT 1' >/dev/null 2>&1
}

create_database() {
  local name="$1"
  [[ "$name" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "database name must match [a-z_][a-z0-9_]*: $name"
  # Serialized: concurrent CREATE DATABASE calls from one template can collide.
  mkdir -p "$MLIS_STATE"
  exec 9>"$MLIS_STATE/.pg-createdb.lock"
  flock 9
  "$(client_bin)/psql" -X -q -v ON_ERROR_STOP=1 -d "$(owner_url)" <<SQL
SELECT 'CREATE DATABASE $name' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$name') \gexec
SQL
}

case "${1:-}" in
  start)
    if [[ -n "${DATABASE_URL:-}" ]]; then
      reachable || die "DATABASE_URL is set but not reachable"
      log "using DATABASE_URL"
    else
      mkdir -p "$MLIS_STATE"
      exec 8>"$MLIS_STATE/.pg-start.lock"
      flock 8
      start_local
    fi
    ;;
  stop)
    if [[ -n "${DATABASE_URL:-}" ]]; then log "DATABASE_URL is set: nothing to stop"; exit 0; fi
    PGBIN="$(pg_bin || true)"
    if [[ -n "$PGBIN" ]] && running; then
      as_owner "$PGBIN/pg_ctl" stop -D "$DATA" -m fast -w >/dev/null
      log "stopped"
    else
      log "not running"
    fi
    ;;
  crash)
    [[ -z "${DATABASE_URL:-}" ]] || die "DATABASE_URL is set: crash only stops the project-local cluster"
    PGBIN="$(pg_bin)"
    running || die "not running"
    as_owner "$PGBIN/pg_ctl" stop -D "$DATA" -m immediate -w >/dev/null
    log "crashed (immediate shutdown)"
    ;;
  status)
    # The local cluster's own state first: another checkout's cluster may answer on its port.
    if [[ -z "${DATABASE_URL:-}" ]]; then
      PGBIN="$(pg_bin || true)"
      { [[ -n "$PGBIN" ]] && running; } || { echo "stopped"; exit 1; }
    fi
    if reachable; then echo "running $(url)"; else echo "stopped"; exit 1; fi
    ;;
  url) url ;;
  owner-url) owner_url ;;
  createdb) create_database "${2:?database name}" ;;
  psql) shift; exec "$(client_bin)/psql" -X -d "$(owner_url)" "$@" ;;
  test-fsync)
    [[ -z "${DATABASE_URL:-}" ]] || die "DATABASE_URL is set: that server's disk is not this machine's"
    PGBIN="$(pg_bin)" || die "pg_test_fsync not found: no Postgres server binaries in /usr/lib/postgresql/*/bin"
    mkdir -p "$PG_DIR"
    probe="$PG_DIR/fsync-test"
    trap 'rm -f "$probe"' EXIT
    # The first fdatasync line is the one-8-kB-write test.
    "$PGBIN/pg_test_fsync" -s 1 -f "$probe" | awk '$1 == "fdatasync" { printf "%d\n", $2; exit }'
    ;;
  *) sed -n '2,21p' "$0" >&2; exit 2 ;;
esac
