#!/usr/bin/env bash
# `npm test`: provisions everything the suites need on a fresh machine, then runs unit, workflow
# and integration tests (the console's end-to-end tests in Chromium and the API fuzzing among them) and the console's
# component tests (Vitest). Writes the totals to .mlis/test-summary.txt as `N passed, N failed, N skipped`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LOG_TAG=test
source scripts/lib.sh
use_mlis_node
mkdir -p .mlis
summary=.mlis/test-summary.txt
rm -f "$summary"

bash scripts/install-deps.sh
npm run --silent build
npm run --silent lint
# Provision once up front so no suite pays for a cold install inside a test timeout.
MLIS_TEST_SERVER="$(bash temporal/install-test-server.sh)"
export MLIS_TEST_SERVER
bash temporal/install-cli.sh >/dev/null
# The `inference` model: unit specs load it, and the stack's nodes run it.
MLIS_MODEL_DIR="$(bash scripts/install-model.sh)"
export MLIS_MODEL_DIR
# promtool (metrics and dashboard checks), kustomize and kubernetes-validate (manifest checks), schemathesis (API fuzzing).
bash scripts/install-promtool.sh >/dev/null
bash scripts/install-k8s-tools.sh >/dev/null
bash scripts/install-schemathesis.sh >/dev/null
# The S3 artifact store's suite runs against a real S3-compatible server (moto), stopped when the run ends.
bash scripts/s3-test-server.sh start
trap 'bash scripts/s3-test-server.sh stop' EXIT
MLIS_S3_TEST_ENDPOINT="$(bash scripts/s3-test-server.sh url)"
export MLIS_S3_TEST_ENDPOINT
# Debian's chromium for the console's end-to-end tests (no browser download).
bash scripts/install-chromium.sh

status=0
results=(.mlis/jest-unit-results.json .mlis/jest-integration-results.json .mlis/vitest-results.json)
rm -f "${results[@]}"
# --forceExit: a failing test can leave a Temporal worker polling; CI must still end with the totals.
# The unit, workflow and deploy specs share nothing, so they run on two workers (a third less time on two cores); the
# integration specs share one stack and run in band after them. Arguments (a path, -t) go to both runs; with them, a run
# that finds no spec of its projects passes (with none, finding no spec fails the run).
narrowed=()
(($# > 0)) && narrowed=(--passWithNoTests)
npx jest --selectProjects unit workflow deploy --maxWorkers=2 --ci --forceExit "${narrowed[@]}" --json --outputFile="${results[0]}" "$@" || status=$?
npx jest --selectProjects integration --runInBand --ci --forceExit "${narrowed[@]}" --json --outputFile="${results[1]}" "$@" || status=$?
(cd console && npx vitest run --reporter=default --reporter=json --outputFile="../${results[2]}") || status=$?

# What failed, with the start of each message, just above the totals: a CI log shown by its tail keeps it.
node -e '
  const fs = require("fs");
  const plain = (text) => text.replace(/\x1b\[[0-9;]*m/g, "");
  for (const file of process.argv.slice(1)) {
    if (!fs.existsSync(file)) continue;
    for (const suite of JSON.parse(fs.readFileSync(file, "utf8")).testResults) {
      const failed = suite.assertionResults.filter((test) => test.status === "failed");
      // A suite that failed to load has no failed test, only its message.
      const reports = failed.length > 0 ? failed.map((test) => [test.fullName, test.failureMessages.join("\n")]) : suite.status === "failed" ? [["(suite)", suite.message]] : [];
      for (const [name, message] of reports) {
        console.log(`FAILED ${suite.name.replace(process.cwd() + "/", "")} > ${name}`);
        console.log(plain(message).split("\n").slice(0, 60).map((line) => `  ${line}`).join("\n"));
      }
    }
  }
' "${results[@]}"
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const file of process.argv.slice(1)) {
    // A runner that wrote no results (it crashed) fails the run.
    if (!fs.existsSync(file)) { failed += 1; continue; }
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    passed += r.numPassedTests;
    skipped += r.numPendingTests + r.numTodoTests;
    // A suite that fails to load has no failed tests but must still fail the run.
    failed += r.numFailedTests + (r.numFailedTestSuites > 0 && r.numFailedTests === 0 ? r.numFailedTestSuites : 0);
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
' "${results[@]}" | tee "$summary"
# The totals decide as well: a failure the runners' exit codes missed still fails the run.
[[ "$(cat "$summary")" =~ ^[0-9]+\ passed,\ 0\ failed ]] || status=1
exit "$status"
