import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Artifact metadata (the bytes live in the artifact store, addressed by sha256: several rows may share one
 * object) and which jobs use each artifact. A link to a finished job does not keep an artifact: deleting the
 * artifact removes its links.
 */
export class Artifacts1764600000000 implements MigrationInterface {
  name = 'Artifacts1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE artifacts (
        id uuid PRIMARY KEY,
        tenant_id text NOT NULL REFERENCES tenants (id),
        name text CHECK (length(name) BETWEEN 1 AND 255),
        content_type text NOT NULL CHECK (length(content_type) BETWEEN 1 AND 255),
        size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
        sha256 char(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz
      )`);
    await q.query(`CREATE INDEX artifacts_tenant_newest ON artifacts (tenant_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX artifacts_by_sha256 ON artifacts (sha256)`);
    await q.query(`CREATE INDEX artifacts_expiring ON artifacts (expires_at) WHERE expires_at IS NOT NULL`);

    await q.query(`
      CREATE TABLE job_artifacts (
        job_id uuid NOT NULL REFERENCES jobs (id),
        artifact_id uuid NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
        role text NOT NULL CHECK (role IN ('input', 'params', 'result')),
        PRIMARY KEY (job_id, artifact_id, role)
      )`);
    await q.query(`CREATE INDEX job_artifacts_by_artifact ON job_artifacts (artifact_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE job_artifacts`);
    await q.query(`DROP TABLE artifacts`);
  }
}
