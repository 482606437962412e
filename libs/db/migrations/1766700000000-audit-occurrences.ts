import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * How many refusals an audit row stands for (ADR 0040): 1 for every row but the summary the API writes when one caller
 * is refused the same way more often than `MLIS_AUDIT_DENIALS_PER_MINUTE` allows. A constant default: no rewrite of the
 * table, only a scan that checks the constraint.
 */
export class AuditOccurrences1766700000000 implements MigrationInterface {
  name = 'AuditOccurrences1766700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE audit_events ADD COLUMN occurrences integer NOT NULL DEFAULT 1 CONSTRAINT audit_events_occurrences_positive CHECK (occurrences >= 1)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE audit_events DROP COLUMN occurrences`);
  }
}
