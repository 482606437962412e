#!/usr/bin/env bash
# Creates the per-install secrets, if missing: the HS256 dev signing key (user and worker tokens) and
# the worker bootstrap secret (a node presents it once, at registration). Idempotent; never prints a secret.
#
#   secrets.sh [ensure]    create what is missing, tighten modes of what exists
#   secrets.sh paths       print the two file paths
#
# Paths come from the same variables as libs/config: MLIS_AUTH_DEV_SECRET_FILE and
# MLIS_WORKER_BOOTSTRAP_SECRET_FILE, defaulting under MLIS_CONFIG_DIR (else $XDG_CONFIG_HOME/mlis, ~/.config/mlis).
set -euo pipefail
LOG_TAG=secrets
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONFIG_DIR="${MLIS_CONFIG_DIR:-${XDG_CONFIG_HOME:-$HOME/.config}/mlis}"
DEV_SECRET_FILE="${MLIS_AUTH_DEV_SECRET_FILE:-$CONFIG_DIR/dev-signing-key}"
BOOTSTRAP_SECRET_FILE="${MLIS_WORKER_BOOTSTRAP_SECRET_FILE:-$CONFIG_DIR/worker-bootstrap-secret}"

# ensure_secret FILE WHAT: 48 random bytes, base64 (64 characters), mode 0600 in a 0700 directory.
ensure_secret() {
  local file="$1" what="$2" dir tmp
  dir="$(dirname "$file")"
  if [[ ! -d "$dir" ]]; then
    mkdir -p "$dir"
    chmod 700 "$dir"
  elif [[ -n "$(find "$dir" -maxdepth 0 -perm /077)" && -O "$dir" ]]; then
    # Our own directory with group/other access: tighten it (a shared one, like /etc, is left alone).
    chmod 700 "$dir"
  fi
  if [[ -s "$file" ]]; then
    if [[ -n "$(find "$file" -maxdepth 0 -perm /077)" ]]; then
      chmod 600 "$file"
      log "$what: tightened $file to mode 0600"
    fi
    return 0
  fi
  tmp="$(umask 077 && mktemp "$dir/.secret.XXXXXX")"
  head -c 48 /dev/urandom | base64 | tr -d '\n' >"$tmp"
  chmod 600 "$tmp"
  # No clobbering: if another process created the file meanwhile, its secret wins.
  mv -n "$tmp" "$file"
  rm -f "$tmp"
  log "$what: created $file (mode 0600)"
}

case "${1:-ensure}" in
  ensure)
    ensure_secret "$DEV_SECRET_FILE" "dev signing key"
    ensure_secret "$BOOTSTRAP_SECRET_FILE" "worker bootstrap secret"
    ;;
  paths) printf '%s\n%s\n' "$DEV_SECRET_FILE" "$BOOTSTRAP_SECRET_FILE" ;;
  *) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
