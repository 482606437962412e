import type { DataSource } from 'typeorm';
import { createDataSource } from '@mlis/db';
import { script } from './stack';

/** Runs scripts/postgres.sh with `args`; its trimmed output. */
export function postgres(...args: string[]): string {
  return script('scripts/postgres.sh', args);
}

function postgresUp(): boolean {
  try {
    postgres('status');
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts the local cluster unless it is up, and refuses one that commits without flushing: the test suites start it
 * that way (MLIS_PG_FAST) and a running cluster keeps its settings, so a benchmark after them would measure a Postgres
 * unlike the README's stack, and its figures would not compare with earlier runs. Returns what stops the cluster again
 * if this call started it; one that was up (a developer's `npm run up`) stays up, as after the integration suite.
 */
export function startDurablePostgres(): () => void {
  const wasUp = postgresUp();
  postgres('start');
  if (postgres('psql', '-At', '-c', 'SHOW fsync') !== 'on') {
    throw new Error('the local Postgres runs with fsync off (a test suite started it): stop it with `bash scripts/postgres.sh stop` and run again');
  }
  return () => {
    if (!wasUp) postgres('stop');
  };
}

/**
 * Creates database `name` on the local cluster, migrates it as the owner (a benchmark works on a ledger of its own),
 * runs `work` on a `poolSize`-connection DataSource to it, and drops it again, whatever `work` did.
 */
export async function withBenchDatabase<T>(name: string, poolSize: number, work: (dataSource: DataSource, url: string) => Promise<T>): Promise<T> {
  postgres('createdb', name);
  const url = postgres('owner-url').replace(/\/[^/]*$/, `/${name}`);
  const dataSource = createDataSource(url, poolSize);
  try {
    await dataSource.initialize();
    await dataSource.runMigrations({ transaction: 'each' });
    return await work(dataSource, url);
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    postgres('psql', '-q', '-c', `DROP DATABASE IF EXISTS ${name}`);
  }
}
