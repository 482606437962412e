import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When a node went: DEAD, or said it was leaving (`gone_at`, set with either and cleared by registering again). The
 * withdrawal of its unstarted placements (ADR 0038) and its deletion after the retention (ADR 0034) count from it, not
 * from `updated_at`, which every release of an attempt on the node moves on. Rows already gone take their last change,
 * the best record there is of when they went.
 */
export class NodeGoneAt1766800000000 implements MigrationInterface {
  name = 'NodeGoneAt1766800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE nodes ADD COLUMN gone_at timestamptz`);
    await q.query(`UPDATE nodes SET gone_at = COALESCE(left_at, updated_at) WHERE status = 'DEAD' OR left_at IS NOT NULL`);
    await q.query(`ALTER TABLE nodes ADD CONSTRAINT nodes_gone_at_when_gone CHECK ((gone_at IS NOT NULL) = (status = 'DEAD' OR left_at IS NOT NULL))`);
    await q.query(`DROP INDEX nodes_dead_since`);
    await q.query(`CREATE INDEX nodes_dead_since ON nodes (gone_at) WHERE status = 'DEAD'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX nodes_dead_since`);
    await q.query(`CREATE INDEX nodes_dead_since ON nodes (updated_at) WHERE status = 'DEAD'`);
    await q.query(`ALTER TABLE nodes DROP COLUMN gone_at`);
  }
}
