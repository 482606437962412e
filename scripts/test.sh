#!/usr/bin/env bash
# `npm test`: provisions everything the suites need on a fresh machine, then runs unit, workflow
# and integration tests. Writes the totals to .mlis/test-summary.txt as `N passed, N failed, N skipped`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
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
# The S3 artifact store's suite runs against a real S3-compatible server (moto), stopped when the run ends.
bash scripts/s3-test-server.sh start
trap 'bash scripts/s3-test-server.sh stop' EXIT
MLIS_S3_TEST_ENDPOINT="$(bash scripts/s3-test-server.sh url)"
export MLIS_S3_TEST_ENDPOINT

status=0
# --forceExit: a failing test can leave a Temporal worker polling; CI must still end with the totals.
npx jest --runInBand --ci --forceExit --json --outputFile=.mlis/jest-results.json "$@" || status=$?

node -e '
  const r = require("./.mlis/jest-results.json");
  const skipped = r.numPendingTests + r.numTodoTests;
  // A suite that fails to load has no failed tests but must still fail the run.
  const failed = r.numFailedTests + (r.numFailedTestSuites > 0 && r.numFailedTests === 0 ? r.numFailedTestSuites : 0);
  console.log(`${r.numPassedTests} passed, ${failed} failed, ${skipped} skipped`);
' | tee "$summary"
exit "$status"
