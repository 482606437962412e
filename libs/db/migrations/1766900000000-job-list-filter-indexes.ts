import type { MigrationInterface, QueryRunner } from 'typeorm';

const INDEXES: [name: string, definition: string][] = [
  ['jobs_tenant_task_type_newest', 'jobs (tenant_id, task_type, created_at DESC, id DESC)'],
  ['jobs_tenant_submitter_newest', 'jobs (tenant_id, submitted_by, created_at DESC, id DESC)'],
  ['jobs_tenant_group_newest', 'jobs (tenant_id, worker_group, created_at DESC, id DESC) WHERE worker_group IS NOT NULL'],
  ['job_assignments_by_node', 'job_assignments (node_id, job_id)'],
];

/**
 * What `GET /v1/jobs?task_type=` / `submitted_by=` / `worker_group=` / `node=` (and the console's filters) page through.
 * Through the tenant's newest-first index alone, a filter that few jobs match read most of the tenant's rows to fill a
 * page: with a million finished jobs in one tenant, 110-160 ms a page, for a filter that matches none too; through
 * these, 2-15 ms, no more than an unfiltered page (15-17 ms). The node filter finds a rare node's attempts by node, and a common
 * node's by walking the newest jobs, as the planner judges. The three on jobs made a bulk insert of 100,000 jobs
 * 6.2 → 8.8-9.2 s (about 9 µs per index and row written; a job's row is written three or four times). Built
 * concurrently, outside a transaction, as jobs_tenant_state_newest was.
 */
export class JobListFilterIndexes1766900000000 implements MigrationInterface {
  name = 'JobListFilterIndexes1766900000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    for (const [name, definition] of INDEXES) {
      // An interrupted build leaves an invalid index behind: start again from none.
      await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
      await q.query(`CREATE INDEX CONCURRENTLY ${name} ON ${definition}`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [name] of INDEXES) await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
  }
}
