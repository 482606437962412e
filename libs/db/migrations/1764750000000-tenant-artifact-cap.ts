import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A tenant's own artifact upload cap, in bytes; null: the configured MLIS_ARTIFACTS_MAX_BYTES alone applies. */
export class TenantArtifactCap1764750000000 implements MigrationInterface {
  name = 'TenantArtifactCap1764750000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tenants ADD COLUMN max_artifact_bytes bigint CHECK (max_artifact_bytes >= 0)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tenants DROP COLUMN max_artifact_bytes`);
  }
}
