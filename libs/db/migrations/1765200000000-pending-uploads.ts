import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Uploads that may have put bytes in the artifact store without their row (ADR 0012). An upload records itself here
 * before it commits its bytes, and the transaction that inserts its row removes the record. A record that outlives
 * its upload names bytes that a crash kept from getting a row; retention removes those bytes if no row uses them.
 */
export class PendingUploads1765200000000 implements MigrationInterface {
  name = 'PendingUploads1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE pending_uploads (
        id uuid PRIMARY KEY,
        sha256 char(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        started_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX pending_uploads_oldest ON pending_uploads (started_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE pending_uploads`);
  }
}
