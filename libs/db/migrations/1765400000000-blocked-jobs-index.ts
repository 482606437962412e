import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The waiting jobs a cycle found blocked by something other than capacity, per lane in queue order: a cycle reads a
 * window of them apart from the lane's other jobs (docs/design/scheduling.md), and without this index that read would
 * walk the whole lane to find none. The reasons are those of BLOCKED_REASONS (libs/db/scheduling/cycle-input.ts).
 */
export class BlockedJobsIndex1765400000000 implements MigrationInterface {
  name = 'BlockedJobsIndex1765400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE INDEX jobs_blocked_lanes ON jobs (tenant_id, priority, created_at, id)
      WHERE state = 'QUEUED'
        AND pending_reason IN ('quota_exceeded', 'no_nodes_registered', 'no_matching_group', 'no_live_node', 'all_nodes_draining')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX jobs_blocked_lanes`);
  }
}
