// In-memory stand-ins for the API's dependencies, for specs that run without Postgres or Temporal.
import type { EntityManager } from 'typeorm';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { AuditEventInput, JobState, Placement } from '@mlis/contracts';
import {
  JobFinishedFeed,
  type AssignmentsRepository,
  type AuditRepository,
  IdempotencyKeyTakenError,
  UnknownWorkerGroupError,
  type CycleOutcome,
  type CycleReason,
  type AttentionJob,
  type GpuReservation,
  type JobAssignmentEntity,
  type JobChange,
  type JobCursor,
  type JobEntity,
  type JobHealthQuery,
  type JobListQuery,
  type JobRecord,
  type JobsRepository,
  type MetricsRepository,
  type MetricsSnapshot,
  type NewJob,
  type NodeEntity,
  type NodeHeartbeatResult,
  type NodesRepository,
  type QueuedJob,
  type RegisterNodeInput,
  type StartedAttempt,
  type AccessTicketsRepository,
  type TicketHolder,
  type StartedBy,
  type TenantJobHealth,
  type TenantShare,
  type WorkerGroupSummary,
} from '@mlis/db';
import type { NewJobOptions } from '@mlis/temporal';

/** A ledger with nothing in it, as the metrics snapshot reads it; `topTenants` the tenants it ranks. */
export function fakeMetricsRepository(topTenants: string[] = []): MetricsRepository {
  const empty: MetricsSnapshot = {
    jobsByState: [],
    waitingByReason: [],
    decisions: [],
    nodes: [],
    capacity: [],
    heartbeatAges: [],
    lastCycleAt: null,
    topTenants,
  };
  return { snapshot: async () => empty, topTenants: async () => topTenants } as unknown as MetricsRepository;
}

/** A repository's methods: what a fake of it implements. */
export type Db<T> = Pick<T, { [K in keyof T]: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T]>;

function exactTime(date: Date): string {
  return date.toISOString().replace('Z', '000Z');
}

function byNewest(a: JobCursor, b: JobCursor): number {
  return a.createdAt !== b.createdAt ? (a.createdAt < b.createdAt ? 1 : -1) : a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export class FakeJobsRepository implements Omit<Db<JobsRepository>, 'deleteFinishedBefore'> {
  readonly records: JobRecord[] = [];
  private clockMs = Date.parse('2025-01-01T00:00:00.000Z');

  /** The audit log the job's audit row goes to, with the job, as in the one statement of JobsRepository.insert. */
  constructor(private readonly audit: Pick<AuditRepository, 'record'>) {}

  async insert(job: NewJob, audit: AuditEventInput, afterInsert?: (manager: EntityManager) => Promise<void>): Promise<JobRecord> {
    if (job.idempotencyKey !== null && this.records.some((r) => r.job.tenantId === job.tenantId && r.job.idempotencyKey === job.idempotencyKey)) {
      throw new IdempotencyKeyTakenError('taken');
    }
    const record = this.build({ ...job });
    // No database here: the fakes ignore the manager. Both rows are kept only when everything succeeded, as at a commit.
    await afterInsert?.({} as EntityManager);
    await this.audit.record(audit);
    this.records.push(record);
    return record;
  }

  async findById(tenantId: string | null, id: string): Promise<JobRecord | null> {
    return this.records.find((r) => (tenantId === null || r.job.tenantId === tenantId) && r.job.id === id) ?? null;
  }

  async findByIdempotencyKey(tenantId: string, key: string): Promise<JobRecord | null> {
    return this.records.find((r) => r.job.tenantId === tenantId && r.job.idempotencyKey === key) ?? null;
  }

  async list(query: JobListQuery): Promise<JobRecord[]> {
    const after = query.after;
    return this.records
      .filter((r) => (query.tenantId === null || r.job.tenantId === query.tenantId) && (!query.state || r.job.state === query.state))
      .filter((r) => (!query.taskType || r.job.taskType === query.taskType) && (!query.workerGroup || r.job.workerGroup === query.workerGroup))
      .filter((r) => !query.submittedBy || r.job.submittedBy === query.submittedBy)
      .filter((r) => !query.nodeId || r.assignments.some((a) => a.assignment.nodeId === query.nodeId))
      .filter((r) => (!query.createdAfter || r.job.createdAt >= query.createdAfter) && (!query.createdBefore || r.job.createdAt < query.createdBefore))
      .filter((r) => !after || byNewest(r.cursor, after) > 0)
      .sort((a, b) => byNewest(a.cursor, b.cursor))
      .slice(0, query.limit);
  }

  /** What queueCycleAt, queue and tenantShares answer. */
  cycleAt: string | null = null;
  queued: QueuedJob[] = [];
  shares: TenantShare[] = [];

  async queue(limit: number): Promise<QueuedJob[]> {
    return this.queued.slice(0, limit);
  }

  async tenantShares(): Promise<TenantShare[]> {
    return this.shares;
  }

  async queueCycleAt(): Promise<string | null> {
    return this.cycleAt;
  }

  async clock(): Promise<string> {
    return new Date(this.clockMs).toISOString();
  }

  async changedSince(tenantId: string, since: string, lookbackSeconds: number, limit: number): Promise<JobChange[]> {
    return this.changes(tenantId, limit, (job) => job.updatedAt.getTime() > Date.parse(since) - lookbackSeconds * 1000);
  }

  async changedAfter(tenantId: string, after: Pick<JobChange, 'id' | 'updated_at'>, limit: number): Promise<JobChange[]> {
    const afterMs = Date.parse(after.updated_at);
    return this.changes(tenantId, limit, (job) => job.updatedAt.getTime() > afterMs || (job.updatedAt.getTime() === afterMs && job.id > after.id));
  }

  /** The tenant's jobs that `keep` takes, in the ledger's (updated_at, id) order. */
  private changes(tenantId: string, limit: number, keep: (job: JobRecord['job']) => boolean): JobChange[] {
    return this.records
      .map((r) => r.job)
      .filter((job) => job.tenantId === tenantId && keep(job))
      .sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime() || (a.id < b.id ? -1 : 1))
      .slice(0, limit)
      .map((job) => ({ id: job.id, state: job.state, updated_at: job.updatedAt.toISOString() }));
  }

  async health(tenantId: string, { waitingSince, failedSince, exhaustedSince, limit }: JobHealthQuery): Promise<TenantJobHealth> {
    const mine = this.records.map((r) => r.job).filter((job) => job.tenantId === tenantId);
    const queued = mine.filter((job) => job.state === 'QUEUED').sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    const failedAfter = (since: Date) => mine.filter((job) => job.state === 'FAILED' && job.finishedAt !== null && job.finishedAt >= since);
    const lite = (job: JobRecord['job']): AttentionJob => ({
      id: job.id,
      state: job.state,
      pendingReason: job.pendingReason,
      pendingDetail: job.pendingDetail,
      errorCode: job.error?.code ?? null,
      createdAt: job.createdAt,
      finishedAt: job.finishedAt,
    });
    return {
      oldestQueuedAt: queued[0]?.createdAt ?? null,
      failedSince: failedAfter(failedSince).length,
      waitingLong: queued.filter((job) => job.createdAt < waitingSince).slice(0, limit).map(lite),
      exhausted: failedAfter(exhaustedSince)
        .filter((job) => job.error?.code === 'MaxAttemptsExhausted')
        .sort((a, b) => b.finishedAt!.getTime() - a.finishedAt!.getTime())
        .slice(0, limit)
        .map(lite),
    };
  }

  async countByState(tenantId: string, finishedSince: Date): Promise<Map<JobState, number>> {
    const counts = new Map<JobState, number>();
    const counted = (job: JobEntity) => job.finishedAt === null || job.finishedAt >= finishedSince;
    for (const { job } of this.records.filter((r) => r.job.tenantId === tenantId && counted(r.job))) {
      counts.set(job.state, (counts.get(job.state) ?? 0) + 1);
    }
    return counts;
  }

  /** Adds a job as if the API had accepted it; `createdAt` ticks one millisecond per job unless given. */
  seed(overrides: Partial<JobEntity> & { id: string }, assignments: Partial<JobAssignmentEntity>[] = []): JobRecord {
    const record = this.build(overrides, assignments);
    this.records.push(record);
    return record;
  }

  private build(overrides: Partial<JobEntity> & { id: string }, assignments: Partial<JobAssignmentEntity>[] = []): JobRecord {
    const createdAt = overrides.createdAt ?? new Date((this.clockMs += 1));
    const job: JobEntity = {
      tenantId: 'default',
      submittedBy: 'anonymous',
      taskType: 'sleep',
      params: { seconds: 1 },
      paramsArtifactId: null,
      paramsSha256: null,
      cpuMillis: 1000,
      memMb: 256,
      gpu: 0,
      priority: 0,
      priorityClass: null,
      mayPreempt: false,
      workerGroup: null,
      nodeSelector: {},
      gpuModel: null,
      gpuMemoryMb: null,
      state: 'QUEUED',
      pendingReason: null,
      pendingDetail: null,
      queuePosition: null,
      attempts: 0,
      maxAttempts: 3,
      timeoutSeconds: 3600,
      idempotencyKey: null,
      result: null,
      resultArtifactId: null,
      error: null,
      requestId: null,
      updatedAt: createdAt,
      startedAt: null,
      finishedAt: null,
      ...overrides,
      createdAt,
    };
    return {
      job,
      assignments: assignments.map((a, i) => ({
        assignment: {
          id: `00000000-0000-4000-8000-00000000000${i}`,
          jobId: job.id,
          attempt: i + 1,
          nodeId: 'cpu-1',
          nodeIncarnation: 1,
          groupName: 'cpu',
          gpuIds: [],
          slots: 1,
          cpuMillis: job.cpuMillis,
          memMb: job.memMb,
          state: 'RUNNING',
          reason: null,
          preemptRequestedAt: null,
          preemptedBy: null,
          createdAt,
          startedAt: null,
          endedAt: null,
          nodeHostname: 'host-a',
          nodePid: 4242,
          ...a,
        },
        hostname: a.nodeHostname ?? 'host-a',
        pid: a.nodePid ?? 4242,
      })),
      cursor: { createdAt: exactTime(createdAt), id: job.id },
    };
  }
}

export function fakeNode(overrides: Partial<NodeEntity> & { id: string }): NodeEntity {
  const now = new Date('2025-01-01T00:00:00.000Z');
  return {
    groupName: 'cpu',
    hostname: 'host-a',
    pid: 4242,
    incarnation: 1,
    status: 'ACTIVE',
    slots: 4,
    cpuMillis: 4000,
    memMb: 8192,
    gpuCount: 0,
    gpus: [],
    labels: {},
    usedSlots: 0,
    usedCpuMillis: 0,
    usedMemMb: 0,
    usedGpus: 0,
    lastSeenAt: now,
    registeredAt: now,
    updatedAt: now,
    leftAt: null,
    ...overrides,
  };
}

/** The node registry as the API uses it (marking silent nodes dead is the control process's reaper's). */
/** The assignments PLACED on each node incarnation, for a node's "started" report; the rest of the lifecycle is control's. */
export class FakeAssignmentsRepository implements Pick<Db<AssignmentsRepository>, 'markAssignmentRunning'> {
  placed: { assignmentId: string; nodeId: string; incarnation: number; group: string }[] = [];
  /** How long each attempt marked RUNNING had run when reported, ms. */
  runningForMs: number[] = [];

  async markAssignmentRunning(started: StartedBy): Promise<StartedAttempt | null> {
    if (!('assignmentId' in started)) return null;
    const index = this.placed.findIndex(
      (a) => a.assignmentId === started.assignmentId && a.nodeId === started.nodeId && a.incarnation === started.incarnation,
    );
    if (index < 0) return null;
    const [{ group }] = this.placed.splice(index, 1);
    this.runningForMs.push(started.runningForMs);
    return { group, tenantId: 'default', admissionWaitSeconds: 1.5 };
  }
}

export class FakeNodesRepository implements Omit<Db<NodesRepository>, 'markSilentNodesDead' | 'forgetDeadNodes'> {
  nodes: NodeEntity[] = [];
  /** The API process ids recorded as up (ApiPresence), one entry a write. */
  apiInstances: string[] = [];

  async recordApiInstance(instanceId: string): Promise<void> {
    this.apiInstances.push(instanceId);
  }
  reservations: GpuReservation[] = [];

  async gpuReservations(nodeId?: string): Promise<GpuReservation[]> {
    return this.reservations.filter((r) => nodeId === undefined || r.nodeId === nodeId);
  }

  /** What liveCountsByGroup answers; a function so a spec can make it fail. */
  liveCounts: () => Promise<Map<string, number>> = async () => new Map();

  /** How many times the node list was read. */
  listed = 0;

  async list(): Promise<NodeEntity[]> {
    this.listed += 1;
    return this.nodes;
  }

  async findById(nodeId: string): Promise<NodeEntity | null> {
    return this.nodes.find((node) => node.id === nodeId) ?? null;
  }

  /** The worker groups: the API ensures its configured ones (MLIS_WORKER_GROUPS defaults: cpu, gpu) at start. */
  workerGroups: string[] = [];
  registered: RegisterNodeInput[] = [];
  heartbeatAnswer: NodeHeartbeatResult = 'ok';

  async ensureWorkerGroups(names: string[]): Promise<void> {
    this.workerGroups.push(...names.filter((name) => !this.workerGroups.includes(name)));
  }

  async workerGroupNames(): Promise<string[]> {
    return [...this.workerGroups].sort();
  }

  async registerNode(input: RegisterNodeInput, audit?: (manager: EntityManager) => Promise<void>): Promise<{ incarnation: number }> {
    if (!this.workerGroups.includes(input.group)) throw new UnknownWorkerGroupError(`unknown worker group "${input.group}"`);
    await audit?.({} as EntityManager);
    this.registered.push(input);
    return { incarnation: this.registered.filter((r) => r.nodeId === input.nodeId).length };
  }

  async heartbeatNode(): Promise<NodeHeartbeatResult> {
    return this.heartbeatAnswer;
  }

  /** Like the ledger: a DEAD node stays DEAD. */
  async setNodeDraining(nodeId: string, draining: boolean, audit?: (manager: EntityManager) => Promise<void>): Promise<boolean> {
    const node = this.nodes.find((n) => n.id === nodeId);
    if (!node || node.status === 'DEAD') return false;
    await audit?.({} as EntityManager);
    node.status = draining ? 'DRAINING' : 'ACTIVE';
    return true;
  }

  /** Like the ledger: a node of that incarnation leaves once; an ACTIVE one is DEAD, a DRAINING one stays DRAINING. */
  async leaveNode(nodeId: string, incarnation: number, audit?: (manager: EntityManager) => Promise<void>): Promise<boolean> {
    const node = this.nodes.find((n) => n.id === nodeId && n.incarnation === incarnation);
    if (!node || node.status === 'DEAD' || node.leftAt !== null) return false;
    await audit?.({} as EntityManager);
    if (node.status === 'ACTIVE') node.status = 'DEAD';
    node.leftAt = new Date();
    return true;
  }

  async liveCountsByGroup(): Promise<Map<string, number>> {
    return this.liveCounts();
  }

  /** Group summaries are SQL aggregates: a spec sets what the repository answers, and the arguments are recorded. */
  groups: WorkerGroupSummary[] = [];
  readonly groupSummaryCalls: number[] = [];

  async groupSummaries(seenWithinSeconds: number): Promise<WorkerGroupSummary[]> {
    this.groupSummaryCalls.push(seenWithinSeconds);
    return this.groups;
  }
}

export class FakeScheduler {
  /** Why each cycle was asked for, in order. */
  reasons: CycleReason[] = [];
  failWith: Error | undefined;

  get calls(): number {
    return this.reasons.length;
  }

  async requestCycle(reason: CycleReason): Promise<CycleOutcome> {
    this.reasons.push(reason);
    if (this.failWith) throw this.failWith;
    return { placed: [], preempted: [], waiting: 0 };
  }

  /** What the cycle before a new job's workflow start answers for every job: a spec sets it; by default the job waits. */
  newJobPlacement: Placement | undefined;
  readonly newJobs: string[] = [];
  /** Whether each placeNewJob call said its caller had inserted the row just now. */
  readonly insertedJustNow: boolean[] = [];

  async placeNewJob(jobId: string, { insertedJustNow = false }: NewJobOptions = {}): Promise<Placement | undefined> {
    this.newJobs.push(jobId);
    this.insertedJustNow.push(insertedJustNow);
    if (this.failWith) throw this.failWith;
    return this.newJobPlacement;
  }
}

export interface StartedWorkflow {
  workflowType: string;
  options: {
    taskQueue: string;
    workflowId: string;
    args: unknown[];
    typedSearchAttributes: { key: { name: string }; value: unknown }[];
    memo?: Record<string, unknown>;
  };
}

/** The slice of the Temporal client the API uses. */
export class FakeTemporalClient {
  readonly started: StartedWorkflow[] = [];
  readonly cancelled: string[] = [];
  startError: Error | undefined;
  cancelError: Error | undefined;
  healthy = true;
  closed = false;

  readonly workflow = {
    start: async (workflowType: string, options: StartedWorkflow['options']) => {
      if (this.startError) throw this.startError;
      // Every start uses REJECT_DUPLICATE: a job's workflow id runs once, ever.
      if (this.hasStarted(options.workflowId)) {
        throw new WorkflowExecutionAlreadyStartedError('already started', options.workflowId, workflowType);
      }
      this.started.push({ workflowType, options });
      return { workflowId: options.workflowId, eagerlyStarted: false };
    },
    getHandle: (workflowId: string) => ({
      cancel: async () => {
        if (this.cancelError) throw this.cancelError;
        if (!this.hasStarted(workflowId)) throw FakeTemporalClient.notFound(workflowId);
        this.cancelled.push(workflowId);
      },
    }),
  };

  readonly connection = {
    withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn(),
    workflowService: {
      getSystemInfo: async () => {
        if (!this.healthy) throw new Error('14 UNAVAILABLE: connection refused');
        return {};
      },
    },
    close: async () => {
      this.closed = true;
    },
  };

  private hasStarted(workflowId: string): boolean {
    return this.started.some((s) => s.options.workflowId === workflowId);
  }

  static notFound(workflowId: string): WorkflowNotFoundError {
    return new WorkflowNotFoundError('workflow not found', workflowId, undefined);
  }
}

export class FakeDataSource {
  healthy = true;
  readonly isInitialized = false;

  async query(): Promise<unknown[]> {
    if (!this.healthy) throw new Error('connect ECONNREFUSED 127.0.0.1:55432');
    return [{ '?column?': 1 }];
  }

  async destroy(): Promise<void> {}
}

/** The job-finished feed without Postgres: a spec calls `notify` where a committed final state would. */
export class FakeJobFinishedFeed implements Db<JobFinishedFeed> {
  private readonly listeners = new Map<string, Set<() => void>>();
  listening = true;

  start(): void {}

  isListening(): boolean {
    return this.listening;
  }

  /** What a reconnect does: wakes every listener, as anything may have ended while the feed was not listening. */
  reconnected(): void {
    this.listening = true;
    for (const jobId of [...this.listeners.keys()]) this.notify(jobId);
  }

  subscribe(jobId: string, listener: () => void): () => void {
    const set = this.listeners.get(jobId) ?? new Set();
    this.listeners.set(jobId, set);
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(jobId) === set) this.listeners.delete(jobId);
    };
  }

  notify(jobId: string): void {
    for (const listener of [...(this.listeners.get(jobId) ?? [])]) listener();
  }

  /** Waiters subscribed now, over all jobs. */
  get subscribed(): number {
    return [...this.listeners.values()].reduce((sum, set) => sum + set.size, 0);
  }

  async close(): Promise<void> {}
}

/** Tickets in memory, by the same SHA-256 key; expiry by the wall clock, or at once by `expireAll`. */
export class FakeAccessTicketsRepository implements Db<AccessTicketsRepository> {
  private readonly tickets = new Map<string, { holder: TicketHolder; expiresAt: number }>();

  async issue(ticketSha256: Buffer, holder: TicketHolder, ttlSeconds: number): Promise<Date> {
    const expiresAt = Date.now() + ttlSeconds * 1000;
    this.tickets.set(ticketSha256.toString('hex'), { holder, expiresAt });
    return new Date(expiresAt);
  }

  async redeem(ticketSha256: Buffer): Promise<TicketHolder | null> {
    const key = ticketSha256.toString('hex');
    const entry = this.tickets.get(key);
    this.tickets.delete(key);
    return entry && entry.expiresAt > Date.now() ? entry.holder : null;
  }

  expireAll(): void {
    for (const entry of this.tickets.values()) entry.expiresAt = 0;
  }
}
