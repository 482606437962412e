import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import type { AppConfig } from '../../../libs/config';
import {
  ApiErrorCode,
  CONTROL_TASK_QUEUE,
  jobWorkflowId,
  SEARCH_ATTRIBUTES,
  TERMINAL_JOB_STATES,
  type AuditEventInput,
  type JobWorkflowInput,
  type LogContext,
} from '../../../libs/contracts';
import { IdempotencyKeyTakenError, JobFinishedFeed, JobsRepository, NodesRepository, type JobRecord, type NewJob } from '../../../libs/db';
import { TenantsRepository } from '../../../libs/db/tenants.repository';
import type { PriorityClass } from '../../../libs/config';
import { AuditRepository } from '../../../libs/db/audit.repository';
import { InvalidParamsError } from '../../../libs/runners/runner';
import { getTaskSpec } from '../../../libs/runners/registry';
import type { Scope } from '../../../libs/auth/claims';
import { mayAccessTenant, type Actor, type RequestActor } from '../common/actor';
import { DomainError, RetryLaterError } from '../common/domain-error';
import { nulCharacter } from '../common/body-content';
import { InjectAppConfig } from '../core/app-config';
import { canonicalJson } from './canonical-json';
import { JobArtifactsService, type JobResultBody, type StagedParams } from './job-artifacts.service';
import { decodeJobCursor, encodeJobCursor } from './jobs-cursor';
import {
  DEFAULT_CPU,
  DEFAULT_GPU,
  DEFAULT_MEM_MB,
  DEFAULT_PAGE_SIZE,
  DEFAULT_PRIORITY,
  type CreateJobDto,
  type JobListQueryDto,
  type JobListResponseDto,
  type JobResponseDto,
} from './jobs.dto';
import { inSpan, setSpanAttributes } from '../../../libs/tracing';
import { toJobResponse } from './jobs.mapper';
import { whyUnschedulable } from './schedulability';
import { SubmissionLimitsService } from './submission-limits.service';

/** Started by name so the API never loads workflow code; typed by its input. */
type JobWorkflow = (input: JobWorkflowInput) => Promise<unknown>;
const JOB_WORKFLOW_TYPE = 'jobWorkflow';
// The client retries an unreachable server for much longer; a submission holds a database
// transaction meanwhile, so give up early and answer 503.
const TEMPORAL_CALL_DEADLINE_MS = 5_000;
// A long-poll re-reads its job this often even without a notification: a safety net, not the way it normally wakes.
export const JOB_WAIT_REREAD_MS = 5_000;

/** The part of a submission that decides what runs; an idempotent replay must match it exactly. */
type JobSpec = Pick<
  NewJob,
  | 'taskType'
  | 'params'
  | 'cpuMillis'
  | 'memMb'
  | 'gpu'
  | 'priority'
  | 'priorityClass'
  | 'mayPreempt'
  | 'workerGroup'
  | 'nodeSelector'
  | 'gpuModel'
  | 'gpuMemoryMb'
  | 'maxAttempts'
  | 'timeoutSeconds'
>;

export interface SubmitResult {
  job: JobResponseDto;
  /** False when an Idempotency-Key replay returned the job accepted earlier. */
  created: boolean;
}

function specOf(record: JobRecord): JobSpec {
  const { job } = record;
  return {
    taskType: job.taskType,
    params: job.params,
    cpuMillis: job.cpuMillis,
    memMb: job.memMb,
    gpu: job.gpu,
    priority: job.priority,
    priorityClass: job.priorityClass,
    mayPreempt: job.mayPreempt,
    workerGroup: job.workerGroup,
    nodeSelector: job.nodeSelector,
    gpuModel: job.gpuModel,
    gpuMemoryMb: job.gpuMemoryMb,
    maxAttempts: job.maxAttempts,
    timeoutSeconds: job.timeoutSeconds,
  };
}

/** Admission, the job read model and cancellation. */
@Injectable()
export class JobsService {
  private readonly logger = new Logger(JobsService.name);

  constructor(
    @Inject(JobsRepository) private readonly jobs: JobsRepository,
    @Inject(NodesRepository) private readonly nodes: NodesRepository,
    @Inject(Client) private readonly client: Client,
    @Inject(SubmissionLimitsService) private readonly limits: SubmissionLimitsService,
    @Inject(AuditRepository) private readonly audit: AuditRepository,
    @Inject(TenantsRepository) private readonly tenants: TenantsRepository,
    @Inject(JobArtifactsService) private readonly jobArtifacts: JobArtifactsService,
    @Inject(JobFinishedFeed) private readonly finished: JobFinishedFeed,
    @InjectAppConfig() private readonly config: AppConfig,
  ) {}

  /**
   * Accepts a job: checks it can run (and that the artifacts its params reference are the tenant's), then
   * inserts it, links its artifacts and starts its workflow in one transaction. Params larger than the inline
   * threshold are stored as an artifact: the row and the workflow input carry only its id.
   * With an idempotency key, a repeat of the same submission returns the job accepted the first time.
   * Traced as `submitJob`: the workflow's spans and the node's runAssignment span join its trace.
   */
  submit(actor: Actor, dto: CreateJobDto, idempotencyKey: string | undefined, requestId: string): Promise<SubmitResult> {
    const attributes = { 'mlis.request_id': requestId, 'mlis.tenant': actor.tenantId };
    return inSpan('submitJob', attributes, () => this.accept(actor, dto, idempotencyKey, requestId));
  }

  private async accept(actor: Actor, dto: CreateJobDto, idempotencyKey: string | undefined, requestId: string): Promise<SubmitResult> {
    const queueLimit = await this.limits.admit(actor, dto.params, requestId);
    const spec = this.admit(dto);
    const paramsJson = canonicalJson(spec.params);
    if (idempotencyKey !== undefined) {
      const earlier = await this.jobs.findByIdempotencyKey(actor.tenantId, idempotencyKey);
      if (earlier) return this.replay(earlier, spec, paramsJson);
    }
    const inputs = await this.jobArtifacts.inputs(actor, requestId, spec.params);
    await this.checkSchedulable(spec, actor.tenantId);

    const params: StagedParams | null = this.jobArtifacts.offloads(paramsJson) ? await this.jobArtifacts.stageParams(paramsJson) : null;
    const job: NewJob = {
      ...spec,
      params: params ? {} : spec.params,
      paramsArtifactId: params?.artifactId ?? null,
      id: randomUUID(),
      tenantId: actor.tenantId,
      submittedBy: actor.subject,
      idempotencyKey: idempotencyKey ?? null,
      requestId,
    };
    try {
      // The audit row shares the job row's transaction (and connection: a second one per submission
      // would exhaust the pool under a burst); the workflow starts last, so nothing starts for a job that is not committed.
      const record = await this.jobs.insert(job, async (_record, manager) => {
        if (queueLimit) await this.limits.holdQueuePlace(queueLimit, manager);
        await this.jobArtifacts.attach(manager, job, inputs, params);
        await this.audit.record(this.allowed(actor, requestId, 'job.submit', job.id, job.tenantId), manager);
        await this.startWorkflow(job);
      });
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
    const { job } = await this.find(actor, id, 'jobs:read', 'job.read');
    if (job.state !== 'SUCCEEDED') {
      throw new DomainError(ApiErrorCode.ResultNotAvailable, `job ${id} is ${job.state}: only a SUCCEEDED job has a result`);
    }
    return this.jobArtifacts.result(job);
  }

  /** The job with its result; another tenant's job is a 404 unless the actor may act across tenants. */
  async get(actor: RequestActor, id: string): Promise<JobResponseDto> {
    return toJobResponse(await this.find(actor, id, 'jobs:read', 'job.read'));
  }

  /**
   * The job once it is final, or as it is when `waitSeconds` run out or `abort` fires (the client went away).
   * Access is checked once, first (another tenant's job is a 404 at once); the waiter then sleeps on the
   * process's one LISTEN connection (JobFinishedFeed) and re-reads only when woken or every JOB_WAIT_REREAD_MS.
   */
  async waitForFinal(actor: RequestActor, id: string, waitSeconds: number, abort: AbortSignal): Promise<JobResponseDto> {
    let record = await this.find(actor, id, 'jobs:read', 'job.read');
    const deadline = Date.now() + waitSeconds * 1000;
    let woken = false;
    let wake: () => void = () => undefined;
    const onWake = () => {
      woken = true;
      wake();
    };
    // Subscribed before the re-read below, so a job finishing in between still wakes this waiter.
    const unsubscribe = this.finished.subscribe(id, onWake);
    abort.addEventListener('abort', onWake);
    try {
      record = (await this.jobs.findById(null, id)) ?? record;
      while (!TERMINAL_JOB_STATES.includes(record.job.state) && !abort.aborted && Date.now() < deadline) {
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
    } finally {
      unsubscribe();
      abort.removeEventListener('abort', onWake);
    }
    return toJobResponse(record);
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
  async cancel(actor: RequestActor, id: string, requestId: string): Promise<JobResponseDto> {
    const record = await this.find(actor, id, 'jobs:cancel', 'job.cancel');
    this.assertNotFinished(record);
    try {
      await this.withDeadline(() => this.client.workflow.getHandle(jobWorkflowId(id)).cancel());
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) {
        // The workflow closed after our read: the job has just finished.
        this.assertNotFinished(await this.find(actor, id, 'jobs:cancel', 'job.cancel'));
        throw error;
      }
      this.logger.warn({ msg: 'cancel request failed', job_id: id, error: String(error) });
      throw new DomainError(ApiErrorCode.DependencyUnavailable, 'could not reach the workflow service to cancel the job');
    }
    await this.audit.record(this.allowed(actor, requestId, 'job.cancel', id, record.job.tenantId));
    return toJobResponse(record);
  }

  private allowed(actor: Actor, requestId: string, action: string, jobId: string, jobTenant: string): AuditEventInput {
    return {
      requestId,
      actorTenant: actor.tenantId,
      actorSubject: actor.subject,
      targetTenant: jobTenant,
      action,
      resource: `job/${jobId}`,
      result: 'allow',
      reason: null,
    };
  }

  /** Most recent jobs of the tenant, for the console. */
  async recent(actor: Actor, limit: number): Promise<JobResponseDto[]> {
    return (await this.jobs.list({ tenantId: actor.tenantId, limit })).map(toJobResponse);
  }

  /**
   * The job, if the actor may see it under `scope`. Another tenant's job answers exactly like a missing
   * one (no existence leak) but leaves a deny row in the audit log.
   */
  private async find(actor: RequestActor, id: string, scope: Scope, action: string): Promise<JobRecord> {
    const record = await this.jobs.findById(null, id);
    if (record && mayAccessTenant(actor, record.job.tenantId, scope)) return record;
    if (record) await this.denyOtherTenant(actor, record.job.tenantId, action, `job/${id}`);
    throw new DomainError(ApiErrorCode.JobNotFound, `job ${id} not found`);
  }

  /** Which tenant a list shows: null for every tenant, undefined for nothing (another tenant, without the capability). */
  private async listedTenant(actor: RequestActor, requested: string | undefined): Promise<string | null | undefined> {
    if (actor.crossTenant && actor.scopes.has('jobs:read')) return requested ?? null;
    if (requested === undefined || requested === actor.tenantId) return actor.tenantId;
    await this.denyOtherTenant(actor, requested, 'job.list', `tenant/${requested}`);
    return undefined;
  }

  // Best effort: the caller gets its 404 (or empty page) whether or not the row could be written.
  private async denyOtherTenant(actor: RequestActor, targetTenant: string, action: string, resource: string): Promise<void> {
    try {
      await this.audit.record({
        requestId: actor.requestId,
        actorTenant: actor.tenantId,
        actorSubject: actor.subject,
        targetTenant,
        action,
        resource,
        result: 'deny',
        reason: 'other_tenant',
      });
    } catch (error) {
      this.logger.error({ msg: 'audit write failed for a cross-tenant denial', request_id: actor.requestId, error: String(error) });
    }
  }

  private assertNotFinished(record: JobRecord): void {
    if (TERMINAL_JOB_STATES.includes(record.job.state)) {
      throw new DomainError(ApiErrorCode.JobAlreadyFinished, `job ${record.job.id} already finished ${record.job.state}`);
    }
  }

  /**
   * Task type and params, checked by the same runner code the node runs. The params are stored as the
   * user sent them: the node validates them again, and a runner's parsed form is not its input format.
   */
  private admit(dto: CreateJobDto): JobSpec {
    const task = getTaskSpec(dto.task_type);
    if (!task) {
      throw new DomainError(ApiErrorCode.UnknownTaskType, `unknown task type "${dto.task_type}"`, [
        { field: 'task_type', problem: 'no runner for this task type' },
      ]);
    }
    const params = dto.params ?? {};
    // Free JSON in the document, so the ledger's limit is the params' problem (422), like the runner's rules.
    const nul = nulCharacter(params, 'params');
    if (nul !== undefined) throw new DomainError(ApiErrorCode.InvalidParams, `params ${nul.problem}: the ledger cannot store it`, [nul]);
    try {
      task.validate(params);
    } catch (error) {
      if (error instanceof InvalidParamsError) {
        throw new DomainError(ApiErrorCode.InvalidParams, error.message, error.details);
      }
      throw error;
    }
    const { scheduling } = this.config;
    const gpu = dto.gpu ?? DEFAULT_GPU;
    // A GPU selector on a job without GPUs selects nothing: most likely --gpu was forgotten.
    const gpuSelectors = (['gpu_model', 'gpu_memory_mb'] as const).filter((field) => dto[field] !== undefined);
    if (gpu === 0 && gpuSelectors.length > 0) {
      throw new DomainError(
        ApiErrorCode.ValidationFailed,
        `${gpuSelectors.join(' and ')} need gpu > 0`,
        gpuSelectors.map((field) => ({ field, problem: 'only meaningful with gpu > 0' })),
      );
    }
    const priorityClass = this.priorityClass(dto);
    return {
      taskType: dto.task_type,
      params,
      cpuMillis: (dto.cpu ?? DEFAULT_CPU) * 1000,
      memMb: dto.mem_mb ?? DEFAULT_MEM_MB,
      gpu,
      priority: priorityClass?.priority ?? dto.priority ?? DEFAULT_PRIORITY,
      priorityClass: priorityClass?.name ?? null,
      mayPreempt: priorityClass?.preempting ?? false,
      workerGroup: dto.worker_group ?? null,
      nodeSelector: dto.node_selector ?? {},
      gpuModel: dto.gpu_model ?? null,
      gpuMemoryMb: dto.gpu_memory_mb ?? null,
      maxAttempts: dto.max_attempts ?? scheduling.defaultMaxAttempts,
      timeoutSeconds: dto.timeout_seconds ?? scheduling.defaultTimeoutSeconds,
    };
  }

  /** The configured class a submission names; a priority and a class together are two answers to one question. */
  private priorityClass(dto: CreateJobDto): PriorityClass | null {
    if (dto.priority_class === undefined) return null;
    if (dto.priority !== undefined) {
      throw new DomainError(ApiErrorCode.ValidationFailed, 'give priority or priority_class, not both', [
        { field: 'priority_class', problem: 'cannot be combined with priority' },
      ]);
    }
    const classes = this.config.scheduling.priorityClasses;
    const found = classes.find((candidate) => candidate.name === dto.priority_class);
    if (!found) {
      throw new DomainError(ApiErrorCode.UnknownPriorityClass, `unknown priority_class "${dto.priority_class}"; the classes are ${classes.map((c) => c.name).join(', ')}`, [
        { field: 'priority_class', problem: `one of ${classes.map((c) => c.name).join(', ')}` },
      ]);
    }
    return found;
  }

  /** Params compare by the sha256 of their canonical JSON, so offloaded params compare without being read back. */
  private async replay(earlier: JobRecord, spec: JobSpec, paramsJson: string): Promise<SubmitResult> {
    const before = { ...specOf(earlier), params: await this.jobArtifacts.paramsDigest(earlier.job) };
    const now = { ...spec, params: this.jobArtifacts.digestOf(paramsJson) };
    if (canonicalJson(before) !== canonicalJson(now)) {
      throw new DomainError(
        ApiErrorCode.IdempotencyConflict,
        `Idempotency-Key was already used for job ${earlier.job.id} with a different request`,
      );
    }
    return { job: toJobResponse(earlier), created: false };
  }

  /**
   * Refuses a request that no registered node could run even when empty (its selectors included), or that
   * the tenant's max_gpus could never allow. With no node registered yet (in its group) the job is accepted
   * and waits, since the cluster's shape is unknown.
   */
  private async checkSchedulable(spec: JobSpec, tenantId: string): Promise<void> {
    const [nodes, workerGroups, tenant] = await Promise.all([this.nodes.list(), this.nodes.workerGroupNames(), this.tenants.findById(tenantId)]);
    const problem = whyUnschedulable(spec, {
      nodes: nodes.map((node) => ({
        group: node.groupName,
        labels: node.labels,
        cpuMillis: node.cpuMillis,
        memMb: node.memMb,
        gpus: node.gpus.map((gpu) => ({ index: gpu.index, model: gpu.model, memoryMb: gpu.memory_mb })),
      })),
      workerGroups,
      tenantMaxGpus: tenant?.maxGpus ?? null,
    });
    if (problem) throw new DomainError(ApiErrorCode.Unschedulable, problem.message, problem.details);
  }

  private withDeadline<T>(call: () => Promise<T>): Promise<T> {
    return this.client.connection.withDeadline(Date.now() + TEMPORAL_CALL_DEADLINE_MS, call);
  }

  private async startWorkflow(job: NewJob): Promise<void> {
    const { scheduling } = this.config;
    const input: JobWorkflowInput = {
      jobId: job.id,
      tenantId: job.tenantId,
      taskType: job.taskType,
      params: job.params,
      paramsArtifactId: job.paramsArtifactId,
      maxAttempts: job.maxAttempts,
      timeoutSeconds: job.timeoutSeconds,
      leaseSeconds: scheduling.leaseSeconds,
      scheduleToStartSeconds: scheduling.scheduleToStartSeconds,
      capacityRetrySeconds: scheduling.capacityRetrySeconds,
    };
    setSpanAttributes({ 'mlis.job_id': job.id });
    try {
      await this.withDeadline(() =>
        this.client.workflow.start<JobWorkflow>(JOB_WORKFLOW_TYPE, {
          taskQueue: CONTROL_TASK_QUEUE,
          workflowId: jobWorkflowId(job.id),
          args: [input],
          // Read by the workflow's interceptor, which hands it to every activity's log lines.
          memo: { request_id: job.requestId ?? undefined, tenant: job.tenantId } satisfies LogContext,
          typedSearchAttributes: [
            { key: SEARCH_ATTRIBUTES.tenant, value: job.tenantId },
            { key: SEARCH_ATTRIBUTES.taskType, value: job.taskType },
            { key: SEARCH_ATTRIBUTES.state, value: 'QUEUED' },
          ],
        }),
      );
    } catch (error) {
      // Thrown inside the insert transaction: the job row is rolled back with it.
      this.logger.error({ msg: 'starting the job workflow failed', job_id: job.id, error: String(error) });
      throw new DomainError(ApiErrorCode.DependencyUnavailable, 'the workflow service is unavailable; the job was not accepted');
    }
  }
}
