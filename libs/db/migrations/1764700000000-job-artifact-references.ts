import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Params and results larger than the inline threshold live in artifacts; the job row keeps only their ids.
 * No foreign key to artifacts: job_artifacts is the link that keeps a live job's artifacts from retention, and
 * a finished job's pointer may outlive its expired artifact (the result endpoint then says it expired).
 */
export class JobArtifactReferences1764700000000 implements MigrationInterface {
  name = 'JobArtifactReferences1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN params_artifact_id uuid NULL, ADD COLUMN result_artifact_id uuid NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs DROP COLUMN params_artifact_id, DROP COLUMN result_artifact_id`);
  }
}
