import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When a tenant's artifacts last changed (one added or deleted), for the event stream's `artifact` event: the console's
 * Artifacts page refreshes on it. A row a tenant, written in the transaction of the change.
 */
export class ArtifactChanges1767400000000 implements MigrationInterface {
  name = 'ArtifactChanges1767400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE artifact_changes (
        tenant_id text PRIMARY KEY REFERENCES tenants (id),
        changed_at timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE artifact_changes`);
  }
}
