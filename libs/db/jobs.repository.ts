import type { DataSource, Driver, EntityManager, SelectQueryBuilder } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import type { AuditEventInput, JobState } from '@mlis/contracts';
import type { JobSpec } from '@mlis/scheduling';
import { JobAssignmentEntity } from './entities/job-assignment.entity';
import { JobEntity } from './entities/job.entity';
import { auditInsert, recordAudit } from './audit.repository';
import { preparedOnPool, type PreparedQuery } from './prepared';
import type { Queryable } from './sql';

/** Another submission of this tenant already holds the idempotency key. */
export class IdempotencyKeyTakenError extends Error {}
export class JobNotFoundError extends Error {}

/** What the API writes when it accepts a job; the workflow owns every later change. */
/** A submission the admission policy accepted, as the API inserts it. */
export interface NewJob extends JobSpec {
  id: string;
  tenantId: string;
  submittedBy: string;
  /** Set when the params travel as an artifact; `params` is then `{}`. */
  paramsArtifactId: string | null;
  /** With paramsArtifactId: the sha256 of the params' canonical JSON. */
  paramsSha256: string | null;
  idempotencyKey: string | null;
  requestId: string | null;
}

/** Keyset position in the newest-first job list; createdAt is the exact timestamptz text (microseconds). */
export interface JobCursor {
  createdAt: string;
  id: string;
}

/** One attempt, with the hostname and pid of the node process it was placed on (recorded at placement). */
export interface AssignmentRecord {
  assignment: JobAssignmentEntity;
  hostname: string | null;
  pid: number | null;
}

export interface JobRecord {
  job: JobEntity;
  /** Attempt ascending. */
  assignments: AssignmentRecord[];
  cursor: JobCursor;
}

/** A job the console's overview flags, with why. */
export interface AttentionJob {
  id: string;
  state: JobState;
  pendingReason: string | null;
  pendingDetail: string | null;
  errorCode: string | null;
  createdAt: Date;
  finishedAt: Date | null;
}

export interface JobChange {
  id: string;
  state: JobState;
  /** Exact (microseconds), as Postgres prints it. */
  updated_at: string;
}

/** A waiting job in the last cycle's order (position from 1). */
export interface QueuedJob {
  position: number;
  id: string;
  tenantId: string;
  workerGroup: string | null;
  priority: number;
  priorityClass: string | null;
  gpu: number;
  pendingReason: string | null;
  pendingDetail: string | null;
  createdAt: Date;
}

/** A tenant's current allocation against its weight and quotas. */
export interface TenantShare {
  tenantId: string;
  weight: number;
  runningJobs: number;
  cpuMillis: number;
  memMb: number;
  gpus: number;
  waitingJobs: number;
  maxRunningJobs: number | null;
  maxGpus: number | null;
}

export interface JobHealthQuery {
  waitingSince: Date;
  failedSince: Date;
  exhaustedSince: Date;
  limit: number;
}

export interface TenantJobHealth {
  oldestQueuedAt: Date | null;
  /** FAILED at or after `failedSince`. */
  failedSince: number;
  /** QUEUED since before `waitingSince`, oldest first. */
  waitingLong: AttentionJob[];
  /** FAILED with every attempt used, since `exhaustedSince`, newest first. */
  exhausted: AttentionJob[];
}

export interface JobListQuery {
  /** null: every tenant (only for callers with the cross-tenant capability). */
  tenantId: string | null;
  state?: JobState;
  taskType?: string;
  /** The job's requested worker group. */
  workerGroup?: string;
  /** Jobs with any attempt on this node. */
  nodeId?: string;
  submittedBy?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  limit: number;
  /** Only jobs strictly after this position (older, or same time and smaller id). */
  after?: JobCursor;
}

const IDEMPOTENCY_CONSTRAINT = 'jobs_idempotency_key_per_tenant';
/** An entity's columns and the select list that reads them, for loadOne. */
interface SelectList {
  columns: ColumnMetadata[];
  select: string;
}

/** Sets each of the list's columns on `entity` from the row's `<prefix><property>` value, converted as TypeORM would. */
function hydrate<T extends object>(driver: Driver, entity: T, list: SelectList, prefix: string, row: Record<string, unknown>): T {
  for (const column of list.columns) column.setEntityValue(entity, driver.prepareHydratedValue(row[`${prefix}${column.propertyName}`], column));
  return entity;
}

// JS Dates stop at milliseconds; the cursor needs the column's full precision to be exact.
const EXACT_CREATED_AT = `to_char(job.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** What the insert returns: the columns the database sets or normalises. */
interface InsertedJob {
  params: Record<string, unknown>;
  node_selector: Record<string, string>;
  created_at: Date;
  updated_at: Date;
  cursor_created_at: string;
}

/** The record of a job its own transaction has just inserted: QUEUED, never placed, no attempts. */
function insertedRecord(job: NewJob, inserted: InsertedJob): JobRecord {
  // Every column the insert wrote, then the ones it left to the database: typed, so a new column fails to compile here.
  const entity: JobEntity = {
    ...job,
    params: inserted.params,
    nodeSelector: inserted.node_selector,
    queuePosition: null,
    state: 'QUEUED',
    pendingReason: null,
    pendingDetail: null,
    attempts: 0,
    result: null,
    resultArtifactId: null,
    error: null,
    createdAt: inserted.created_at,
    updatedAt: inserted.updated_at,
    startedAt: null,
    finishedAt: null,
  };
  return { job: entity, assignments: [], cursor: { createdAt: inserted.cursor_created_at, id: job.id } };
}

/** The jobs read model, and the one insert the API makes. Scoped by tenant everywhere. */
export class JobsRepository {
  private singleJob: { job: SelectList; assignment: SelectList } | undefined;
  private readonly prepared: PreparedQuery;

  constructor(private readonly dataSource: DataSource) {
    this.prepared = preparedOnPool(dataSource);
  }

  /**
   * Inserts the job and its audit row in one statement (ADR 0028), and runs `afterInsert` (artifact links, the queue
   * limit) after it in the same transaction when there is one: if `afterInsert` throws, nothing is committed. Without
   * `afterInsert` the statement is its own transaction, one round trip. The caller starts the job's workflow after the commit.
   */
  async insert(job: NewJob, audit: AuditEventInput, afterInsert?: (manager: EntityManager) => Promise<void>): Promise<JobRecord> {
    // Parameters $1-$21 are the job's, the audit row's follow.
    const auditRow = auditInsert(audit, 22);
    const insert = async (db: Queryable): Promise<JobRecord> => {
      // The row comes back with the insert: what the database sets or normalises (timestamps, jsonb) is returned.
      const [inserted]: InsertedJob[] = await db.query(
        `WITH audit AS (${auditRow.sql})
         INSERT INTO jobs AS job (id, tenant_id, submitted_by, task_type, params, cpu_millis, mem_mb, gpu, priority,
                           state, attempts, max_attempts, timeout_seconds, idempotency_key, request_id,
                           priority_class, may_preempt, worker_group, node_selector, gpu_model, gpu_memory_mb, params_artifact_id, params_sha256)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'QUEUED', 0, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
         RETURNING job.params, job.node_selector, job.created_at, job.updated_at, ${EXACT_CREATED_AT} AS cursor_created_at`,
        [
          job.id,
          job.tenantId,
          job.submittedBy,
          job.taskType,
          JSON.stringify(job.params),
          job.cpuMillis,
          job.memMb,
          job.gpu,
          job.priority,
          job.maxAttempts,
          job.timeoutSeconds,
          job.idempotencyKey,
          job.requestId,
          job.priorityClass,
          job.mayPreempt,
          job.workerGroup,
          JSON.stringify(job.nodeSelector),
          job.gpuModel,
          job.gpuMemoryMb,
          job.paramsArtifactId,
          job.paramsSha256,
          ...auditRow.params,
        ],
      );
      return insertedRecord(job, inserted);
    };
    try {
      if (!afterInsert) return await insert(this.dataSource.manager);
      return await this.dataSource.transaction(async (m) => {
        const record = await insert(m);
        await afterInsert(m);
        return record;
      });
    } catch (error) {
      const { code, constraint } = error as { code?: string; constraint?: string };
      if (code === '23505' && constraint === IDEMPOTENCY_CONSTRAINT) {
        throw new IdempotencyKeyTakenError(`idempotency key already used by tenant ${job.tenantId}`);
      }
      throw error;
    }
  }

  /** `tenantId` null looks in every tenant (cross-tenant callers, and telling a 404-by-tenant apart for the audit). */
  async findById(tenantId: string | null, id: string): Promise<JobRecord | null> {
    return this.loadOne('mlis_job_by_id', 'job.id = $1 AND ($2::text IS NULL OR job.tenant_id = $2)', [id, tenantId]);
  }

  async findByIdempotencyKey(tenantId: string, key: string): Promise<JobRecord | null> {
    return this.loadOne('mlis_job_by_idempotency_key', 'job.tenant_id = $1 AND job.idempotency_key = $2', [tenantId, key]);
  }

  /** Newest first; ties on created_at break on id so pages never skip or repeat a job. */
  async list(query: JobListQuery): Promise<JobRecord[]> {
    const select = this.jobs().where('TRUE').orderBy('job.created_at', 'DESC').addOrderBy('job.id', 'DESC').limit(query.limit);
    if (query.tenantId !== null) select.andWhere('job.tenant_id = :tenantId', { tenantId: query.tenantId });
    if (query.state) select.andWhere('job.state = :state', { state: query.state });
    if (query.taskType) select.andWhere('job.task_type = :taskType', { taskType: query.taskType });
    if (query.workerGroup) select.andWhere('job.worker_group = :workerGroup', { workerGroup: query.workerGroup });
    if (query.submittedBy) select.andWhere('job.submitted_by = :submittedBy', { submittedBy: query.submittedBy });
    if (query.createdAfter) select.andWhere('job.created_at >= :createdAfter', { createdAfter: query.createdAfter });
    if (query.createdBefore) select.andWhere('job.created_at < :createdBefore', { createdBefore: query.createdBefore });
    if (query.nodeId) {
      select.andWhere('EXISTS (SELECT 1 FROM job_assignments a WHERE a.job_id = job.id AND a.node_id = :nodeId)', { nodeId: query.nodeId });
    }
    if (query.after) {
      select.andWhere('(job.created_at, job.id) < (CAST(:afterCreatedAt AS timestamptz), CAST(:afterId AS uuid))', {
        afterCreatedAt: query.after.createdAt,
        afterId: query.after.id,
      });
    }
    return this.load(select);
  }

  /** The database's clock, exact: where a change feed starts. */
  async clock(): Promise<string> {
    const [row] = (await this.dataSource.query(`SELECT CAST(clock_timestamp() AS text) AS now`)) as { now: string }[];
    return row.now;
  }

  /** The first `limit` waiting jobs of every tenant in the last scheduling cycle's order. */
  async queue(limit: number): Promise<QueuedJob[]> {
    const rows: Record<string, never>[] = await this.dataSource.query(
      `SELECT q.position::int AS position, j.id, j.tenant_id, j.worker_group, j.priority, j.priority_class, j.gpu,
              j.pending_reason, j.pending_detail, j.created_at
         FROM scheduler_queue s CROSS JOIN LATERAL unnest(s.job_ids) WITH ORDINALITY AS q(job_id, position)
         JOIN jobs j ON j.id = q.job_id AND j.state = 'QUEUED'
        ORDER BY q.position LIMIT $1`,
      [limit],
    );
    return rows.map((row) => ({
      position: row.position,
      id: row.id,
      tenantId: row.tenant_id,
      workerGroup: row.worker_group,
      priority: row.priority,
      priorityClass: row.priority_class,
      gpu: row.gpu,
      pendingReason: row.pending_reason,
      pendingDetail: row.pending_detail,
      createdAt: row.created_at,
    }));
  }

  /** Every tenant with running or waiting work: what it holds, its weight and quotas. */
  async tenantShares(): Promise<TenantShare[]> {
    const rows: Record<string, never>[] = await this.dataSource.query(
      `SELECT t.id, t.weight, t.max_running_jobs, t.max_gpus,
              COALESCE(u.running_jobs, 0)::int AS running_jobs, COALESCE(u.cpu_millis, 0)::float8 AS cpu_millis,
              COALESCE(u.mem_mb, 0)::float8 AS mem_mb, COALESCE(u.gpus, 0)::int AS gpus,
              (SELECT count(*)::int FROM jobs j WHERE j.tenant_id = t.id AND j.state = 'QUEUED') AS waiting_jobs
         FROM tenants t LEFT JOIN tenant_usage u ON u.tenant_id = t.id
        WHERE COALESCE(u.running_jobs, 0) > 0 OR EXISTS (SELECT 1 FROM jobs j WHERE j.tenant_id = t.id AND j.state = 'QUEUED')
        ORDER BY t.id`,
    );
    return rows.map((row) => ({
      tenantId: row.id,
      weight: row.weight,
      runningJobs: row.running_jobs,
      cpuMillis: row.cpu_millis,
      memMb: row.mem_mb,
      gpus: row.gpus,
      waitingJobs: row.waiting_jobs,
      maxRunningJobs: row.max_running_jobs,
      maxGpus: row.max_gpus,
    }));
  }

  /** When the last scheduling cycle wrote the queue order (queue positions, pending reasons); exact, or null before the first. */
  async queueCycleAt(): Promise<string | null> {
    const [row] = (await this.dataSource.query(`SELECT CAST(cycle_at AS text) AS at FROM scheduler_queue`)) as { at: string }[];
    return row?.at ?? null;
  }

  /**
   * A tenant's jobs changed after `since` minus `lookbackSeconds` (since: an exact timestamp from clock() or
   * an earlier change), oldest change first. updated_at is a transaction's time, so a change can commit after
   * a later-stamped one: callers look back and drop what they already saw.
   */
  async changedSince(tenantId: string, since: string, lookbackSeconds: number, limit: number): Promise<JobChange[]> {
    return this.dataSource.query(
      `SELECT id, state, CAST(updated_at AS text) AS updated_at FROM jobs
        WHERE tenant_id = $1 AND updated_at > CAST($2 AS timestamptz) - make_interval(secs => $3)
        ORDER BY updated_at, id LIMIT $4`,
      [tenantId, since, lookbackSeconds, limit],
    );
  }

  /** The tenant's job changes after `after` in (updated_at, id) order, oldest first: the page after a full one. */
  async changedAfter(tenantId: string, after: Pick<JobChange, 'id' | 'updated_at'>, limit: number): Promise<JobChange[]> {
    return this.dataSource.query(
      `SELECT id, state, CAST(updated_at AS text) AS updated_at FROM jobs
        WHERE tenant_id = $1 AND (updated_at, id) > (CAST($2 AS timestamptz), $3)
        ORDER BY updated_at, id LIMIT $4`,
      [tenantId, after.updated_at, after.id, limit],
    );
  }

  /** What the overview flags for a tenant; each list at most `limit` long. */
  /** Reads the tenant's waiting jobs and those finished since the windows, through their partial indexes: never its whole history. */
  async health(tenantId: string, { waitingSince, failedSince, exhaustedSince, limit }: JobHealthQuery): Promise<TenantJobHealth> {
    const [summary] = (await this.dataSource.query(
      `SELECT (SELECT min(created_at) FROM jobs WHERE tenant_id = $1 AND state = 'QUEUED') AS oldest_queued_at,
              (SELECT CAST(count(*) AS integer) FROM jobs WHERE tenant_id = $1 AND state = 'FAILED' AND finished_at >= $2) AS failed_since`,
      [tenantId, failedSince],
    )) as { oldest_queued_at: Date | null; failed_since: number }[];
    const pick = (where: string, order: string, param: Date): Promise<AttentionJob[]> =>
      this.dataSource
        .query(
          `SELECT id, state, pending_reason, pending_detail, error->>'code' AS error_code, created_at, finished_at
             FROM jobs WHERE tenant_id = $1 AND ${where} ORDER BY ${order} LIMIT $3`,
          [tenantId, param, limit],
        )
        .then((rows: Record<string, never>[]) =>
          rows.map((row) => ({
            id: row.id,
            state: row.state,
            pendingReason: row.pending_reason,
            pendingDetail: row.pending_detail,
            errorCode: row.error_code,
            createdAt: row.created_at,
            finishedAt: row.finished_at,
          })),
        );
    const [waitingLong, exhausted] = await Promise.all([
      pick(`state = 'QUEUED' AND created_at < $2`, 'created_at, id', waitingSince),
      pick(`state = 'FAILED' AND error->>'code' = 'MaxAttemptsExhausted' AND finished_at >= $2`, 'finished_at DESC, id', exhaustedSince),
    ]);
    return { oldestQueuedAt: summary?.oldest_queued_at ?? null, failedSince: summary?.failed_since ?? 0, waitingLong, exhausted };
  }

  /**
   * Deletes up to `limit` of the tenant's jobs that finished before `before`, oldest first, with their attempts and
   * artifact links (the artifacts themselves are retention's), and writes `audit(count)`'s row in the same transaction;
   * returns how many. A job a concurrent pass holds is skipped. Attempts of other jobs they preempted lose only that
   * reference (ADR 0036).
   */
  async deleteFinishedBefore(tenantId: string, before: Date, limit: number, audit: (count: number) => AuditEventInput): Promise<number> {
    return this.dataSource.transaction(async (m) => {
      // One statement: the links and attempts go with their jobs, and the jobs' foreign keys are checked at its end.
      const [{ deleted }] = (await m.query(
        `WITH expired AS (
           SELECT id FROM jobs
           WHERE tenant_id = $1 AND state IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND finished_at < $2
           ORDER BY finished_at LIMIT $3
           FOR UPDATE SKIP LOCKED
         ), links AS (
           DELETE FROM job_artifacts WHERE job_id IN (SELECT id FROM expired)
         ), attempts AS (
           DELETE FROM job_assignments WHERE job_id IN (SELECT id FROM expired)
         ), jobs_deleted AS (
           DELETE FROM jobs WHERE id IN (SELECT id FROM expired) RETURNING 1
         )
         SELECT CAST(count(*) AS integer) AS deleted FROM jobs_deleted`,
        [tenantId, before, limit],
      )) as { deleted: number }[];
      if (deleted > 0) await recordAudit(m, audit(deleted));
      return deleted;
    });
  }

  /** The tenant's QUEUED and RUNNING jobs, and those that ended in each final state at or after `finishedSince`. */
  async countByState(tenantId: string, finishedSince: Date): Promise<Map<JobState, number>> {
    const rows: { state: JobState; count: number }[] = await this.dataSource.query(
      // One SELECT per live state: each is read through its own partial index (an IN list would scan the table).
      `SELECT 'QUEUED' AS state, CAST(count(*) AS integer) AS count FROM jobs WHERE tenant_id = $1 AND state = 'QUEUED'
       UNION ALL
       SELECT 'RUNNING', CAST(count(*) AS integer) FROM jobs WHERE tenant_id = $1 AND state = 'RUNNING'
       UNION ALL
       SELECT state, CAST(count(*) AS integer) AS count FROM jobs
        WHERE tenant_id = $1 AND state IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND finished_at >= $2 GROUP BY state`,
      [tenantId, finishedSince],
    );
    return new Map(rows.map((row) => [row.state, row.count]));
  }

  private jobs(manager?: EntityManager): SelectQueryBuilder<JobEntity> {
    return (manager ?? this.dataSource.manager)
      .getRepository(JobEntity)
      .createQueryBuilder('job')
      .addSelect(EXACT_CREATED_AT, 'cursor_created_at');
  }

  /**
   * At most one job, with its attempts joined in the same statement: a job read is one round trip. The statement is
   * written from the entities' metadata rather than built by the query builder on every call, which cost the API about
   * half a millisecond a read (issue #11's profiles), and runs as the prepared statement `name`, one per `where`:
   * Postgres took longer to plan it than to run it (0.87 against 0.21 ms), and plans it about once per connection. A
   * page of jobs (load) reads its attempts in a second statement, as a LIMIT over joined rows would count attempts
   * instead of jobs.
   */
  private async loadOne(name: string, where: string, params: unknown[]): Promise<JobRecord | null> {
    const { job, assignment } = this.singleJobColumns();
    const { driver } = this.dataSource;
    const rows = await this.prepared<Record<string, unknown>>(
      name,
      `SELECT ${job.select}, ${EXACT_CREATED_AT} AS cursor_created_at, ${assignment.select}
       FROM jobs job LEFT JOIN job_assignments a ON a.job_id = job.id
       WHERE ${where}
       ORDER BY a.attempt`,
      params,
    );
    if (rows.length === 0) return null;
    const record = hydrate(driver, new JobEntity(), job, 'job_', rows[0]);
    const assignments = rows
      .filter((row) => row.a_id !== null)
      .map((row) => {
        const a = hydrate(driver, new JobAssignmentEntity(), assignment, 'a_', row);
        return { assignment: a, hostname: a.nodeHostname, pid: a.nodePid };
      });
    return { job: record, assignments, cursor: { createdAt: rows[0].cursor_created_at as string, id: record.id } };
  }

  /** loadOne's select lists, from the entities' metadata: each column as `<prefix><property>` (a virtual one by its query). */
  private singleJobColumns() {
    if (this.singleJob) return this.singleJob;
    const select = (alias: string, prefix: string, columns: ColumnMetadata[]): string =>
      columns
        .map((column) => `${column.isVirtualProperty && column.query ? `(${column.query(alias)})` : `${alias}.${column.databaseName}`} AS "${prefix}${column.propertyName}"`)
        .join(', ');
    const jobColumns = this.dataSource.getMetadata(JobEntity).columns;
    const assignmentColumns = this.dataSource.getMetadata(JobAssignmentEntity).columns;
    this.singleJob = {
      job: { columns: jobColumns, select: select('job', 'job_', jobColumns) },
      assignment: { columns: assignmentColumns, select: select('a', 'a_', assignmentColumns) },
    };
    return this.singleJob;
  }

  private async load(query: SelectQueryBuilder<JobEntity>, manager?: EntityManager): Promise<JobRecord[]> {
    const { entities, raw } = await query.getRawAndEntities<{ job_id: string; cursor_created_at: string }>();
    if (entities.length === 0) return [];
    const exactCreatedAt = new Map(raw.map((row) => [row.job_id, row.cursor_created_at]));
    const assignments = await this.assignmentsOf(entities.map((job) => job.id), manager);
    return entities.map((job) => ({
      job,
      assignments: assignments.get(job.id) ?? [],
      cursor: { createdAt: exactCreatedAt.get(job.id) ?? job.createdAt.toISOString(), id: job.id },
    }));
  }

  private async assignmentsOf(jobIds: string[], manager?: EntityManager): Promise<Map<string, AssignmentRecord[]>> {
    const assignments = await (manager ?? this.dataSource.manager)
      .getRepository(JobAssignmentEntity)
      .createQueryBuilder('a')
      .where('a.job_id IN (:...jobIds)', { jobIds })
      .orderBy('a.job_id')
      .addOrderBy('a.attempt', 'ASC')
      .getMany();
    const byJob = new Map<string, AssignmentRecord[]>();
    for (const assignment of assignments) {
      const list = byJob.get(assignment.jobId) ?? [];
      list.push({ assignment, hostname: assignment.nodeHostname, pid: assignment.nodePid });
      byJob.set(assignment.jobId, list);
    }
    return byJob;
  }
}
