#!/usr/bin/env bash
# Installs Temporal's Java time-skipping test server into the machine cache and prints the absolute
# path of its launcher (temporal/test-server.sh); logs go to stderr. Idempotent and cheap when done.
#   1. the classpath (version from temporal/test-server/pom.xml) from Maven Central via mvn;
#   2. LoopbackTestServer, compiled against it: the server bound to 127.0.0.1 (the SDK's main binds every interface);
#   3. a dynamic AppCDS archive, which cuts JVM start-to-listening roughly 3x (the SDK allows ~5 s).
set -euo pipefail
LOG_TAG=test-server
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

POM="$MLIS_ROOT/temporal/test-server/pom.xml"
LAUNCHER="$MLIS_ROOT/temporal/test-server.sh"
VERSION="$(sed -n 's:.*<temporal.version>\(.*\)</temporal.version>.*:\1:p' "$POM")"
[[ -n "$VERSION" ]] || die "no <temporal.version> in $POM"
DIR="$MLIS_CACHE/temporal-test-server-$VERSION"
LIB="$DIR/lib"
SOURCE="$MLIS_ROOT/temporal/test-server/LoopbackTestServer.java"
# A jar, not a class directory: a CDS archive refuses a non-empty directory on the classpath.
LAUNCHER_JAR="$DIR/loopback-test-server.jar"
# Named after the main class it was recorded with: an archive of the SDK's own main is not reused.
ARCHIVE="$DIR/loopback-test-server.jsa"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

command -v "$JAVA" >/dev/null || die "java not found; install a JDK >= 17 (e.g. apt-get install -y openjdk-17-jdk-headless)"

install_classpath() {
  [[ -f "$LIB/temporal-test-server-$VERSION.jar" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found; install Maven (e.g. apt-get install -y maven)"
  log "resolving io.temporal:temporal-test-server:$VERSION with Maven into $LIB"
  rm -rf "$LIB.tmp"
  mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIB.tmp" >&2
  # Rename last so an interrupted download is never mistaken for a complete one.
  rm -rf "$LIB"
  mv "$LIB.tmp" "$LIB"
}

install_launcher() {
  [[ -f "$LAUNCHER_JAR" && "$LAUNCHER_JAR" -nt "$SOURCE" ]] && return 0
  local jdk="${JAVA_HOME:+$JAVA_HOME/bin/}"
  command -v "${jdk}javac" >/dev/null || die "javac not found; install a JDK >= 17 (e.g. apt-get install -y openjdk-17-jdk-headless)"
  log "compiling $SOURCE"
  rm -rf "$DIR/classes.tmp" "$ARCHIVE"
  "${jdk}javac" -nowarn -d "$DIR/classes.tmp" -cp "$LIB/*" "$SOURCE" >&2
  "${jdk}jar" cf "$LAUNCHER_JAR.tmp" -C "$DIR/classes.tmp" .
  rm -rf "$DIR/classes.tmp"
  mv -f "$LAUNCHER_JAR.tmp" "$LAUNCHER_JAR"
}

# The launcher's classpath (temporal/test-server.sh): the archive holds only for the classpath it was recorded with.
archive_valid() {
  [[ -f "$ARCHIVE" ]] && "$JAVA" -Xshare:on -XX:SharedArchiveFile="$ARCHIVE" -cp "$LIB/*:$LAUNCHER_JAR" -version >/dev/null 2>&1
}

build_archive() {
  archive_valid && return 0
  log "building the CDS archive $ARCHIVE"
  local port tmp pid
  # Any free port will do for the moment the archive build needs one; a random start keeps off the usual ones.
  port="$(free_port $((20000 + RANDOM % 20000)))"
  tmp="$ARCHIVE.tmp.$$"
  rm -f "$tmp"
  MLIS_TEST_SERVER_DUMP_ARCHIVE="$tmp" "$LAUNCHER" "$port" --enable-time-skipping >"$DIR/archive-build.log" 2>&1 &
  pid=$!
  if ! wait_until 120 "test server on port $port" port_taken "$port"; then
    kill -KILL "$pid" 2>/dev/null || true
    die "the test server did not start; see $DIR/archive-build.log"
  fi
  # SIGTERM runs the JVM's exit path, which writes the archive.
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  [[ -f "$tmp" ]] || die "no archive written; see $DIR/archive-build.log"
  mv -f "$tmp" "$ARCHIVE"
  archive_valid || die "the new archive does not load; see $DIR/archive-build.log"
}

mkdir -p "$DIR"
# One installer at a time per machine.
exec 9>"$DIR/.install.lock"
flock 9
install_classpath
install_launcher
build_archive
printf '%s\n' "$LAUNCHER"
