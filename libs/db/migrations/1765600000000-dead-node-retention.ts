import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * DEAD nodes are deleted once they have been DEAD for the retention (ADR 0034), so nodes that left for good (every pod a
 * rollout replaced) no longer pile up in every read of all nodes.
 * - An attempt keeps the node's id, host and pid after the node row is gone: its reference is no longer a foreign key.
 *   A live attempt still names an existing node, as a node with one is never deleted.
 * - Incarnations come from one sequence, so a node registering again under the id of a deleted one still gets a higher
 *   incarnation than any process that ran under that id: a zombie of the old row stays fenced out.
 */
export class DeadNodeRetention1765600000000 implements MigrationInterface {
  name = 'DeadNodeRetention1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SEQUENCE node_incarnations AS integer OWNED BY nodes.incarnation`);
    await q.query(`SELECT setval('node_incarnations', COALESCE(max(incarnation), 0) + 1, false) FROM nodes`);
    await q.query(`ALTER TABLE nodes ALTER COLUMN incarnation SET DEFAULT nextval('node_incarnations')`);
    await q.query(`ALTER TABLE job_assignments DROP CONSTRAINT job_assignments_node_id_fkey`);
    await q.query(`CREATE INDEX nodes_dead_since ON nodes (updated_at) WHERE status = 'DEAD'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX nodes_dead_since`);
    // Attempts of deleted nodes cannot reference them again: their node rows come back DEAD, from what the attempts recorded.
    await q.query(`
      INSERT INTO nodes (id, group_name, hostname, pid, status, slots, cpu_millis, mem_mb, gpu_count, gpus, labels, incarnation)
      SELECT DISTINCT ON (a.node_id) a.node_id, a.group_name, COALESCE(a.node_hostname, ''), COALESCE(a.node_pid, 0), 'DEAD', 1, 1, 1, 0, '[]', '{}', a.node_incarnation
      FROM job_assignments a WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = a.node_id)
      ORDER BY a.node_id, a.node_incarnation DESC`);
    await q.query(`ALTER TABLE job_assignments ADD CONSTRAINT job_assignments_node_id_fkey FOREIGN KEY (node_id) REFERENCES nodes (id)`);
    await q.query(`ALTER TABLE nodes ALTER COLUMN incarnation SET DEFAULT 1`);
    await q.query(`DROP SEQUENCE node_incarnations`);
  }
}
