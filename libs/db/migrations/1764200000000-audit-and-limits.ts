import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Append-only audit log (enforced by triggers, which fire for the table owner too) and the
 * per-tenant submission token buckets that every API replica shares.
 */
export class AuditAndLimits1764200000000 implements MigrationInterface {
  name = 'AuditAndLimits1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE audit_events (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        request_id text NOT NULL,
        actor_tenant text,
        actor_subject text,
        target_tenant text,
        action text NOT NULL,
        resource text NOT NULL,
        result text NOT NULL CHECK (result IN ('allow', 'deny')),
        reason text
      )`);
    // Newest first is the only order read; each filter gets a leading column, id breaks ties for the cursor.
    await q.query(`CREATE INDEX audit_events_newest ON audit_events (id DESC)`);
    await q.query(`CREATE INDEX audit_events_by_action ON audit_events (action, id DESC)`);
    await q.query(`CREATE INDEX audit_events_by_actor_tenant ON audit_events (actor_tenant, id DESC)`);
    await q.query(`CREATE INDEX audit_events_by_target_tenant ON audit_events (target_tenant, id DESC)`);
    await q.query(`CREATE INDEX audit_events_by_at ON audit_events (at)`);
    await q.query(`CREATE INDEX audit_events_denials ON audit_events (id DESC) WHERE result = 'deny'`);

    // Triggers are not bypassed by ownership (only by superusers disabling them), so the app's own role
    // cannot rewrite history either.
    await q.query(`
      CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
    await q.query(`
      CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`);
    await q.query(`
      CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
      FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()`);

    // One token bucket per tenant: capacity = submit_rate_per_minute, refilled continuously; taken with one upsert.
    await q.query(`
      CREATE TABLE tenant_submit_buckets (
        tenant_id text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
        tokens double precision NOT NULL CHECK (tokens >= 0),
        refilled_at timestamptz NOT NULL,
        last_admitted boolean NOT NULL
      )`);
    // Counting a tenant's waiting jobs for max_queued_jobs.
    await q.query(`CREATE INDEX jobs_queued_by_tenant ON jobs (tenant_id) WHERE state = 'QUEUED'`);
    await q.query(`ALTER TABLE tenants ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tenants DROP COLUMN updated_at`);
    await q.query(`DROP INDEX jobs_queued_by_tenant`);
    await q.query(`DROP TABLE tenant_submit_buckets`);
    // The row and statement triggers go with the table.
    await q.query(`DROP TABLE audit_events`);
    await q.query(`DROP FUNCTION audit_events_append_only()`);
  }
}
