import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A ticket may open one download instead of the event stream (ADR 0063): `opens` names it (`artifact/<id>` or
 * `job-result/<id>`); null is a stream ticket, as every ticket was before. The table keeps its name: an API of the
 * release before, during a rolling upgrade, still reads and writes it.
 */
export class DownloadTickets1767300000000 implements MigrationInterface {
  name = 'DownloadTickets1767300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE stream_tickets ADD COLUMN opens text`);
  }

  async down(q: QueryRunner): Promise<void> {
    // A download ticket left behind must not become a stream ticket.
    await q.query(`DELETE FROM stream_tickets WHERE opens IS NOT NULL`);
    await q.query(`ALTER TABLE stream_tickets DROP COLUMN opens`);
  }
}
