import type { PoolClient } from 'pg';
import type { EntityManager } from 'typeorm';

/** Runs a statement as a named prepared statement, by name and text; returns its rows (UPDATE … RETURNING included). */
export type PreparedQuery = <T>(name: string, text: string, values?: unknown[]) => Promise<T[]>;

/**
 * Prepared statements on the connection of a transaction's entity manager. Statements that run every
 * scheduling cycle go through here: Postgres parses and plans each once per connection instead of on
 * every run, which for the cycle's larger statements costs as much as running them.
 * A name must always come with the same text.
 */
export function preparedOn(m: EntityManager): PreparedQuery {
  if (!m.queryRunner) throw new Error('prepared statements need a transaction entity manager');
  const runner = m.queryRunner;
  return async <T>(name: string, text: string, values: unknown[] = []): Promise<T[]> => {
    const client = (await runner.connect()) as PoolClient;
    return (await client.query({ name, text, values })).rows as T[];
  };
}
