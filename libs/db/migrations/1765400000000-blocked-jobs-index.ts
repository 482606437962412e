import type { MigrationInterface, QueryRunner } from 'typeorm';

const BLOCKED = `pending_reason IN ('quota_exceeded', 'no_nodes_registered', 'no_matching_group', 'no_live_node', 'all_nodes_draining')`;

/**
 * A cycle reads each lane's waiting jobs in two windows: those the last cycle found blocked by something other than
 * capacity, and the others (docs/design/scheduling.md). Each window has its own partial index in queue order, so that
 * neither read walks past the other's rows, however many there are. The reasons are BLOCKED_REASONS
 * (libs/db/scheduling/cycle-input.ts); the predicates are the ones the cycle's read states, so the planner can use them.
 * Built concurrently, outside a transaction: jobs stays open to submissions and cycles while they build.
 */
export class BlockedJobsIndex1765400000000 implements MigrationInterface {
  name = 'BlockedJobsIndex1765400000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    // An interrupted build leaves an invalid index behind: start again from none.
    for (const [index, predicate] of [
      ['jobs_blocked_lanes', BLOCKED],
      ['jobs_unblocked_lanes', `(pending_reason IS NULL OR NOT ${BLOCKED})`],
    ]) {
      await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${index}`);
      await q.query(`CREATE INDEX CONCURRENTLY ${index} ON jobs (tenant_id, priority, created_at, id) WHERE state = 'QUEUED' AND ${predicate}`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS jobs_blocked_lanes`);
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS jobs_unblocked_lanes`);
  }
}
