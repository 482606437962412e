import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The host and pid of the node process an assignment was placed on, written by the placement itself: a node
 * that restarts registers a new pid, and an attempt's history must keep naming the process that had it.
 */
export class AssignmentProcess1764900000000 implements MigrationInterface {
  name = 'AssignmentProcess1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE job_assignments ADD COLUMN node_hostname text, ADD COLUMN node_pid integer`);
    // Earlier attempts: the registration of the same incarnation is the best record there is; older ones stay null.
    await q.query(`
      UPDATE job_assignments a SET node_hostname = n.hostname, node_pid = n.pid
      FROM nodes n WHERE n.id = a.node_id AND n.incarnation = a.node_incarnation`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE job_assignments DROP COLUMN node_hostname, DROP COLUMN node_pid`);
  }
}
