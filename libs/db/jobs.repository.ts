import type { DataSource, EntityManager, SelectQueryBuilder } from 'typeorm';
import type { JobState } from '../contracts';
import { JobAssignmentEntity } from './entities/job-assignment.entity';
import { JobEntity } from './entities/job.entity';

/** Another submission of this tenant already holds the idempotency key. */
export class IdempotencyKeyTakenError extends Error {}

/** What the API writes when it accepts a job; the workflow owns every later change. */
export interface NewJob {
  id: string;
  tenantId: string;
  submittedBy: string;
  taskType: string;
  /** `{}` when paramsArtifactId holds them. */
  params: Record<string, unknown>;
  paramsArtifactId: string | null;
  cpuMillis: number;
  memMb: number;
  gpu: number;
  priority: number;
  priorityClass: string | null;
  mayPreempt: boolean;
  workerGroup: string | null;
  nodeSelector: Record<string, string>;
  gpuModel: string | null;
  gpuMemoryMb: number | null;
  maxAttempts: number;
  timeoutSeconds: number;
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

export interface JobListQuery {
  /** null: every tenant (only for callers with the cross-tenant capability). */
  tenantId: string | null;
  state?: JobState;
  limit: number;
  /** Only jobs strictly after this position (older, or same time and smaller id). */
  after?: JobCursor;
}

const IDEMPOTENCY_CONSTRAINT = 'jobs_idempotency_key_per_tenant';
// JS Dates stop at milliseconds; the cursor needs the column's full precision to be exact.
const EXACT_CREATED_AT = `to_char(job.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** The jobs read model, and the one insert the API makes. Scoped by tenant everywhere. */
export class JobsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Inserts the job and runs `afterInsert` (starting its workflow) in the same transaction:
   * if `afterInsert` throws, the row is never committed.
   */
  async insert(job: NewJob, afterInsert: (record: JobRecord, manager: EntityManager) => Promise<void>): Promise<JobRecord> {
    try {
      return await this.dataSource.transaction(async (m) => {
        await m.query(
          `INSERT INTO jobs (id, tenant_id, submitted_by, task_type, params, cpu_millis, mem_mb, gpu, priority,
                             state, attempts, max_attempts, timeout_seconds, idempotency_key, request_id,
                             priority_class, may_preempt, worker_group, node_selector, gpu_model, gpu_memory_mb, params_artifact_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'QUEUED', 0, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
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
          ],
        );
        const record = await this.findById(job.tenantId, job.id, m);
        if (!record) throw new Error(`job ${job.id} vanished inside its own insert transaction`);
        await afterInsert(record, m);
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
  async findById(tenantId: string | null, id: string, manager?: EntityManager): Promise<JobRecord | null> {
    const query = this.jobs(manager).where('job.id = :id', { id });
    if (tenantId !== null) query.andWhere('job.tenant_id = :tenantId', { tenantId });
    const [record] = await this.load(query, manager);
    return record ?? null;
  }

  async findByIdempotencyKey(tenantId: string, key: string): Promise<JobRecord | null> {
    const query = this.jobs().where('job.tenant_id = :tenantId AND job.idempotency_key = :key', { tenantId, key });
    const [record] = await this.load(query);
    return record ?? null;
  }

  /** Newest first; ties on created_at break on id so pages never skip or repeat a job. */
  async list(query: JobListQuery): Promise<JobRecord[]> {
    const select = this.jobs().where('TRUE').orderBy('job.created_at', 'DESC').addOrderBy('job.id', 'DESC').limit(query.limit);
    if (query.tenantId !== null) select.andWhere('job.tenant_id = :tenantId', { tenantId: query.tenantId });
    if (query.state) select.andWhere('job.state = :state', { state: query.state });
    if (query.after) {
      select.andWhere('(job.created_at, job.id) < (CAST(:afterCreatedAt AS timestamptz), CAST(:afterId AS uuid))', {
        afterCreatedAt: query.after.createdAt,
        afterId: query.after.id,
      });
    }
    return this.load(select);
  }

  async countByState(tenantId: string): Promise<Map<JobState, number>> {
    const rows: { state: JobState; count: number }[] = await this.dataSource.query(
      `SELECT state, CAST(count(*) AS integer) AS count FROM jobs WHERE tenant_id = $1 GROUP BY state`,
      [tenantId],
    );
    return new Map(rows.map((row) => [row.state, row.count]));
  }

  private jobs(manager?: EntityManager): SelectQueryBuilder<JobEntity> {
    return (manager ?? this.dataSource.manager)
      .getRepository(JobEntity)
      .createQueryBuilder('job')
      .addSelect(EXACT_CREATED_AT, 'cursor_created_at');
  }

  private async load(query: SelectQueryBuilder<JobEntity>, manager?: EntityManager): Promise<JobRecord[]> {
    const { entities, raw } = await query.getRawAndEntities<{ job_id: string; cursor_created_at: string }>();
    if (entities.length === 0) return [];
    const exactCreatedAt = new Map(raw.map((row) => [row.job_id, row.cursor_created_at]));
    const assignments = await this.assignmentsOf(
      entities.map((job) => job.id),
      manager,
    );
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
