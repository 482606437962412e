import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Scheduling: tenant weights for fair share, node labels, job selectors and preemption opt-in,
 * the PREEMPTED assignment state, an index per (tenant, priority) lane, per-tenant usage counters,
 * the last cycle's queue order, and decision counters.
 */
export class Scheduling1764300000000 implements MigrationInterface {
  name = 'Scheduling1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tenants ADD COLUMN weight integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 1000)`);

    await q.query(`ALTER TABLE nodes ADD COLUMN labels jsonb NOT NULL DEFAULT '{}'`);

    await q.query(`
      ALTER TABLE jobs
        ADD COLUMN worker_group text,
        ADD COLUMN node_selector jsonb NOT NULL DEFAULT '{}',
        ADD COLUMN gpu_model text,
        ADD COLUMN gpu_memory_mb integer CHECK (gpu_memory_mb >= 0),
        ADD COLUMN priority_class text,
        ADD COLUMN may_preempt boolean NOT NULL DEFAULT false`);
    // The scheduler reads the head of each (tenant, priority) lane, never the whole queue.
    await q.query(`CREATE INDEX jobs_queue_lanes ON jobs (tenant_id, priority, created_at, id) WHERE state = 'QUEUED'`);
    await q.query(`DROP INDEX jobs_waiting_order`);

    await q.query(`ALTER TABLE job_assignments DROP CONSTRAINT job_assignments_state_check`);
    await q.query(`
      ALTER TABLE job_assignments
        ADD CONSTRAINT job_assignments_state_check
          CHECK (state IN ('PLACED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'LOST', 'CANCELLED', 'PREEMPTED')),
        ADD COLUMN preempt_requested_at timestamptz,
        ADD COLUMN preempted_by uuid REFERENCES jobs (id)`);
    await q.query(`CREATE INDEX job_assignments_live ON job_assignments (job_id) WHERE state IN ('PLACED', 'RUNNING')`);

    // What each tenant's live assignments hold, kept next to the node counters by the same transactions:
    // fair share and quotas read one row per tenant instead of summing every live assignment.
    await q.query(`
      CREATE TABLE tenant_usage (
        tenant_id text PRIMARY KEY REFERENCES tenants (id),
        running_jobs integer NOT NULL DEFAULT 0 CHECK (running_jobs >= 0),
        cpu_millis bigint NOT NULL DEFAULT 0 CHECK (cpu_millis >= 0),
        mem_mb bigint NOT NULL DEFAULT 0 CHECK (mem_mb >= 0),
        gpus integer NOT NULL DEFAULT 0 CHECK (gpus >= 0)
      )`);
    await q.query(`
      INSERT INTO tenant_usage (tenant_id, running_jobs, cpu_millis, mem_mb, gpus)
      SELECT j.tenant_id, count(*), sum(a.cpu_millis), sum(a.mem_mb), sum(cardinality(a.gpu_ids))
      FROM job_assignments a JOIN jobs j ON j.id = a.job_id
      WHERE a.state IN ('PLACED', 'RUNNING')
      GROUP BY j.tenant_id`);

    // The waiting order of the last scheduling cycle, as one row: a job's queue position is its index here.
    // One small write a cycle, where a position column would rewrite every waiting row each time the front moves.
    await q.query(`
      CREATE TABLE scheduler_queue (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        job_ids uuid[] NOT NULL,
        cycle_at timestamptz NOT NULL
      )`);

    // Placement decisions by outcome and reason, shared by every process that runs a cycle (for /metrics).
    await q.query(`
      CREATE TABLE scheduler_decisions (
        outcome text NOT NULL CHECK (outcome IN ('placed', 'waiting', 'preempted')),
        reason text NOT NULL,
        total bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (outcome, reason)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE scheduler_decisions`);
    await q.query(`DROP TABLE scheduler_queue`);
    await q.query(`DROP TABLE tenant_usage`);
    await q.query(`DROP INDEX job_assignments_live`);
    await q.query(`ALTER TABLE job_assignments DROP COLUMN preempted_by, DROP COLUMN preempt_requested_at`);
    await q.query(`ALTER TABLE job_assignments DROP CONSTRAINT job_assignments_state_check`);
    await q.query(`
      ALTER TABLE job_assignments ADD CONSTRAINT job_assignments_state_check
        CHECK (state IN ('PLACED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'LOST', 'CANCELLED'))`);
    await q.query(`CREATE INDEX jobs_waiting_order ON jobs (priority DESC, created_at, id) WHERE state = 'QUEUED'`);
    await q.query(`DROP INDEX jobs_queue_lanes`);
    await q.query(`
      ALTER TABLE jobs DROP COLUMN may_preempt, DROP COLUMN priority_class,
        DROP COLUMN gpu_memory_mb, DROP COLUMN gpu_model, DROP COLUMN node_selector, DROP COLUMN worker_group`);
    await q.query(`ALTER TABLE nodes DROP COLUMN labels`);
    await q.query(`ALTER TABLE tenants DROP COLUMN weight`);
  }
}
