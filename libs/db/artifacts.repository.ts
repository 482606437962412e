import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import type { JobState } from '@mlis/contracts';
import type { JobCursor } from './jobs.repository';
import { updateReturning } from './sql';

/** How a job uses an artifact: a referenced input, its own params stored aside, or the result a node uploaded. */
export type ArtifactRole = 'input' | 'params' | 'result';

export interface NewArtifact {
  id: string;
  tenantId: string;
  name: string | null;
  contentType: string;
  sizeBytes: number;
  sha256: string;
  createdBy: string;
  expiresAt: Date | null;
}

export interface ArtifactRecord extends NewArtifact {
  createdAt: Date;
  /** Keyset position in the newest-first list (the same cursor shape as jobs). */
  cursor: JobCursor;
}

export interface ArtifactListQuery {
  tenantId: string;
  limit: number;
  /** Only artifacts whose name starts with this. */
  namePrefix?: string;
  /** Only artifacts strictly after this position (older, or same time and smaller id). */
  after?: JobCursor;
}

/** An assignment that is live (PLACED or RUNNING) on the node incarnation asking, with its job. */
export interface LiveAssignment {
  assignmentId: string;
  jobId: string;
  tenantId: string;
}

/** An upload that recorded itself before committing its bytes (`recordPendingUpload`) and was not cleared yet. */
export interface PendingUpload {
  id: string;
  sha256: string;
}

interface ArtifactRow {
  id: string;
  tenant_id: string;
  name: string | null;
  content_type: string;
  size_bytes: string;
  sha256: string;
  created_by: string;
  created_at: Date;
  expires_at: Date | null;
  cursor_created_at: string;
}

// One lock per content: its advisory key, from the sha256 as the query's first parameter.
const CONTENT_LOCK = `hashtextextended('artifact-content:' || $1, 0)`;

const COLUMNS = `id, tenant_id, name, content_type, size_bytes, sha256, created_by, created_at, expires_at,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_created_at`;

/**
 * A CTE that stamps the tenant's artifact_changes row for the rows a data-modifying CTE `source` returned (their
 * `tenant_id`): the event stream tells a tenant's consoles when its artifacts changed. In the change's own statement,
 * so it commits with it.
 */
function markChangedFrom(source: string): string {
  return `changed AS (
    INSERT INTO artifact_changes (tenant_id, changed_at) SELECT DISTINCT tenant_id, clock_timestamp() FROM ${source}
    ON CONFLICT (tenant_id) DO UPDATE SET changed_at = EXCLUDED.changed_at)`;
}

// The jobs that may still read an artifact (`artifactId`, an SQL expression): deleting it now would fail them.
const jobsUsingFrom = (artifactId: string): string =>
  `FROM job_artifacts ja JOIN jobs j ON j.id = ja.job_id WHERE ja.artifact_id = ${artifactId} AND j.state IN ('QUEUED', 'RUNNING')`;
const IN_USE = `EXISTS (SELECT 1 ${jobsUsingFrom('artifacts.id')})`;

function toRecord(row: ArtifactRow): ArtifactRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    contentType: row.content_type,
    // bigint arrives as text; artifacts are capped far below 2^53.
    sizeBytes: Number(row.size_bytes),
    sha256: row.sha256,
    createdBy: row.created_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    cursor: { createdAt: row.cursor_created_at, id: row.id },
  };
}

/**
 * Artifact metadata and its links to jobs. Rows sharing a sha256 share the stored bytes, and so does an upload in
 * flight through its pending record (ADR 0061): whoever deletes the last user of a sha256, or records an upload of it,
 * holds `lockContent` for it, so "nothing uses these bytes, delete them" and "these bytes are about to be committed
 * and used" never interleave.
 */
export class ArtifactsRepository {
  constructor(private readonly dataSource: DataSource) {}

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /** Serializes the deletion of a sha256's bytes with uploads of it until the transaction ends. */
  async lockContent(manager: EntityManager, sha256: string): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock(${CONTENT_LOCK})`, [sha256]);
  }

  /**
   * Records an upload about to commit `sha256`'s bytes, under the content lock in a statement of its own: from its
   * commit on, no delete removes those bytes (it counts the record as a user), and should the upload's row never
   * commit and its own clean-up fail too (a crash), retention finds the bytes through the record. A delete under way
   * finishes first, so the upload's commit comes after the delete's.
   */
  async recordPendingUpload(sha256: string): Promise<PendingUpload> {
    const id = randomUUID();
    await this.dataSource.query(`INSERT INTO pending_uploads (id, sha256) SELECT CAST($2 AS uuid), $1 FROM (SELECT pg_advisory_xact_lock(${CONTENT_LOCK})) AS locked`, [
      sha256,
      id,
    ]);
    return { id, sha256 };
  }

  /**
   * Removes the record: in the upload's row's transaction, or once its bytes are dealt with. Returns whether it was
   * still there (retention clears the record of an upload a day old).
   */
  async clearPendingUpload(id: string, manager?: EntityManager): Promise<boolean> {
    const removed = await updateReturning<{ id: string }>(manager ?? this.dataSource.manager, `DELETE FROM pending_uploads WHERE id = $1 RETURNING id`, [id]);
    return removed.length > 0;
  }

  /** Pending uploads started before `before`, oldest first, but for the ids in `skip`. */
  async findPendingUploads(before: Date, limit: number, skip: readonly string[] = []): Promise<PendingUpload[]> {
    return this.dataSource.query(
      `SELECT id, sha256 FROM pending_uploads WHERE started_at < $1 AND NOT (id = ANY($3::uuid[])) ORDER BY started_at LIMIT $2`,
      [before, limit, skip],
    );
  }

  /** When the tenant's artifacts last changed (one added or deleted), exactly as Postgres prints it; null: never. */
  async changedAt(tenantId: string): Promise<string | null> {
    const [row] = (await this.dataSource.query(`SELECT CAST(changed_at AS text) AS at FROM artifact_changes WHERE tenant_id = $1`, [tenantId])) as {
      at: string;
    }[];
    return row?.at ?? null;
  }

  /** `idempotencyKey`: the upload's key, unique in its tenant; take `lockIdempotencyKey` first. */
  async insert(manager: EntityManager, artifact: NewArtifact, idempotencyKey: string | null = null): Promise<ArtifactRecord> {
    const rows: ArtifactRow[] = await manager.query(
      `WITH inserted AS (
         INSERT INTO artifacts (id, tenant_id, name, content_type, size_bytes, sha256, created_by, expires_at, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}
       ), ${markChangedFrom('inserted')}
       SELECT * FROM inserted`,
      [
        artifact.id,
        artifact.tenantId,
        artifact.name,
        artifact.contentType,
        artifact.sizeBytes,
        artifact.sha256,
        artifact.createdBy,
        artifact.expiresAt,
        idempotencyKey,
      ],
    );
    return toRecord(rows[0]);
  }

  /** Serializes uploads with the same key in a tenant until the transaction ends: the second one finds the first's row. */
  async lockIdempotencyKey(manager: EntityManager, tenantId: string, key: string): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('artifact-key:' || $1 || ':' || $2, 0))`, [tenantId, key]);
  }

  /**
   * Moves the artifact's expiry to `expiresAt` when that is later (null: never); returns the artifact as it now is, or
   * null when a delete took it meanwhile (the update waits for the delete's row lock, then finds no row).
   */
  async extendExpiry(manager: EntityManager, id: string, expiresAt: Date | null): Promise<ArtifactRecord | null> {
    const rows = await updateReturning<ArtifactRow>(
      manager,
      `UPDATE artifacts SET expires_at = CASE WHEN $2::timestamptz IS NULL OR expires_at IS NULL THEN NULL ELSE GREATEST(expires_at, $2) END
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, expiresAt],
    );
    return rows.length > 0 ? toRecord(rows[0]) : null;
  }

  /** The tenant's artifact uploaded with this key, while it exists. */
  async findByIdempotencyKey(tenantId: string, key: string, manager?: EntityManager): Promise<ArtifactRecord | null> {
    const rows: ArtifactRow[] = await (manager ?? this.dataSource.manager).query(
      `SELECT ${COLUMNS} FROM artifacts WHERE tenant_id = $1 AND idempotency_key = $2`,
      [tenantId, key],
    );
    return rows.length > 0 ? toRecord(rows[0]) : null;
  }

  /** The artifact, whatever its tenant: callers decide who may see it. */
  async findById(id: string, manager?: EntityManager): Promise<ArtifactRecord | null> {
    const rows: ArtifactRow[] = await (manager ?? this.dataSource.manager).query(`SELECT ${COLUMNS} FROM artifacts WHERE id = $1`, [id]);
    return rows.length > 0 ? toRecord(rows[0]) : null;
  }

  /**
   * A page of the tenant's artifacts, newest first. A name prefix filters the walk down the tenant's newest-first index
   * (`starts_with`, so no character of the prefix is a pattern): a rare prefix reads the tenant's rows until it fills
   * the page.
   */
  async list(query: ArtifactListQuery): Promise<ArtifactRecord[]> {
    const params: unknown[] = [query.tenantId, query.limit];
    const conditions = ['tenant_id = $1'];
    if (query.after) {
      params.push(query.after.createdAt, query.after.id);
      conditions.push(`(created_at, id) < (CAST($${params.length - 1} AS timestamptz), CAST($${params.length} AS uuid))`);
    }
    if (query.namePrefix !== undefined) {
      params.push(query.namePrefix);
      conditions.push(`starts_with(name, $${params.length})`);
    }
    const rows: ArtifactRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM artifacts WHERE ${conditions.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $2`,
      params,
    );
    return rows.map(toRecord);
  }

  /** Locks the row against concurrent deletes and new job links (their foreign key waits) until the transaction ends. */
  async lockForDelete(manager: EntityManager, id: string): Promise<ArtifactRecord | null> {
    const rows: ArtifactRow[] = await manager.query(`SELECT ${COLUMNS} FROM artifacts WHERE id = $1 FOR UPDATE`, [id]);
    return rows.length > 0 ? toRecord(rows[0]) : null;
  }

  /** The QUEUED or RUNNING jobs that reference the artifact (any role), oldest first, at most `limit`; and how many. */
  async jobsUsing(manager: EntityManager, id: string, limit: number): Promise<{ jobs: { id: string; state: JobState }[]; total: number }> {
    const rows: { id: string; state: JobState; total: number }[] = await manager.query(
      `SELECT j.id, j.state, count(*) OVER ()::int AS total ${jobsUsingFrom('$1')} ORDER BY j.created_at, j.id LIMIT $2`,
      [id, limit],
    );
    return { jobs: rows.map(({ id: jobId, state }) => ({ id: jobId, state })), total: rows[0]?.total ?? 0 };
  }

  /** Deletes the row (and its job links); returns how many still use its sha256 (`countContentUsers`). Hold lockContent first. */
  async delete(manager: EntityManager, artifact: Pick<ArtifactRecord, 'id' | 'sha256'>): Promise<number> {
    await manager.query(`WITH deleted AS (DELETE FROM artifacts WHERE id = $1 RETURNING tenant_id), ${markChangedFrom('deleted')} SELECT 1`, [
      artifact.id,
    ]);
    return this.countContentUsers(manager, artifact.sha256);
  }

  /**
   * The rows and the uploads in flight that use `sha256`'s bytes. One statement, one snapshot: an upload's row's
   * transaction adds the row and clears the record together, so it is counted once, before or after.
   */
  async countContentUsers(manager: EntityManager, sha256: string): Promise<number> {
    const rows: { count: number }[] = await manager.query(
      `SELECT CAST((SELECT count(*) FROM artifacts WHERE sha256 = $1) + (SELECT count(*) FROM pending_uploads WHERE sha256 = $1) AS integer) AS count`,
      [sha256],
    );
    return rows[0].count;
  }

  /** Records that `jobId` uses the artifact; linking twice in the same role is a no-op. */
  async linkToJob(manager: EntityManager, jobId: string, artifactId: string, role: ArtifactRole): Promise<void> {
    await manager.query(`INSERT INTO job_artifacts (job_id, artifact_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [jobId, artifactId, role]);
  }

  async isLinkedToJob(artifactId: string, jobId: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(`SELECT 1 FROM job_artifacts WHERE artifact_id = $1 AND job_id = $2 LIMIT 1`, [artifactId, jobId]);
    return rows.length > 0;
  }

  /** Up to `limit` artifacts that expired before `now` and that no QUEUED or RUNNING job references, oldest expiry first, but for the ids in `skip`. */
  async findExpiredUnreferenced(now: Date, limit: number, skip: readonly string[] = []): Promise<ArtifactRecord[]> {
    const rows: ArtifactRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM artifacts WHERE expires_at IS NOT NULL AND expires_at <= $1 AND NOT ${IN_USE} AND NOT (id = ANY($3::uuid[]))
       ORDER BY expires_at LIMIT $2`,
      [now, limit, skip],
    );
    return rows.map(toRecord);
  }

  /**
   * Locks the artifact for deletion only if it is still expired and unused (retention re-checks under the lock:
   * a job may have linked it since the scan); skips a row another transaction holds.
   */
  async lockExpiredUnreferenced(manager: EntityManager, id: string, now: Date): Promise<ArtifactRecord | null> {
    const rows: ArtifactRow[] = await manager.query(
      `SELECT ${COLUMNS} FROM artifacts WHERE id = $1 AND expires_at <= $2 FOR UPDATE SKIP LOCKED`,
      [id, now],
    );
    if (rows.length === 0 || (await this.jobsUsing(manager, id, 1)).total > 0) return null;
    return toRecord(rows[0]);
  }

  /**
   * The assignment if it is live (PLACED or RUNNING) on this node, the caller's incarnation is the node's current
   * one, and the assignment was placed on it or on an earlier incarnation: a node that restarted picks up what was
   * placed on its predecessor from the node's queue, and runs it under the same lease (a zombie, an incarnation
   * since replaced, is refused). The node row may be DEAD: its heartbeats go through the API, so an API outage
   * marks a live node dead while its attempts keep their leases; the assignment's liveness is the fence.
   * With a manager, the assignment row is share-locked so it stays live until commit.
   */
  async findLiveAssignment(assignmentId: string, nodeId: string, incarnation: number, manager?: EntityManager): Promise<LiveAssignment | null> {
    const rows: { assignment_id: string; job_id: string; tenant_id: string }[] = await (manager ?? this.dataSource.manager).query(
      `SELECT a.id AS assignment_id, a.job_id, j.tenant_id
       FROM job_assignments a JOIN jobs j ON j.id = a.job_id JOIN nodes n ON n.id = a.node_id
       WHERE a.id = $1 AND a.node_id = $2 AND a.node_incarnation <= $3 AND n.incarnation = $3
         AND a.state IN ('PLACED', 'RUNNING')
       ${manager ? 'FOR SHARE OF a' : ''}`,
      [assignmentId, nodeId, incarnation],
    );
    return rows.length > 0 ? { assignmentId: rows[0].assignment_id, jobId: rows[0].job_id, tenantId: rows[0].tenant_id } : null;
  }
}
