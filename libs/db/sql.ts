import type { EntityManager } from 'typeorm';

/** A data source or a transaction's entity manager: what runs a statement. */
export type Queryable = Pick<EntityManager, 'query'>;

/** Runs an UPDATE or DELETE … RETURNING: TypeORM answers those with [rows, affected] instead of rows. */
export async function updateReturning<T>(db: Queryable, sql: string, params: unknown[]): Promise<T[]> {
  const [rows] = (await db.query(sql, params)) as [T[], number];
  return rows;
}
