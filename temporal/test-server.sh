#!/usr/bin/env bash
# Runs Temporal's Java time-skipping test server on 127.0.0.1: `test-server.sh <port> [--enable-time-skipping]`.
# @temporalio/testing spawns this (server.executable 'existing-path'), waits only ~5 s for the port, and
# stops it with SIGKILL, so the JVM must start fast and must replace this shell (exec).
# Needs temporal/install-test-server.sh to have run once (classpath and CDS archive in the machine cache).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(sed -n 's:.*<temporal.version>\(.*\)</temporal.version>.*:\1:p' "$here/test-server/pom.xml")"
dir="${MLIS_CACHE_DIR:-$HOME/.cache/mlis}/temporal-test-server-$version"
if [[ ! -f "$dir/lib/temporal-test-server-$version.jar" || ! -f "$dir/loopback-test-server.jar" ]]; then
  echo "test-server.sh: $dir is not installed; run temporal/install-test-server.sh" >&2
  exit 1
fi
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"

# C1 only, serial GC, small heap and stacks: start-up time matters more than peak throughput here.
flags=(-XX:TieredStopAtLevel=1 -XX:CICompilerCount=1 -XX:+UseSerialGC -XX:-UsePerfData
  -Xss512k -Xms64m -Xmx384m)
archive="$dir/loopback-test-server.jsa"
if [[ -n "${MLIS_TEST_SERVER_DUMP_ARCHIVE:-}" ]]; then
  # Used by install-test-server.sh: record the classes loaded during this run into a dynamic CDS archive.
  flags+=(-XX:ArchiveClassesAtExit="$MLIS_TEST_SERVER_DUMP_ARCHIVE")
elif [[ -f "$archive" ]]; then
  # auto: a stale archive (other JDK or classpath) is ignored rather than fatal, and quietly.
  flags+=(-XX:SharedArchiveFile="$archive" -Xshare:auto -Xlog:cds=off -Xlog:cds+dynamic=off)
fi

exec "$java" "${flags[@]}" -cp "$dir/lib/*:$dir/loopback-test-server.jar" LoopbackTestServer "$@"
