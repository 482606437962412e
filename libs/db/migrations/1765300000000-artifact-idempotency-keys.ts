import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An upload may carry an Idempotency-Key, one per tenant: repeating the upload returns the artifact it made
 * (a CLI submission retried with its key uploads its input again). The key is free again once its artifact is deleted.
 * The unique index is built concurrently, outside a transaction, so artifacts stay readable while it builds; the
 * column comes without a default or a check, so adding it rewrites and scans nothing (the API bounds the key).
 */
export class ArtifactIdempotencyKeys1765300000000 implements MigrationInterface {
  name = 'ArtifactIdempotencyKeys1765300000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE artifacts ADD COLUMN IF NOT EXISTS idempotency_key text`);
    // An interrupted build leaves an invalid index behind: start again from none.
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS artifacts_idempotency_key_per_tenant`);
    await q.query(
      `CREATE UNIQUE INDEX CONCURRENTLY artifacts_idempotency_key_per_tenant ON artifacts (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS artifacts_idempotency_key_per_tenant`);
    await q.query(`ALTER TABLE artifacts DROP COLUMN IF EXISTS idempotency_key`);
  }
}
