import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A stream ticket keeps the `iat` of the token it was issued with, so that the stream it opens ends when that token is
 * revoked (ADR 0037). Null for a token without one, and for a ticket issued before this migration: both count as
 * revoked once their holder has a revocation, as such tokens do.
 */
export class StreamTicketTokenIssuedAt1766400000000 implements MigrationInterface {
  name = 'StreamTicketTokenIssuedAt1766400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE stream_tickets ADD COLUMN token_issued_at bigint`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE stream_tickets DROP COLUMN token_issued_at`);
  }
}
