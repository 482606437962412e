import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each API process says it is up (ADR 0062): node heartbeats arrive through the APIs, so control counts a node's
 * silence only while an API was up to hear it. `up_since` is the start of the process's current unbroken run of writes.
 */
export class ApiInstances1767200000000 implements MigrationInterface {
  name = 'ApiInstances1767200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE api_instances (
        id uuid PRIMARY KEY,
        up_since timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE api_instances`);
  }
}
