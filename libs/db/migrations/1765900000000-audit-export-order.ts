import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each audit row keeps the transaction that wrote it, so `GET /v1/audit/export` can hand out rows in an order no later
 * commit can slip into (ADR 0035). Rows from before this migration get 0: they are all committed, and come first, by id.
 * Outside a transaction, so the index builds concurrently while the API keeps writing audit rows.
 */
export class AuditExportOrder1765900000000 implements MigrationInterface {
  name = 'AuditExportOrder1765900000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    // One statement: the existing rows take the constant 0 without the table being rewritten, every later insert its xid.
    await q.query(`ALTER TABLE audit_events ADD COLUMN IF NOT EXISTS xid xid8 NOT NULL DEFAULT '0', ALTER COLUMN xid SET DEFAULT pg_current_xact_id()`);
    // An interrupted build leaves an invalid index behind: start again from none.
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS audit_events_export_order`);
    await q.query(`CREATE INDEX CONCURRENTLY audit_events_export_order ON audit_events (xid, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS audit_events_export_order`);
    await q.query(`ALTER TABLE audit_events DROP COLUMN IF EXISTS xid`);
  }
}
