import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each audit row keeps the transaction that wrote it, so `GET /v1/audit/export` can hand out rows in an order no later
 * commit can slip into (ADR 0035). Rows from before this migration get 0: they are all committed, and come first, by id.
 */
export class AuditExportOrder1765900000000 implements MigrationInterface {
  name = 'AuditExportOrder1765900000000';

  async up(q: QueryRunner): Promise<void> {
    // A constant default first: the existing rows take it without the table being rewritten.
    await q.query(`ALTER TABLE audit_events ADD COLUMN xid xid8 NOT NULL DEFAULT '0'`);
    await q.query(`ALTER TABLE audit_events ALTER COLUMN xid SET DEFAULT pg_current_xact_id()`);
    await q.query(`CREATE INDEX audit_events_export_order ON audit_events (xid, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX audit_events_export_order`);
    await q.query(`ALTER TABLE audit_events DROP COLUMN xid`);
  }
}
