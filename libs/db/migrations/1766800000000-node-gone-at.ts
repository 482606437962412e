import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When a node went: DEAD, or said it was leaving (`gone_at`). The withdrawal of its unstarted placements (ADR 0038) and
 * its deletion after the retention (ADR 0034) count from it, not from `updated_at`, which every release of an attempt
 * on the node moves on. A trigger keeps it (set by the write that makes the node gone, cleared by the one that makes it
 * live again: a new registration), so every writer agrees, the release before this one's too during an upgrade; the
 * CHECK holds it to that. Rows already gone take their last change, the best record there is of when they went.
 */
export class NodeGoneAt1766800000000 implements MigrationInterface {
  name = 'NodeGoneAt1766800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE nodes ADD COLUMN gone_at timestamptz`);
    await q.query(`UPDATE nodes SET gone_at = COALESCE(left_at, updated_at) WHERE status = 'DEAD' OR left_at IS NOT NULL`);
    await q.query(`ALTER TABLE nodes ADD CONSTRAINT nodes_gone_at_when_gone CHECK ((gone_at IS NOT NULL) = (status = 'DEAD' OR left_at IS NOT NULL))`);
    await q.query(`
      CREATE FUNCTION nodes_stamp_gone() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.status <> 'DEAD' AND NEW.left_at IS NULL THEN
          NEW.gone_at := NULL;
        ELSIF TG_OP = 'INSERT' OR (OLD.status <> 'DEAD' AND OLD.left_at IS NULL) THEN
          NEW.gone_at := COALESCE(NEW.gone_at, now());
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`CREATE TRIGGER nodes_stamp_gone BEFORE INSERT OR UPDATE OF status, left_at ON nodes FOR EACH ROW EXECUTE FUNCTION nodes_stamp_gone()`);
    await q.query(`DROP INDEX nodes_dead_since`);
    await q.query(`CREATE INDEX nodes_dead_since ON nodes (gone_at) WHERE status = 'DEAD'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX nodes_dead_since`);
    await q.query(`CREATE INDEX nodes_dead_since ON nodes (updated_at) WHERE status = 'DEAD'`);
    await q.query(`DROP TRIGGER nodes_stamp_gone ON nodes`);
    await q.query(`DROP FUNCTION nodes_stamp_gone()`);
    await q.query(`ALTER TABLE nodes DROP COLUMN gone_at`);
  }
}
