import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Stamps every node row with the transaction that last changed what the scheduler reads about it
 * (shape, status, incarnation, usage counters), so a scheduler can re-read only the rows changed since
 * its previous read: those whose stamp was not visible in that read's snapshot (ADR 0010).
 * Heartbeats (last_seen_at alone) do not stamp: liveness is read separately each cycle.
 */
export class NodeChangeTracking1764400000000 implements MigrationInterface {
  name = 'NodeChangeTracking1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE nodes ADD COLUMN change_xid xid8 NOT NULL DEFAULT pg_current_xact_id()`);
    await q.query(`
      CREATE FUNCTION nodes_stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.change_xid := pg_current_xact_id();
        RETURN NEW;
      END $$`);
    // Every write of a GPU reservation also updates its node's counters in the same transaction,
    // so the node's stamp covers its reservations too.
    await q.query(`
      CREATE TRIGGER nodes_stamp_change BEFORE INSERT OR UPDATE OF
        group_name, incarnation, status, slots, cpu_millis, mem_mb, gpu_count, gpus, labels,
        used_slots, used_cpu_millis, used_mem_mb, used_gpus
      ON nodes FOR EACH ROW EXECUTE FUNCTION nodes_stamp_change()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER nodes_stamp_change ON nodes`);
    await q.query(`DROP FUNCTION nodes_stamp_change()`);
    await q.query(`ALTER TABLE nodes DROP COLUMN change_xid`);
  }
}
