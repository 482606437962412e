import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An upload in flight now keeps its bytes through its pending record (ADR 0061): deleting an artifact counts the
 * records of its sha256 with its rows. The table holds only uploads in flight and those a crash cut off in the last
 * day, but a delete should not read all of them. Built concurrently, outside a transaction: uploads go on meanwhile.
 */
export class PendingUploadsByContent1767100000000 implements MigrationInterface {
  name = 'PendingUploadsByContent1767100000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    // An interrupted build leaves an invalid index behind: start again from none.
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS pending_uploads_by_content`);
    await q.query(`CREATE INDEX CONCURRENTLY pending_uploads_by_content ON pending_uploads (sha256)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS pending_uploads_by_content`);
  }
}
