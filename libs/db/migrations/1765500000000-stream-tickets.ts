import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The console's single-use stream tickets (ADR 0014), shared by every API replica: one replica issues a ticket,
 * whichever the stream request reaches redeems it, once. A ticket is kept by its SHA-256 only.
 */
export class StreamTickets1765500000000 implements MigrationInterface {
  name = 'StreamTickets1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE stream_tickets (
        ticket_sha256 bytea PRIMARY KEY CHECK (length(ticket_sha256) = 32),
        kind text NOT NULL CHECK (kind IN ('user', 'worker')),
        subject text NOT NULL,
        tenant_id text NOT NULL,
        scopes text[] NOT NULL,
        cross_tenant boolean NOT NULL,
        expires_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX stream_tickets_expiry ON stream_tickets (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE stream_tickets`);
  }
}
