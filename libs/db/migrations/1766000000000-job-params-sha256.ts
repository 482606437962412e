import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The sha256 of a job's params when they were stored as an artifact: an Idempotency-Key repeat compares its params with
 * it, also once retention has deleted that artifact (it read the artifact's row before, and answered 409 when it was
 * gone). Jobs whose params artifact still exists take its sha256. Outside a transaction: the column comes at once, and
 * filling it locks only the rows it fills.
 */
export class JobParamsSha2561766000000000 implements MigrationInterface {
  name = 'JobParamsSha2561766000000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN IF NOT EXISTS params_sha256 text`);
    await q.query(`UPDATE jobs j SET params_sha256 = a.sha256 FROM artifacts a WHERE a.id = j.params_artifact_id AND j.params_sha256 IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs DROP COLUMN IF EXISTS params_sha256`);
  }
}
