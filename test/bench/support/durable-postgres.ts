import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

// dist/test/bench/support → the repository root.
const ROOT = resolve(__dirname, '../../../..');

/**
 * Refuses a local cluster that commits without flushing. The test suites start it that way (MLIS_PG_FAST) and a
 * cluster already running keeps its settings, so a benchmark run after them would measure a Postgres unlike the
 * README's stack, and its figures would not compare with earlier runs.
 */
export function requireDurablePostgres(): void {
  const fsync = execFileSync('bash', [join(ROOT, 'scripts/postgres.sh'), 'psql', '-At', '-c', 'SHOW fsync'], { encoding: 'utf8' }).trim();
  if (fsync !== 'on') {
    throw new Error('the local Postgres runs with fsync off (a test suite started it): stop it with `bash scripts/postgres.sh stop` and run again');
  }
}
