import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When a node incarnation told the API it was stopping (`POST /v1/internal/nodes/:id/leave`): a DEAD node with it left on
 * purpose (a rollout, a scale-down), one without it went silent. Cleared when the node registers again.
 */
export class NodeLeftAt1765700000000 implements MigrationInterface {
  name = 'NodeLeftAt1765700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE nodes ADD COLUMN left_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE nodes DROP COLUMN left_at`);
  }
}
