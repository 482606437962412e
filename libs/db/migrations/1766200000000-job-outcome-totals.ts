import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * How many of each tenant's jobs ever ended in each final state, kept by a trigger as jobs end: `mlis_jobs` reads these
 * totals instead of counting every job at each scrape (80 ms with a million jobs), and they do not fall when retention
 * deletes old jobs (ADR 0036).
 */
export class JobOutcomeTotals1766200000000 implements MigrationInterface {
  name = 'JobOutcomeTotals1766200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE job_outcomes (
        tenant_id text NOT NULL REFERENCES tenants (id),
        state text NOT NULL CHECK (state IN ('SUCCEEDED', 'FAILED', 'CANCELLED')),
        total bigint NOT NULL CHECK (total >= 0),
        PRIMARY KEY (tenant_id, state)
      )`);
    await q.query(`
      CREATE FUNCTION jobs_count_outcome() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO job_outcomes AS o (tenant_id, state, total) VALUES (NEW.tenant_id, NEW.state, 1)
        ON CONFLICT (tenant_id, state) DO UPDATE SET total = o.total + 1;
        RETURN NULL;
      END $$`);
    // The trigger first: creating it locks out writes to jobs until this migration commits, so the count below and
    // the trigger's increments neither miss nor double a job that ends meanwhile.
    await q.query(`
      CREATE TRIGGER jobs_count_outcome AFTER UPDATE OF state ON jobs FOR EACH ROW
      WHEN (NEW.state IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND OLD.state NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED'))
      EXECUTE FUNCTION jobs_count_outcome()`);
    await q.query(`
      INSERT INTO job_outcomes (tenant_id, state, total)
      SELECT tenant_id, state, count(*) FROM jobs WHERE state IN ('SUCCEEDED', 'FAILED', 'CANCELLED') GROUP BY tenant_id, state`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER jobs_count_outcome ON jobs`);
    await q.query(`DROP FUNCTION jobs_count_outcome()`);
    await q.query(`DROP TABLE job_outcomes`);
  }
}
