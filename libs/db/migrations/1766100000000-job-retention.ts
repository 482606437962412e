import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Finished jobs may be deleted after MLIS_JOB_RETENTION_DAYS (ADR 0036). An attempt that a deleted job preempted keeps
 * its reason ("preempted by a job of priority …") and loses only the reference to that job. Outside a transaction, so
 * the index builds concurrently and the new constraint is checked without blocking writes.
 */
export class JobRetention1766100000000 implements MigrationInterface {
  name = 'JobRetention1766100000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    // Deleting a job looks up the attempts it preempted: without an index, a scan of every attempt per job.
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS job_assignments_preempted_by`);
    await q.query(`CREATE INDEX CONCURRENTLY job_assignments_preempted_by ON job_assignments (preempted_by) WHERE preempted_by IS NOT NULL`);
    // One statement swaps the constraint; the rows, which the old one held already, are checked after it, under a weaker lock.
    await q.query(
      `ALTER TABLE job_assignments DROP CONSTRAINT job_assignments_preempted_by_fkey,
         ADD CONSTRAINT job_assignments_preempted_by_fkey FOREIGN KEY (preempted_by) REFERENCES jobs (id) ON DELETE SET NULL NOT VALID`,
    );
    await q.query(`ALTER TABLE job_assignments VALIDATE CONSTRAINT job_assignments_preempted_by_fkey`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE job_assignments DROP CONSTRAINT job_assignments_preempted_by_fkey,
         ADD CONSTRAINT job_assignments_preempted_by_fkey FOREIGN KEY (preempted_by) REFERENCES jobs (id) NOT VALID`,
    );
    await q.query(`ALTER TABLE job_assignments VALIDATE CONSTRAINT job_assignments_preempted_by_fkey`);
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS job_assignments_preempted_by`);
  }
}
