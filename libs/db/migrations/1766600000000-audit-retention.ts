import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The append-only trigger of audit_events lets one DELETE through: of a row older than the cut-off that the session set
 * in `mlis.audit_expire_before`, as `expireAuditEvents` does for `MLIS_AUDIT_RETENTION_DAYS` (ADR 0039). Only the owner
 * can delete at all (the runtime role has no DELETE privilege); UPDATE and TRUNCATE stay refused to everyone.
 */
export class AuditRetention1766600000000 implements MigrationInterface {
  name = 'AuditRetention1766600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND OLD.at < nullif(current_setting('mlis.audit_expire_before', true), '')::timestamptz THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
  }
}
