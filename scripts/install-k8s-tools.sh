#!/usr/bin/env bash
# Prints two lines: the path of a `kustomize` binary and of a `kubernetes-validate` command; logs go to stderr.
# Both are built or installed once into the machine cache from package registries only: kustomize with
# `go install` (Go module proxy), kubernetes-validate (offline Kubernetes JSON schemas) in a venv from PyPI.
set -euo pipefail
LOG_TAG=k8s-tools
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUSTOMIZE_VERSION=5.4.3
KUBERNETES_VALIDATE_VERSION=1.31.0

kustomize="$(command -v kustomize 2>/dev/null || true)"
if [[ -z "$kustomize" ]]; then
  kustomize="$MLIS_CACHE/bin/kustomize"
  if [[ ! -x "$kustomize" ]]; then
    command -v go >/dev/null || die "neither kustomize nor go is installed"
    log "building kustomize v$KUSTOMIZE_VERSION into $MLIS_CACHE/bin (a few minutes the first time)"
    mkdir -p "$MLIS_CACHE/bin"
    GOBIN="$MLIS_CACHE/bin" go install "sigs.k8s.io/kustomize/kustomize/v5@v$KUSTOMIZE_VERSION" >&2
  fi
fi

venv="$MLIS_CACHE/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
if [[ ! -x "$venv/bin/kubernetes-validate" ]]; then
  log "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
fi
printf '%s\n%s\n' "$kustomize" "$venv/bin/kubernetes-validate"
