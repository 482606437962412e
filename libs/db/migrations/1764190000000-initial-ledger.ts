import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Tenants, worker groups, nodes with capacity counters, jobs, assignments, GPU reservations. */
export class InitialLedger1764190000000 implements MigrationInterface {
  name = 'InitialLedger1764190000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tenants (
        id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
        name text NOT NULL,
        max_running_jobs integer CHECK (max_running_jobs >= 0),
        max_queued_jobs integer CHECK (max_queued_jobs >= 0),
        max_gpus integer CHECK (max_gpus >= 0),
        submit_rate_per_minute integer CHECK (submit_rate_per_minute >= 0),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`INSERT INTO tenants (id, name) VALUES ('default', 'Default tenant')`);

    await q.query(`
      CREATE TABLE worker_groups (
        name text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
        description text NOT NULL DEFAULT '',
        lease_seconds integer CHECK (lease_seconds > 0),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);

    // used_* counters live next to capacity so the database itself refuses over-commit.
    await q.query(`
      CREATE TABLE nodes (
        id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
        group_name text NOT NULL REFERENCES worker_groups (name),
        hostname text NOT NULL,
        pid integer NOT NULL,
        incarnation integer NOT NULL DEFAULT 1,
        status text NOT NULL CHECK (status IN ('ACTIVE', 'DRAINING', 'DEAD')),
        slots integer NOT NULL CHECK (slots > 0),
        cpu_millis integer NOT NULL CHECK (cpu_millis > 0),
        mem_mb integer NOT NULL CHECK (mem_mb > 0),
        gpu_count integer NOT NULL DEFAULT 0 CHECK (gpu_count >= 0),
        gpus jsonb NOT NULL DEFAULT '[]',
        used_slots integer NOT NULL DEFAULT 0,
        used_cpu_millis integer NOT NULL DEFAULT 0,
        used_mem_mb integer NOT NULL DEFAULT 0,
        used_gpus integer NOT NULL DEFAULT 0,
        last_seen_at timestamptz NOT NULL DEFAULT now(),
        registered_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT nodes_used_slots_within_capacity CHECK (used_slots >= 0 AND used_slots <= slots),
        CONSTRAINT nodes_used_cpu_within_capacity CHECK (used_cpu_millis >= 0 AND used_cpu_millis <= cpu_millis),
        CONSTRAINT nodes_used_mem_within_capacity CHECK (used_mem_mb >= 0 AND used_mem_mb <= mem_mb),
        CONSTRAINT nodes_used_gpus_within_capacity CHECK (used_gpus >= 0 AND used_gpus <= gpu_count)
      )`);

    await q.query(`
      CREATE TABLE jobs (
        id uuid PRIMARY KEY,
        tenant_id text NOT NULL REFERENCES tenants (id),
        submitted_by text NOT NULL,
        task_type text NOT NULL,
        params jsonb NOT NULL DEFAULT '{}',
        cpu_millis integer NOT NULL CHECK (cpu_millis >= 0),
        mem_mb integer NOT NULL CHECK (mem_mb >= 0),
        gpu integer NOT NULL CHECK (gpu >= 0),
        priority integer NOT NULL DEFAULT 0,
        state text NOT NULL CHECK (state IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
        pending_reason text,
        pending_detail text,
        attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        max_attempts integer NOT NULL CHECK (max_attempts >= 1),
        timeout_seconds integer NOT NULL CHECK (timeout_seconds >= 1),
        idempotency_key text,
        result jsonb,
        error jsonb,
        request_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        CONSTRAINT jobs_idempotency_key_per_tenant UNIQUE (tenant_id, idempotency_key)
      )`);
    await q.query(`CREATE INDEX jobs_tenant_newest ON jobs (tenant_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX jobs_waiting_order ON jobs (priority DESC, created_at, id) WHERE state = 'QUEUED'`);

    await q.query(`
      CREATE TABLE job_assignments (
        id uuid PRIMARY KEY,
        job_id uuid NOT NULL REFERENCES jobs (id),
        attempt integer NOT NULL CHECK (attempt >= 1),
        node_id text NOT NULL REFERENCES nodes (id),
        node_incarnation integer NOT NULL,
        group_name text NOT NULL,
        gpu_ids integer[] NOT NULL DEFAULT '{}',
        slots integer NOT NULL,
        cpu_millis integer NOT NULL,
        mem_mb integer NOT NULL,
        state text NOT NULL CHECK (state IN ('PLACED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'LOST', 'CANCELLED')),
        reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        ended_at timestamptz,
        CONSTRAINT job_assignments_one_per_attempt UNIQUE (job_id, attempt)
      )`);
    await q.query(`CREATE INDEX job_assignments_live_by_node ON job_assignments (node_id) WHERE state IN ('PLACED', 'RUNNING')`);

    // One GPU id, one assignment: the primary key makes a double booking impossible.
    await q.query(`
      CREATE TABLE gpu_reservations (
        node_id text NOT NULL REFERENCES nodes (id),
        gpu_index integer NOT NULL CHECK (gpu_index >= 0),
        assignment_id uuid NOT NULL REFERENCES job_assignments (id),
        PRIMARY KEY (node_id, gpu_index)
      )`);
    await q.query(`CREATE INDEX gpu_reservations_by_assignment ON gpu_reservations (assignment_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE gpu_reservations`);
    await q.query(`DROP TABLE job_assignments`);
    await q.query(`DROP TABLE jobs`);
    await q.query(`DROP TABLE nodes`);
    await q.query(`DROP TABLE worker_groups`);
    await q.query(`DROP TABLE tenants`);
  }
}
