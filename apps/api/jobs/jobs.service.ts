import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { DEFAULT_PRIORITY, type AppConfig } from '@mlis/config';
import { ApiErrorCode, TERMINAL_JOB_STATES } from '@mlis/contracts';
import {
  IdempotencyKeyTakenError,
  JobFinishedFeed,
  JobsRepository,
  NodesRepository,
  type JobRecord,
  type NewJob,
} from '@mlis/db';
import { admit, AdmissionRefused, specOf, whyUnschedulable, type AdmissionPolicy, type ClusterShape, type JobSpec } from '@mlis/scheduling';
import { getTaskSpec } from '@mlis/runners';
import type { Scope } from '@mlis/auth';
import { inSpan } from '@mlis/tracing';
import { Access, actsAcrossTenants, type Grant } from '../common/access';
import type { Actor, RequestActor } from '../common/actor';
import { DomainError, RetryLaterError } from '../common/domain-error';
import { unstorableText } from '../common/body-content';
import { InjectAppConfig } from '../core/app-config';
import { AcceptedJobs } from './accepted-jobs';
import { canonicalJson } from './canonical-json';
import { JobArtifactsService, type JobResultBody, type StoredParams } from './job-artifacts.service';
import { JobWorkflows } from './job-workflows';
import { decodeJobCursor, encodeJobCursor } from './jobs-cursor';
import {
  DEFAULT_CPU,
  DEFAULT_GPU,
  DEFAULT_MEM_MB,
  DEFAULT_PAGE_SIZE,
  type CreateJobDto,
  type JobListQueryDto,
  type JobListResponseDto,
  type JobResponseDto,
} from './jobs.dto';
import { toJobResponse } from './jobs.mapper';
import { SubmissionLimitsService } from './submission-limits.service';

// A long-poll re-reads its job this often even without a notification: a safety net, not the way it normally wakes.
export const JOB_WAIT_REREAD_MS = 5_000;
// How long a read of the registered nodes and worker groups may admit submissions. Groups are never removed, and a node
// only after a day gone (ADR 0034): a stale read misses what registered since, so a refusal always reads again; it
// wrongly admits only a job that fits no node but one that re-registered smaller or was deleted meanwhile, and that job
// waits, as for any node that went away.
export const CLUSTER_SHAPE_REUSE_MS = 5_000;

export interface SubmitResult {
  job: JobResponseDto;
  /** False when an Idempotency-Key replay returned the job accepted earlier. */
  created: boolean;
}

/** A job the actor may act on, with the grant that writes its allow row. */
interface FoundJob {
  record: JobRecord;
  grant: Grant;
}

/**
 * Jobs in the API: orchestrates a submission (limits, the admission policy of libs/scheduling, idempotent replay,
 * artifacts, the insert in one transaction, then the workflow start), the job read model and cancellation.
 */
@Injectable()
export class JobsService {
  private readonly policy: AdmissionPolicy;
  /** The jobs this replica accepted whose long-poll needs no first read (ADR 0049). */
  private readonly accepted: AcceptedJobs;
  /** The last read of the registered nodes and worker groups, for CLUSTER_SHAPE_REUSE_MS. */
  private clusterShape: { readAt: number; shape: Promise<Omit<ClusterShape, 'tenantMaxGpus'>> } | null = null;

  constructor(
    @Inject(JobsRepository) private readonly jobs: JobsRepository,
    @Inject(NodesRepository) private readonly nodes: NodesRepository,
    @Inject(JobWorkflows) private readonly workflows: JobWorkflows,
    @Inject(SubmissionLimitsService) private readonly limits: SubmissionLimitsService,
    @Inject(Access) private readonly access: Access,
    @Inject(JobArtifactsService) private readonly jobArtifacts: JobArtifactsService,
    @Inject(JobFinishedFeed) private readonly finished: JobFinishedFeed,
    @InjectAppConfig() config: AppConfig,
  ) {
    this.accepted = new AcceptedJobs(finished);
    const { scheduling } = config;
    this.policy = {
      taskSpec: getTaskSpec,
      priorityClasses: scheduling.priorityClasses,
      defaults: {
        cpu: DEFAULT_CPU,
        memMb: DEFAULT_MEM_MB,
        gpu: DEFAULT_GPU,
        priority: DEFAULT_PRIORITY,
        maxAttempts: scheduling.defaultMaxAttempts,
        timeoutSeconds: scheduling.defaultTimeoutSeconds,
      },
    };
  }

  /**
   * Accepts a job: checks it can run (and that the artifacts its params reference are the tenant's), then
   * inserts it and links its artifacts in one transaction, and starts its workflow once that has committed,
   * without waiting for the start (ADR 0027). Params larger than the inline threshold are stored as an artifact:
   * the row and the workflow input carry only its id.
   * With an idempotency key, a repeat of the same submission returns the job accepted the first time, and starts
   * its workflow if that never started.
   * Traced as `submitJob`: the workflow's spans and the node's runAssignment span join its trace.
   */
  submit(actor: Actor, dto: CreateJobDto, idempotencyKey: string | undefined, requestId: string): Promise<SubmitResult> {
    const attributes = { 'mlis.request_id': requestId, 'mlis.tenant': actor.tenantId };
    return inSpan('submitJob', attributes, () => this.accept(actor, dto, idempotencyKey, requestId));
  }

  private async accept(actor: Actor, dto: CreateJobDto, idempotencyKey: string | undefined, requestId: string): Promise<SubmitResult> {
    this.limits.checkParams(dto.params);
    const spec = this.admit(dto);
    const paramsJson = canonicalJson(spec.params);
    if (idempotencyKey !== undefined) {
      const earlier = await this.jobs.findByIdempotencyKey(actor.tenantId, idempotencyKey);
      if (earlier) return this.replay(earlier, spec, paramsJson);
    }
    const { tenant, queueLimit } = await this.limits.admit(actor, requestId);
    const inputs = await this.jobArtifacts.inputs(actor, requestId, spec.params);
    await this.checkSchedulable(spec, tenant.maxGpus);

    const params: StoredParams | null = this.jobArtifacts.offloads(paramsJson) ? await this.jobArtifacts.storeParams(paramsJson) : null;
    const job: NewJob = {
      ...spec,
      params: params ? {} : spec.params,
      paramsArtifactId: params?.artifactId ?? null,
      paramsSha256: params?.upload.staged.sha256 ?? null,
      id: randomUUID(),
      tenantId: actor.tenantId,
      submittedBy: actor.subject,
      idempotencyKey: idempotencyKey ?? null,
      requestId,
    };
    try {
      // The audit row goes in with the job row, in one statement. A queue limit and artifact links need a transaction
      // around it (on the insert's connection: a second one per submission would exhaust the pool under a burst).
      const audit = this.access.allowRow({ ...actor, requestId }, { action: 'job.submit', resource: `job/${job.id}`, targetTenant: job.tenantId });
      const afterInsert = async (manager: EntityManager): Promise<void> => {
        if (queueLimit) await this.limits.holdQueuePlace(queueLimit, manager);
        await this.jobArtifacts.attach(manager, job, inputs, params);
      };
      const needsTransaction = queueLimit !== null || inputs.length > 0 || params !== null;
      const record = await this.jobs.insert(job, audit, needsTransaction ? afterInsert : undefined);
      this.accepted.add(job.id, job.tenantId);
      this.workflows.startSoon(job, { insertedJustNow: true });
      return { job: toJobResponse(record), created: true };
    } catch (error) {
      await this.jobArtifacts.discard(params);
      if (error instanceof RetryLaterError && error.code === ApiErrorCode.QuotaExceeded) {
        await this.limits.deny(actor, requestId, 'quota_exceeded');
        throw error;
      }
      // A concurrent submission with the same key committed first.
      if (error instanceof IdempotencyKeyTakenError && idempotencyKey !== undefined) {
        const earlier = await this.jobs.findByIdempotencyKey(actor.tenantId, idempotencyKey);
        if (earlier) return this.replay(earlier, spec, paramsJson);
      }
      throw error;
    }
  }

  /** The whole result of a SUCCEEDED job (inline or from its artifact); 409 result_not_available before that. */
  async result(actor: RequestActor, id: string): Promise<JobResultBody> {
    return this.jobArtifacts.result(await this.succeeded(actor, id));
  }

  /** The job when `actor` may read it and it SUCCEEDED; 409 result_not_available before that. */
  async succeeded(actor: RequestActor, id: string): Promise<JobRecord['job']> {
    const { job } = (await this.find(actor, id, 'jobs:read', 'job.read')).record;
    if (job.state !== 'SUCCEEDED') {
      throw new DomainError(ApiErrorCode.ResultNotAvailable, `job ${id} is ${job.state}: only a SUCCEEDED job has a result`);
    }
    return job;
  }

  /** The job with its result; another tenant's job is a 404 unless the actor may act across tenants. */
  async get(actor: RequestActor, id: string): Promise<JobResponseDto> {
    return toJobResponse((await this.find(actor, id, 'jobs:read', 'job.read')).record);
  }

  /**
   * The job once it is final, or as it is when `waitSeconds` run out or `abort` fires (the client went away, or the
   * API began to shut down).
   * Access is checked once, with the first read (another tenant's job is a 404 at once); the waiter then sleeps on
   * the process's one LISTEN connection (JobFinishedFeed) and re-reads only when woken or every JOB_WAIT_REREAD_MS.
   * A job this replica accepted and has heard no end of needs no first read: its tenant is known and it is not final
   * (ADR 0049).
   */
  async waitForFinal(actor: RequestActor, id: string, waitSeconds: number, abort: AbortSignal): Promise<JobResponseDto> {
    const deadline = Date.now() + waitSeconds * 1000;
    let woken = false;
    let wake: () => void = () => undefined;
    const onWake = () => {
      woken = true;
      wake();
    };
    // Subscribed before the first read, so a job finishing after it still wakes this waiter.
    const unsubscribe = this.finished.subscribe(id, onWake);
    abort.addEventListener('abort', onWake);
    try {
      const acceptedFor = this.accepted.take(id);
      let record: JobRecord | null = null;
      if (acceptedFor === undefined) record = (await this.find(actor, id, 'jobs:read', 'job.read')).record;
      else if (!(await this.access.require(actor, acceptedFor, 'jobs:read', 'job.read', `job/${id}`))) throw this.notFound(id);
      while ((record === null || !TERMINAL_JOB_STATES.includes(record.job.state)) && !abort.aborted && Date.now() < deadline) {
        if (!woken) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.min(JOB_WAIT_REREAD_MS, deadline - Date.now()));
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        woken = false;
        if (abort.aborted) break;
        record = (await this.jobs.findById(null, id)) ?? record;
      }
      // The wait ended before any read (a job accepted here): answer with the job as it is.
      record ??= await this.jobs.findById(null, id);
      if (!record) throw this.notFound(id);
      return toJobResponse(record);
    } finally {
      unsubscribe();
      abort.removeEventListener('abort', onWake);
    }
  }

  /** The actor's tenant's jobs; with the cross-tenant capability every tenant's, or `query.tenant`'s. */
  async list(actor: RequestActor, query: JobListQueryDto): Promise<JobListResponseDto> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    // Checked first: a malformed cursor is a 400 whatever tenant is asked for.
    const after = query.cursor === undefined ? undefined : decodeJobCursor(query.cursor);
    const tenantId = await this.listedTenant(actor, query.tenant);
    if (tenantId === undefined) return { items: [], next_cursor: null };
    const records = await this.jobs.list({
      tenantId,
      state: query.state,
      taskType: query.task_type,
      workerGroup: query.worker_group,
      nodeId: query.node,
      submittedBy: query.submitted_by,
      createdAfter: query.created_after === undefined ? undefined : new Date(query.created_after),
      createdBefore: query.created_before === undefined ? undefined : new Date(query.created_before),
      // One extra row tells whether another page exists.
      limit: limit + 1,
      after,
    });
    const page = records.slice(0, limit);
    return {
      items: page.map(toJobResponse),
      next_cursor: records.length > limit ? encodeJobCursor(page[page.length - 1].cursor) : null,
    };
  }

  /** Asks the job's workflow to cancel; it writes CANCELLED once it has released the reservation. */
  async cancel(actor: RequestActor, id: string): Promise<JobResponseDto> {
    const { record, grant } = await this.find(actor, id, 'jobs:cancel', 'job.cancel');
    this.assertNotFinished(record);
    // The change is a request to Temporal, outside any transaction: the row goes first, so no cancel is sent
    // unaudited (a request that then fails leaves a row for a cancel the caller is told to retry).
    await grant.record();
    if (!(await this.workflows.cancel(id))) {
      // Not running: not started yet (the job was accepted moments ago), or closed since our read (the job has
      // just finished). A start here finds a closed workflow and starts nothing.
      await this.workflows.ensureStarted(record.job);
      if (!(await this.workflows.cancel(id))) {
        this.assertNotFinished((await this.find(actor, id, 'jobs:cancel', 'job.cancel')).record);
        throw new Error(`the workflow of job ${id} has closed but the job is still ${record.job.state}`);
      }
    }
    return toJobResponse(record);
  }

  /** Most recent jobs of the tenant, for the console. */
  async recent(actor: Actor, limit: number): Promise<JobResponseDto[]> {
    return (await this.jobs.list({ tenantId: actor.tenantId, limit })).map(toJobResponse);
  }

  /**
   * The job, if the actor may act on it under `scope`. Another tenant's job answers exactly like a missing
   * one (no existence leak) but leaves a deny row in the audit log.
   */
  private async find(actor: RequestActor, id: string, scope: Scope, action: string): Promise<FoundJob> {
    const record = await this.jobs.findById(null, id);
    const grant = record && (await this.access.require(actor, record.job.tenantId, scope, action, `job/${id}`));
    if (!record || !grant) throw this.notFound(id);
    return { record, grant };
  }

  /** A job that is missing and another tenant's job answer alike: no existence leak. */
  private notFound(id: string): DomainError {
    return new DomainError(ApiErrorCode.JobNotFound, `job ${id} not found`);
  }

  /** Which tenant a list shows: null for every tenant, undefined for nothing (another tenant, without the capability). */
  private async listedTenant(actor: RequestActor, requested: string | undefined): Promise<string | null | undefined> {
    if (requested === undefined) return actsAcrossTenants(actor, 'jobs:read') ? null : actor.tenantId;
    return (await this.access.require(actor, requested, 'jobs:read', 'job.list', `tenant/${requested}`)) ? requested : undefined;
  }

  private assertNotFinished(record: JobRecord): void {
    if (TERMINAL_JOB_STATES.includes(record.job.state)) {
      throw new DomainError(ApiErrorCode.JobAlreadyFinished, `job ${record.job.id} already finished ${record.job.state}`);
    }
  }

  /** The admission policy's verdict on the submission (libs/scheduling), as the API's error. */
  private admit(dto: CreateJobDto): JobSpec {
    let spec: JobSpec;
    try {
      spec = admit(dto, this.policy);
    } catch (error) {
      if (error instanceof AdmissionRefused) throw new DomainError(error.code, error.message, error.details);
      throw error;
    }
    // Free JSON in the document, so the ledger's limit is the params' problem (422), like the runner's rules.
    const unstorable = unstorableText(spec.params, 'params');
    if (unstorable !== undefined) {
      throw new DomainError(ApiErrorCode.InvalidParams, `params ${unstorable.problem}: the ledger cannot store it`, [unstorable]);
    }
    return spec;
  }

  /** Params compare by the sha256 of their canonical JSON, so offloaded params compare without being read back. */
  private async replay(earlier: JobRecord, spec: JobSpec, paramsJson: string): Promise<SubmitResult> {
    const before = { ...specOf(earlier.job), params: this.jobArtifacts.paramsDigest(earlier.job) };
    const now = { ...spec, params: this.jobArtifacts.digestOf(paramsJson) };
    if (canonicalJson(before) !== canonicalJson(now)) {
      throw new DomainError(
        ApiErrorCode.IdempotencyConflict,
        `Idempotency-Key was already used for job ${earlier.job.id} with a different request`,
      );
    }
    // The first submission's API may have died between its commit and the workflow start: a retry heals that.
    if (!TERMINAL_JOB_STATES.includes(earlier.job.state)) this.workflows.startSoon(earlier.job);
    return { job: toJobResponse(earlier), created: false };
  }

  /**
   * Refuses a request that no registered node could run even when empty (its selectors included), or that
   * the tenant's max_gpus could never allow. With no node registered yet (in its group) the job is accepted
   * and waits, since the cluster's shape is unknown. A recent read of the nodes may accept; only a fresh one refuses.
   */
  private async checkSchedulable(spec: JobSpec, tenantMaxGpus: number | null): Promise<void> {
    const reused = this.clusterShape !== null && Date.now() - this.clusterShape.readAt < CLUSTER_SHAPE_REUSE_MS;
    let problem = whyUnschedulable(spec, { ...(await this.readClusterShape(!reused)), tenantMaxGpus });
    if (problem && reused) problem = whyUnschedulable(spec, { ...(await this.readClusterShape(true)), tenantMaxGpus });
    if (problem) throw new DomainError(ApiErrorCode.Unschedulable, problem.message, problem.details);
  }

  private readClusterShape(fresh: boolean): Promise<Omit<ClusterShape, 'tenantMaxGpus'>> {
    if (!fresh && this.clusterShape) return this.clusterShape.shape;
    const shape = Promise.all([this.nodes.list(), this.nodes.workerGroupNames()]).then(([nodes, workerGroups]) => ({
      nodes: nodes.map((node) => ({
        group: node.groupName,
        labels: node.labels,
        cpuMillis: node.cpuMillis,
        memMb: node.memMb,
        gpus: node.gpus.map((gpu) => ({ index: gpu.index, model: gpu.model, memoryMb: gpu.memory_mb })),
      })),
      workerGroups,
    }));
    const read = { readAt: Date.now(), shape };
    this.clusterShape = read;
    // A failed read is not kept: the next submission reads again.
    shape.catch(() => {
      if (this.clusterShape === read) this.clusterShape = null;
    });
    return shape;
  }
}
