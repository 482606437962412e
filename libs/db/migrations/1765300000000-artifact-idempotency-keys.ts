import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An upload may carry an Idempotency-Key, one per tenant: repeating the upload returns the artifact it made
 * (a CLI submission retried with its key uploads its input again). The key is free again once its artifact is deleted.
 */
export class ArtifactIdempotencyKeys1765300000000 implements MigrationInterface {
  name = 'ArtifactIdempotencyKeys1765300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE artifacts ADD COLUMN idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 200)`);
    await q.query(`ALTER TABLE artifacts ADD CONSTRAINT artifacts_idempotency_key_per_tenant UNIQUE (tenant_id, idempotency_key)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE artifacts DROP COLUMN idempotency_key`);
  }
}
