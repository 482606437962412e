import type { DataSource } from 'typeorm';
import { createDataSource, LedgerRepository } from '../../../libs/db';
import { script } from './stack-env';

/**
 * A migrated database of its own, with the cpu and gpu groups, for specs that drive the ledger
 * directly: the running stack's nodes stay out of their placements.
 */
export async function createLedgerDatabase(
  prefix: string,
  poolSize = 10,
): Promise<{ dataSource: DataSource; ledger: LedgerRepository; drop: () => Promise<void> }> {
  const name = `${prefix}_${Date.now()}`;
  script('scripts/postgres.sh', ['createdb', name]);
  const dataSource = createDataSource(script('scripts/postgres.sh', ['url']).replace(/\/[^/]*$/, `/${name}`), poolSize);
  await dataSource.initialize();
  await dataSource.runMigrations();
  const ledger = new LedgerRepository(dataSource);
  await ledger.ensureWorkerGroups(['cpu', 'gpu']);
  const drop = async (): Promise<void> => {
    await dataSource.destroy();
    dropDatabase(name);
  };
  return { dataSource, ledger, drop };
}

/** Drops a database the suite created, so test runs do not pile databases up in the local cluster. */
export function dropDatabase(name: string): void {
  script('scripts/postgres.sh', ['psql', '-q', '-c', `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`]);
}
