import type { Pool, PoolClient } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';

/** Runs a statement as a named prepared statement, by name and text; returns its rows (UPDATE … RETURNING included). */
export type PreparedQuery = <T>(name: string, text: string, values?: unknown[]) => Promise<T[]>;

/**
 * Prepared statements on the connection of a transaction's entity manager. Statements that run every scheduling
 * cycle go through here: Postgres parses each once per connection instead of on every run, and with the cycle's
 * `plan_cache_mode` plans it once too, which for the cycle's larger statements cost as much as running them
 * (ADRs 0010, 0054). A name must always come with the same text.
 */
export function preparedOn(m: EntityManager): PreparedQuery {
  if (!m.queryRunner) throw new Error('prepared statements need a transaction entity manager');
  const runner = m.queryRunner;
  return async <T>(name: string, text: string, values: unknown[] = []): Promise<T[]> => {
    const client = (await runner.connect()) as PoolClient;
    return (await client.query({ name, text, values })).rows as T[];
  };
}

/**
 * Prepared statements outside a transaction, each on whichever pooled connection is free, which prepares it the
 * first time it runs there. For the statements every job runs, whose planning Postgres would otherwise repeat at
 * every run: a job's read with its attempts took longer to plan than to run (0.87 against 0.21 ms, ADR 0054).
 */
export function preparedOnPool(dataSource: DataSource): PreparedQuery {
  return async <T>(name: string, text: string, values: unknown[] = []): Promise<T[]> => {
    // TypeORM's Postgres driver keeps node-postgres's pool as `master` (no replication configured), once initialised.
    const pool = (dataSource.driver as unknown as { master?: Pool }).master;
    if (!pool) throw new Error('prepared statements need an initialised data source');
    return (await pool.query({ name, text, values })).rows as T[];
  };
}
