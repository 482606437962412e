import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Revoked user tokens, by holder: every token of `subject` in `tenant_id` issued at or before `revoked_at` is refused
 * (ADR 0037). No foreign key to tenants: a token may name a tenant that does not exist, and can be revoked all the same.
 */
export class TokenRevocations1766300000000 implements MigrationInterface {
  name = 'TokenRevocations1766300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE token_revocations (
        tenant_id text NOT NULL,
        subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 256),
        revoked_at timestamptz NOT NULL,
        revoked_by text NOT NULL,
        PRIMARY KEY (tenant_id, subject)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE token_revocations`);
  }
}
