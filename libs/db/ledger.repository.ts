import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import {
  nodeTaskQueue,
  TERMINAL_JOB_STATES,
  type EndAssignmentInput,
  type EndedAssignmentState,
  type FinishJobInput,
  type JobState,
  type LedgerWriteResult,
  type PendingReason,
  type PlaceJobResult,
} from '../contracts';
import { planCycle, type GroupUsage, type PlannedPlacement, type SchedulerNode, type TenantPolicy, type WaitingJob } from '../ledger';
import type { GpuDevice } from './entities/node.entity';
import { JOB_FINISHED_CHANNEL } from './job-finished-feed';
import { NodeView } from './node-view';
import { preparedOn, type PreparedQuery } from './prepared';
import { groupLimitsOf, type StoredGroupLimits } from './tenants.repository';

export class UnknownWorkerGroupError extends Error {}
export class JobNotFoundError extends Error {}
/** No row for the job (yet): the API starts the workflow inside the transaction that inserts it. */
export class JobRowMissingError extends JobNotFoundError {}

export interface RegisterNodeInput {
  nodeId: string;
  group: string;
  hostname: string;
  pid: number;
  slots: number;
  cpuMillis: number;
  memMb: number;
  gpus: GpuDevice[];
  labels: Record<string, string>;
}

export type NodeHeartbeatResult = 'ok' | 'superseded' | 'unknown';

export interface CycleOptions {
  /** Nodes silent for longer than this are not placed on. */
  liveWithinSeconds: number;
  agingSeconds: number;
  laneWindow: number;
  holdDepth: number;
}

export interface CycleOutcome {
  /** Jobs placed: their workflows are told to pick the placement up. */
  placed: { jobId: string; attempt: number }[];
  /** Running attempts asked to give their resources back. */
  preempted: { jobId: string; attempt: number; forJobId: string }[];
  /** Waiting jobs the cycle looked at and left waiting. */
  waiting: number;
}

/** An attempt a node confirmed it started: what its admission-wait observation needs. */
export interface StartedAttempt {
  group: string;
  /** Seconds from submission, when this is the job's first attempt to run; null for a later one. */
  admissionWaitSeconds: number | null;
}

/** An attempt a ledger write ended: what its run-duration, lease-loss and preemption observations need. */
export interface EndedAttempt {
  group: string;
  taskType: string;
  /** Seconds it ran; null when it ended before it started (PLACED). */
  runSeconds: number | null;
}

// Postgres error codes a concurrent placement can hit; the whole cycle is retried.
const RETRYABLE_PLACEMENT_ERRORS = new Set(['23505', '23514', '40001', '40P01']);
// One scheduling cycle at a time across every process (pg_advisory_xact_lock key).
const SCHEDULER_LOCK_KEY = 727_001;
const PLACEMENT_TRIES = 5;
const TERMINAL = TERMINAL_JOB_STATES as readonly string[];

type Queryable = Pick<EntityManager, 'query'>;

/** Runs an UPDATE or DELETE … RETURNING: TypeORM answers those with [rows, affected] instead of rows. */
async function updateReturning<T>(db: Queryable, sql: string, params: unknown[]): Promise<T[]> {
  const [rows] = (await db.query(sql, params)) as [T[], number];
  return rows;
}

/** Lost a race for a node between choosing it and reserving it. */
class PlacementRaceError extends Error {}

interface TenantRow {
  id: string;
  weight: number;
  max_running_jobs: number | null;
  max_gpus: number | null;
  group_limits: StoredGroupLimits;
  running_jobs: number | null;
  cpu_millis: string | null;
  mem_mb: string | null;
  gpus: number | null;
}

interface WaitingRow {
  id: string;
  tenant_id: string;
  priority: number;
  may_preempt: boolean;
  created_ms: number;
  attempts: number;
  cpu_millis: number;
  mem_mb: number;
  gpu: number;
  worker_group: string | null;
  node_selector: Record<string, string>;
  gpu_model: string | null;
  gpu_memory_mb: number | null;
  pending_reason: PendingReason | null;
  pending_detail: string | null;
}

interface RunningRow {
  id: string;
  job_id: string;
  attempt: number;
  tenant_id: string;
  priority: number;
  node_id: string;
  cpu_millis: number;
  mem_mb: number;
  gpu_ids: number[];
  created_ms: number;
  preempting: boolean;
}

/** How many placements, and how much they reserve, per key (node or tenant). */
function totalsBy(placements: PlannedPlacement[], keyOf: (p: PlannedPlacement) => string): Map<string, { count: number; cpu: number; mem: number; gpus: number }> {
  const totals = new Map<string, { count: number; cpu: number; mem: number; gpus: number }>();
  for (const p of placements) {
    const sum = totals.get(keyOf(p)) ?? { count: 0, cpu: 0, mem: 0, gpus: 0 };
    sum.count += 1;
    sum.cpu += p.request.cpuMillis;
    sum.mem += p.request.memMb;
    sum.gpus += p.request.gpu;
    totals.set(keyOf(p), sum);
  }
  return totals;
}

function toWaitingJob(row: WaitingRow, lost: { job_id: string; node_id: string; node_incarnation: number }[]): WaitingJob {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    priority: row.priority,
    mayPreempt: row.may_preempt,
    createdAtMs: row.created_ms,
    nextAttempt: row.attempts + 1,
    request: { cpuMillis: row.cpu_millis, memMb: row.mem_mb, gpu: row.gpu },
    selector: { workerGroup: row.worker_group, labels: row.node_selector, gpuModel: row.gpu_model, gpuMemoryMb: row.gpu_memory_mb },
    lostOn: lost.filter((l) => l.job_id === row.id).map((l) => ({ nodeId: l.node_id, incarnation: l.node_incarnation })),
  };
}

/**
 * Every write to the capacity ledger. Each method is one transaction and idempotent,
 * keyed by (job id, attempt), because Temporal may run an activity more than once.
 */
export class LedgerRepository {
  // The nodes as the last cycle read them; each cycle reads only the rows changed since.
  private readonly nodeView = new NodeView();

  constructor(private readonly dataSource: DataSource) {}

  async ensureWorkerGroups(names: string[]): Promise<void> {
    for (const name of names) {
      await this.dataSource.query(`INSERT INTO worker_groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, [name]);
    }
  }

  /** Registers a node or re-registers it with a new incarnation: ACTIVE again, unless it was DRAINING. */
  async registerNode(input: RegisterNodeInput): Promise<{ incarnation: number }> {
    return this.dataSource.transaction(async (m) => {
      const groups: unknown[] = await m.query(`SELECT 1 FROM worker_groups WHERE name = $1`, [input.group]);
      if (groups.length === 0) throw new UnknownWorkerGroupError(`unknown worker group "${input.group}"`);
      const rows: { incarnation: number }[] = await m.query(
        `INSERT INTO nodes (id, group_name, hostname, pid, status, slots, cpu_millis, mem_mb, gpu_count, gpus, labels)
         VALUES ($1, $2, $3, $4, 'ACTIVE', $5, $6, $7, $8, $9, $10)
         ON CONFLICT (id) DO UPDATE SET
           group_name = EXCLUDED.group_name, hostname = EXCLUDED.hostname, pid = EXCLUDED.pid,
           incarnation = nodes.incarnation + 1,
           -- A drain is the operator's intent: a restarted node stays DRAINING until undrained.
           status = CASE WHEN nodes.status = 'DRAINING' THEN 'DRAINING' ELSE 'ACTIVE' END,
           slots = EXCLUDED.slots, cpu_millis = EXCLUDED.cpu_millis, mem_mb = EXCLUDED.mem_mb,
           gpu_count = EXCLUDED.gpu_count, gpus = EXCLUDED.gpus, labels = EXCLUDED.labels,
           last_seen_at = now(), registered_at = now(), updated_at = now()
         RETURNING incarnation`,
        [
          input.nodeId,
          input.group,
          input.hostname,
          input.pid,
          input.slots,
          input.cpuMillis,
          input.memMb,
          input.gpus.length,
          JSON.stringify(input.gpus),
          JSON.stringify(input.labels),
        ],
      );
      return { incarnation: rows[0].incarnation };
    });
  }

  /** Records node liveness. A DEAD node must register again (new incarnation) before it counts. */
  async heartbeatNode(nodeId: string, incarnation: number): Promise<NodeHeartbeatResult> {
    const updated = await updateReturning(
      this.dataSource,
      `UPDATE nodes SET last_seen_at = now() WHERE id = $1 AND incarnation = $2 AND status <> 'DEAD' RETURNING id`,
      [nodeId, incarnation],
    );
    if (updated.length > 0) return 'ok';
    const rows: { incarnation: number; status: string }[] = await this.dataSource.query(
      `SELECT incarnation, status FROM nodes WHERE id = $1`,
      [nodeId],
    );
    if (rows.length === 0 || rows[0].status === 'DEAD') return 'unknown';
    return rows[0].incarnation > incarnation ? 'superseded' : 'unknown';
  }

  /** DRAINING nodes take no new placements; their running work finishes. A DEAD node stays DEAD. */
  async setNodeDraining(nodeId: string, draining: boolean): Promise<boolean> {
    const rows = await updateReturning(
      this.dataSource,
      `UPDATE nodes SET status = $2, updated_at = now() WHERE id = $1 AND status <> 'DEAD' RETURNING id`,
      [nodeId, draining ? 'DRAINING' : 'ACTIVE'],
    );
    return rows.length > 0;
  }

  /** Marks nodes that stopped heartbeating as DEAD; returns their ids. */
  async markSilentNodesDead(deadAfterSeconds: number): Promise<string[]> {
    const rows = await updateReturning<{ id: string }>(
      this.dataSource,
      `UPDATE nodes SET status = 'DEAD', updated_at = now()
       WHERE status <> 'DEAD' AND last_seen_at < now() - make_interval(secs => $1)
       RETURNING id`,
      [deadAfterSeconds],
    );
    return rows.map((row) => row.id);
  }

  /**
   * The placement of (job, attempt) if a scheduling cycle made one, else why the job waits.
   * `examined` is false while no cycle has looked at the job since it was (re)queued.
   */
  async placementOf(jobId: string, attempt: number): Promise<PlaceJobResult & { examined: boolean }> {
    // One read: this runs for every waiting job's safety-net timer.
    const rows: {
      state: JobState;
      pending_reason: PendingReason | null;
      pending_detail: string | null;
      queue_position: number | null;
      assignment_id: string | null;
      node_id: string;
      group_name: string;
      gpu_ids: number[];
    }[] = await this.dataSource.query(
      `SELECT j.state, j.pending_reason, j.pending_detail, array_position(q.job_ids, j.id) AS queue_position,
              a.id AS assignment_id, a.node_id, a.group_name, a.gpu_ids
       FROM jobs j LEFT JOIN scheduler_queue q ON true LEFT JOIN job_assignments a ON a.job_id = j.id AND a.attempt = $2
       WHERE j.id = $1`,
      [jobId, attempt],
    );
    if (rows.length === 0) throw new JobRowMissingError(`job ${jobId} not found`);
    const job = rows[0];
    if (job.assignment_id !== null) {
      const placement = {
        assignmentId: job.assignment_id,
        attempt,
        nodeId: job.node_id,
        group: job.group_name,
        taskQueue: nodeTaskQueue(job.group_name, job.node_id),
        gpuIds: job.gpu_ids,
      };
      return { placed: true, placement, examined: true };
    }
    if (TERMINAL.includes(job.state)) throw new JobNotFoundError(`job ${jobId} already ended ${job.state}`);
    return {
      placed: false,
      pendingReason: job.pending_reason ?? 'queued',
      detail: job.pending_detail ?? 'not examined by the scheduler yet',
      queuePosition: job.queue_position,
      examined: job.pending_reason !== null,
    };
  }

  /** A job a cycle did not reach (deep in its lane) waits its turn; marking it stops it asking for more cycles. */
  async markWaitingTurn(jobId: string, laneWindow: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE jobs SET pending_reason = 'queued', updated_at = now(),
              pending_detail = 'behind the first ' || $2::int || ' waiting jobs of its tenant at its priority'
       WHERE id = $1 AND state = 'QUEUED' AND pending_reason IS NULL`,
      [jobId, laneWindow],
    );
  }

  /**
   * One scheduling cycle (see planCycle): reads the nodes, the tenants and the heads of the waiting
   * lanes, decides in memory, and writes every placement, wait reason and preemption request in one
   * transaction. Cycles are serialised across processes by an advisory lock; the node counters'
   * conditional UPDATE and CHECK constraints and the GPU reservation key still refuse any over-commit.
   */
  async runCycle(options: CycleOptions): Promise<CycleOutcome> {
    for (let tryNumber = 1; ; tryNumber++) {
      try {
        return await this.dataSource.transaction((m) => this.cycleOnce(m, options));
      } catch (error) {
        const code = (error as { code?: string }).code;
        const retryable = error instanceof PlacementRaceError || (code !== undefined && RETRYABLE_PLACEMENT_ERRORS.has(code));
        // Lost races are rare (a drain or re-registration in mid-cycle); the retry reads every node again, so
        // a view that had somehow missed a change cannot make the cycle fail again and again.
        if (error instanceof PlacementRaceError) this.nodeView.forget();
        if (!retryable || tryNumber >= PLACEMENT_TRIES) throw error;
      }
    }
  }

  private async cycleOnce(m: EntityManager, options: CycleOptions): Promise<CycleOutcome> {
    const query = preparedOn(m);
    const [{ now_ms }] = await query<{ now_ms: number }>(
      'mlis_cycle_lock',
      `SELECT pg_advisory_xact_lock(${SCHEDULER_LOCK_KEY}), (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now_ms`,
    );
    const nodes = await this.nodeView.refresh(query, options.liveWithinSeconds);
    const tenantRows = await query<TenantRow>(
      'mlis_cycle_tenants',
      `SELECT t.id, t.weight, t.max_running_jobs, t.max_gpus, t.group_limits, u.running_jobs, u.cpu_millis, u.mem_mb, u.gpus
       FROM tenants t LEFT JOIN tenant_usage u ON u.tenant_id = t.id`,
    );
    const policies = new Map(
      tenantRows.map((t): [string, TenantPolicy] => {
        const groupLimits = groupLimitsOf(t.group_limits);
        const policy = { weight: t.weight, maxRunningJobs: t.max_running_jobs, maxGpus: t.max_gpus };
        return [t.id, Object.keys(groupLimits).length > 0 ? { ...policy, groupLimits } : policy];
      }),
    );
    // What tenants with group limits hold in each group, summed from their live assignments: only they need it.
    const limitedTenants = [...policies].filter(([, policy]) => policy.groupLimits).map(([id]) => id);
    const groupUsageRows =
      limitedTenants.length === 0
        ? []
        : await query<{ tenant_id: string; group_name: string; running_jobs: number; gpus: number }>(
            'mlis_cycle_group_usage',
            `SELECT j.tenant_id, a.group_name, count(*)::int AS running_jobs, COALESCE(sum(cardinality(a.gpu_ids)), 0)::int AS gpus
             FROM job_assignments a JOIN jobs j ON j.id = a.job_id
             WHERE a.state IN ('PLACED', 'RUNNING') AND j.tenant_id = ANY($1::text[])
             GROUP BY j.tenant_id, a.group_name`,
            [limitedTenants],
          );
    const groupUsage = new Map<string, Map<string, GroupUsage>>();
    for (const row of groupUsageRows) {
      const byGroup = groupUsage.get(row.tenant_id) ?? new Map<string, GroupUsage>();
      byGroup.set(row.group_name, { runningJobs: row.running_jobs, gpus: row.gpus });
      groupUsage.set(row.tenant_id, byGroup);
    }
    // The first laneWindow jobs of every (tenant, priority) lane, found by a loose index scan:
    // the cost follows the number of lanes, not the length of the queue.
    const waitingRows = await query<WaitingRow>(
      'mlis_cycle_lanes',
      `WITH RECURSIVE lanes AS (
         (SELECT tenant_id, priority FROM jobs WHERE state = 'QUEUED' ORDER BY tenant_id, priority LIMIT 1)
         UNION ALL
         SELECT next.tenant_id, next.priority FROM lanes l CROSS JOIN LATERAL (
           SELECT tenant_id, priority FROM jobs
           WHERE state = 'QUEUED' AND (tenant_id, priority) > (l.tenant_id, l.priority)
           ORDER BY tenant_id, priority LIMIT 1) next
       )
       SELECT j.* FROM lanes l CROSS JOIN LATERAL (
         SELECT id, tenant_id, priority, may_preempt, (extract(epoch FROM created_at) * 1000)::float8 AS created_ms,
                attempts, cpu_millis, mem_mb, gpu, worker_group, node_selector, gpu_model, gpu_memory_mb,
                pending_reason, pending_detail
         FROM jobs WHERE state = 'QUEUED' AND tenant_id = l.tenant_id AND priority = l.priority
         ORDER BY created_at, id LIMIT $1) j`,
      [options.laneWindow],
    );
    // Only a job that ran before (attempts > 0) can have lost an attempt somewhere.
    const requeued = waitingRows.filter((row) => row.attempts > 0).map((row) => row.id);
    const lost: { job_id: string; node_id: string; node_incarnation: number }[] =
      requeued.length === 0
        ? []
        : await query(
            'mlis_cycle_lost',
            `SELECT job_id, node_id, node_incarnation FROM job_assignments WHERE job_id = ANY($1::uuid[]) AND state = 'LOST'`,
            [requeued],
          );
    const running: RunningRow[] = waitingRows.some((row) => row.may_preempt)
      ? await query(
          'mlis_cycle_running',
          `SELECT a.id, a.job_id, a.attempt, j.tenant_id, j.priority, a.node_id, a.cpu_millis, a.mem_mb, a.gpu_ids,
                  (extract(epoch FROM a.created_at) * 1000)::float8 AS created_ms, a.preempt_requested_at IS NOT NULL AS preempting
           FROM job_assignments a JOIN jobs j ON j.id = a.job_id WHERE a.state IN ('PLACED', 'RUNNING')`,
        )
      : [];

    const plan = planCycle({
      nowMs: now_ms,
      agingSeconds: options.agingSeconds,
      holdDepth: options.holdDepth,
      nodes: [...nodes.values()],
      tenants: policies,
      groupUsage,
      usage: new Map(
        tenantRows.map((t) => [
          t.id,
          { runningJobs: t.running_jobs ?? 0, cpuMillis: Number(t.cpu_millis ?? 0), memMb: Number(t.mem_mb ?? 0), gpus: t.gpus ?? 0 },
        ]),
      ),
      waiting: waitingRows.map((row) => toWaitingJob(row, lost)),
      running: running.map((row) => ({
        assignmentId: row.id,
        jobId: row.job_id,
        attempt: row.attempt,
        tenantId: row.tenant_id,
        priority: row.priority,
        nodeId: row.node_id,
        cpuMillis: row.cpu_millis,
        memMb: row.mem_mb,
        gpuIds: row.gpu_ids,
        createdAtMs: row.created_ms,
        preempting: row.preempting,
      })),
    });

    const placed = await this.reserve(query, plan.placements, nodes);

    const preempted: CycleOutcome['preempted'] = [];
    for (const p of plan.preemptions) {
      const marked = await query(
        'mlis_cycle_preempt',
        `UPDATE job_assignments SET preempt_requested_at = clock_timestamp(), preempted_by = $2
         WHERE id = $1 AND state IN ('PLACED', 'RUNNING') AND preempt_requested_at IS NULL RETURNING id`,
        [p.assignmentId, p.forJobId],
      );
      if (marked.length > 0) preempted.push({ jobId: p.jobId, attempt: p.attempt, forJobId: p.forJobId });
    }

    // Wait reasons are written only when they change; positions go into the one-row queue snapshot.
    // Decisions are counted when they change something: a placement, a preemption, a job's reason to wait.
    const before = new Map(waitingRows.map((row) => [row.id, row]));
    const changed = plan.waits.filter((w) => before.get(w.jobId)!.pending_reason !== w.reason || before.get(w.jobId)!.pending_detail !== w.detail);
    const decisions = [
      ...placed.map(() => ['placed', 'fit']),
      ...preempted.map(() => ['preempted', 'higher_priority']),
      ...changed.filter((w) => before.get(w.jobId)!.pending_reason !== w.reason).map((w) => ['waiting', w.reason]),
    ];
    // One round trip: data-modifying CTEs all run to completion, whether or not the final SELECT reads them.
    await query(
      'mlis_cycle_waits',
      `WITH waits AS (
         UPDATE jobs j SET pending_reason = w.reason, pending_detail = w.detail, updated_at = now()
         FROM unnest($1::uuid[], $2::text[], $3::text[]) AS w(id, reason, detail)
         WHERE j.id = w.id AND j.state = 'QUEUED' RETURNING j.id
       ), queue AS (
         INSERT INTO scheduler_queue (singleton, job_ids, cycle_at) VALUES (true, $4, now())
         ON CONFLICT (singleton) DO UPDATE SET job_ids = EXCLUDED.job_ids, cycle_at = EXCLUDED.cycle_at RETURNING 1
       ), counted AS (
         INSERT INTO scheduler_decisions (outcome, reason, total)
         SELECT outcome, reason, count(*) FROM unnest($5::text[], $6::text[]) AS d(outcome, reason) GROUP BY outcome, reason
         ON CONFLICT (outcome, reason) DO UPDATE SET total = scheduler_decisions.total + EXCLUDED.total RETURNING 1
       )
       SELECT 1`,
      [
        changed.map((w) => w.jobId),
        changed.map((w) => w.reason),
        changed.map((w) => w.detail),
        plan.waits.map((w) => w.jobId),
        decisions.map((d) => d[0]),
        decisions.map((d) => d[1]),
      ],
    );
    return { placed, preempted, waiting: plan.waits.length };
  }

  /**
   * Writes the cycle's placements in a handful of statements, whatever their number. A job that stopped
   * waiting since it was read (cancelled, say) is skipped; a node that no longer has room (or changed
   * incarnation or status) throws PlacementRaceError, which retries the whole cycle.
   */
  private async reserve(query: PreparedQuery, planned: PlannedPlacement[], nodes: ReadonlyMap<string, SchedulerNode>): Promise<CycleOutcome['placed']> {
    if (planned.length === 0) return [];
    const moved = await query<{ id: string }>(
      'mlis_cycle_move_jobs',
      `UPDATE jobs j SET state = 'RUNNING', attempts = p.attempt, pending_reason = NULL, pending_detail = NULL,
              started_at = COALESCE(j.started_at, now()), updated_at = now()
       FROM unnest($1::uuid[], $2::int[]) AS p(id, attempt)
       WHERE j.id = p.id AND j.state = 'QUEUED' AND j.attempts = p.attempt - 1
       RETURNING j.id`,
      [planned.map((p) => p.jobId), planned.map((p) => p.attempt)],
    );
    const movedIds = new Set(moved.map((row) => row.id));
    const placements = planned.filter((p) => movedIds.has(p.jobId));
    if (placements.length === 0) return [];

    const perNode = totalsBy(placements, (p) => p.nodeId);
    const nodeIds = [...perNode.keys()].sort();
    // The WHERE clause re-checks capacity on the locked rows: a concurrent change that got there first makes a row miss.
    const reserved = await query(
      'mlis_cycle_reserve_nodes',
      `UPDATE nodes n SET used_slots = n.used_slots + d.slots, used_cpu_millis = n.used_cpu_millis + d.cpu,
              used_mem_mb = n.used_mem_mb + d.mem, used_gpus = n.used_gpus + d.gpus, updated_at = now()
       FROM unnest($1::text[], $2::int[], $3::int[], $4::int[], $5::int[], $6::int[]) AS d(id, incarnation, slots, cpu, mem, gpus)
       WHERE n.id = d.id AND n.incarnation = d.incarnation AND n.status = 'ACTIVE'
         AND n.used_slots + d.slots <= n.slots AND n.used_cpu_millis + d.cpu <= n.cpu_millis
         AND n.used_mem_mb + d.mem <= n.mem_mb AND n.used_gpus + d.gpus <= n.gpu_count
       RETURNING n.id`,
      [
        nodeIds,
        nodeIds.map((id) => nodes.get(id)!.incarnation),
        nodeIds.map((id) => perNode.get(id)!.count),
        nodeIds.map((id) => perNode.get(id)!.cpu),
        nodeIds.map((id) => perNode.get(id)!.mem),
        nodeIds.map((id) => perNode.get(id)!.gpus),
      ],
    );
    if (reserved.length !== nodeIds.length) throw new PlacementRaceError('a node changed between reading and reserving');

    const assignmentIds = placements.map(() => randomUUID());
    const gpus = placements.flatMap((p, i) => p.gpuIds.map((gpuIndex) => ({ nodeId: p.nodeId, gpuIndex, assignmentId: assignmentIds[i] })));
    const perTenant = totalsBy(placements, (p) => p.tenantId);
    const tenantIds = [...perTenant.keys()].sort();
    // One round trip for the rows that follow from the reservations. clock_timestamp(), not now() (the
    // transaction's start): an assignment's lifetime must start after the release it reused capacity from.
    // Tenant rows come after every node row: a release locks node then tenant, so this order cannot deadlock.
    await query(
      'mlis_cycle_assignments',
      `WITH assignments AS (
         INSERT INTO job_assignments (id, job_id, attempt, node_id, node_incarnation, group_name, gpu_ids, slots, cpu_millis, mem_mb, state, created_at)
         SELECT a.id, a.job_id, a.attempt, a.node_id, a.incarnation, a.group_name, a.gpu_ids::int[], 1, a.cpu, a.mem, 'PLACED', clock_timestamp()
         FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::int[], $6::text[], $7::text[], $8::int[], $9::int[])
           AS a(id, job_id, attempt, node_id, incarnation, group_name, gpu_ids, cpu, mem)
         RETURNING id
       ), gpus AS (
         INSERT INTO gpu_reservations (node_id, gpu_index, assignment_id)
         SELECT g.node_id, g.gpu_index, g.assignment_id
         FROM unnest($10::text[], $11::int[], $12::uuid[]) AS g(node_id, gpu_index, assignment_id)
         -- The reservation references its assignment: read the CTE so the assignments are inserted first.
         WHERE g.assignment_id IN (SELECT id FROM assignments)
         RETURNING 1
       ), usage AS (
         INSERT INTO tenant_usage AS u (tenant_id, running_jobs, cpu_millis, mem_mb, gpus)
         SELECT * FROM unnest($13::text[], $14::int[], $15::bigint[], $16::bigint[], $17::int[])
         ON CONFLICT (tenant_id) DO UPDATE SET running_jobs = u.running_jobs + EXCLUDED.running_jobs,
           cpu_millis = u.cpu_millis + EXCLUDED.cpu_millis, mem_mb = u.mem_mb + EXCLUDED.mem_mb, gpus = u.gpus + EXCLUDED.gpus
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM gpus)::int AS gpus`,
      [
        assignmentIds,
        placements.map((p) => p.jobId),
        placements.map((p) => p.attempt),
        placements.map((p) => p.nodeId),
        placements.map((p) => nodes.get(p.nodeId)!.incarnation),
        placements.map((p) => nodes.get(p.nodeId)!.group),
        placements.map((p) => `{${p.gpuIds.join(',')}}`),
        placements.map((p) => p.request.cpuMillis),
        placements.map((p) => p.request.memMb),
        gpus.map((g) => g.nodeId),
        gpus.map((g) => g.gpuIndex),
        gpus.map((g) => g.assignmentId),
        tenantIds,
        tenantIds.map((id) => perTenant.get(id)!.count),
        tenantIds.map((id) => perTenant.get(id)!.cpu),
        tenantIds.map((id) => perTenant.get(id)!.mem),
        tenantIds.map((id) => perTenant.get(id)!.gpus),
      ],
    );
    return placements.map((p) => ({ jobId: p.jobId, attempt: p.attempt }));
  }

  /**
   * Jobs placed longer ago than `olderThanSeconds` whose node never started them: a dispatched attempt starts or
   * is LOST within its schedule-to-start timeout, so these workflows most likely missed their placement signal.
   */
  async stalePlacements(olderThanSeconds: number, limit: number): Promise<string[]> {
    const rows: { job_id: string }[] = await this.dataSource.query(
      `SELECT job_id FROM job_assignments
       WHERE state = 'PLACED' AND created_at < now() - make_interval(secs => $1)
       ORDER BY created_at LIMIT $2`,
      [olderThanSeconds, limit],
    );
    return rows.map((row) => row.job_id);
  }

  /** The node confirmed it started the attempt. Null when it had already (a retried activity) or was ended meanwhile. */
  async markAssignmentRunning(jobId: string, attempt: number): Promise<StartedAttempt | null> {
    const rows = await updateReturning<StartedAttempt>(
      this.dataSource,
      `UPDATE job_assignments a SET state = 'RUNNING', started_at = now()
       FROM jobs j
       WHERE a.job_id = $1 AND a.attempt = $2 AND a.state = 'PLACED' AND j.id = a.job_id
       RETURNING a.group_name AS "group",
                 CASE WHEN NOT EXISTS (SELECT 1 FROM job_assignments p WHERE p.job_id = a.job_id AND p.attempt <> a.attempt AND p.started_at IS NOT NULL)
                      THEN extract(epoch FROM now() - j.created_at)::float8 END AS "admissionWaitSeconds"`,
      [jobId, attempt],
    );
    return rows[0] ?? null;
  }

  /**
   * Ends an attempt: sets its final state, gives its reservation back (only the first time),
   * and moves the job to its next state. Returns the attempt this call ended (capacity was freed), or null.
   */
  async endAssignment(input: EndAssignmentInput): Promise<LedgerWriteResult & { ended: EndedAttempt | null }> {
    return this.dataSource.transaction(async (m) => {
      await this.lockJob(m, input.jobId);
      const [ended] = await this.release(m, input.jobId, input.attempt, input.state, input.reason ?? null);
      const jobState = await this.moveJob(m, input.jobId, input.jobState, input.result, input.error, input.attempt, input.resultArtifactId);
      return { jobState, ended: ended ?? null };
    });
  }

  /**
   * Ends a job that its workflow holds no placement for (cancelled while waiting, or out of attempts).
   * A cycle may have placed it meanwhile: that reservation is given back too.
   */
  async finishJob(input: FinishJobInput): Promise<LedgerWriteResult & { released: boolean }> {
    return this.dataSource.transaction(async (m) => {
      await this.lockJob(m, input.jobId);
      const ended = await this.release(m, input.jobId, null, input.state, `job ${input.state.toLowerCase()} before it started`);
      return { jobState: await this.moveJob(m, input.jobId, input.state, undefined, input.error), released: ended.length > 0 };
    });
  }

  /**
   * Takes the job's row lock before anything else: a cycle placing the job holds it until its assignment is
   * committed, so the release below sees that assignment instead of looking past it. Lock order everywhere:
   * job, then node, then tenant usage.
   */
  private async lockJob(m: EntityManager, jobId: string): Promise<void> {
    await m.query(`SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE`, [jobId]);
  }

  /** Ends the job's live assignment (of this attempt, or any), returns its resources to the node and the tenant, and says which it ended. */
  private async release(m: EntityManager, jobId: string, attempt: number | null, state: EndedAssignmentState, reason: string | null): Promise<EndedAttempt[]> {
    const ended = await updateReturning<
      EndedAttempt & { id: string; node_id: string; slots: number; cpu_millis: number; mem_mb: number; gpu_ids: number[] }
    >(
      m,
      `UPDATE job_assignments a SET state = $3, reason = $4, ended_at = clock_timestamp()
       FROM jobs j
       WHERE a.job_id = $1 AND ($2::int IS NULL OR a.attempt = $2) AND a.state IN ('PLACED', 'RUNNING') AND j.id = a.job_id
       RETURNING a.id, a.node_id, a.slots, a.cpu_millis, a.mem_mb, a.gpu_ids, a.group_name AS "group", j.task_type AS "taskType",
                 extract(epoch FROM clock_timestamp() - a.started_at)::float8 AS "runSeconds"`,
      [jobId, attempt, state, reason],
    );
    for (const a of ended) {
      await m.query(`DELETE FROM gpu_reservations WHERE assignment_id = $1`, [a.id]);
      await m.query(
        `UPDATE nodes SET used_slots = used_slots - $2, used_cpu_millis = used_cpu_millis - $3,
                used_mem_mb = used_mem_mb - $4, used_gpus = used_gpus - $5, updated_at = now()
         WHERE id = $1`,
        [a.node_id, a.slots, a.cpu_millis, a.mem_mb, a.gpu_ids.length],
      );
      await m.query(
        `UPDATE tenant_usage SET running_jobs = running_jobs - 1, cpu_millis = cpu_millis - $2, mem_mb = mem_mb - $3, gpus = gpus - $4
         WHERE tenant_id = (SELECT tenant_id FROM jobs WHERE id = $1)`,
        [jobId, a.cpu_millis, a.mem_mb, a.gpu_ids.length],
      );
    }
    return ended.map(({ group, taskType, runSeconds }) => ({ group, taskType, runSeconds }));
  }

  private async moveJob(
    m: EntityManager,
    jobId: string,
    state: JobState,
    result: unknown,
    error: EndAssignmentInput['error'],
    attempt?: number,
    resultArtifactId?: string,
  ): Promise<JobState> {
    const terminal = TERMINAL.includes(state);
    // Fencing: the outcome of a superseded attempt never moves the job (its current attempt is jobs.attempts).
    const rows = await updateReturning<{ state: JobState }>(
      m,
      `UPDATE jobs SET state = $2, result = COALESCE($3::jsonb, result), error = COALESCE($4::jsonb, error),
              result_artifact_id = COALESCE($7::uuid, result_artifact_id), pending_reason = NULL, pending_detail = NULL, updated_at = now(),
              finished_at = CASE WHEN $5 THEN now() ELSE finished_at END
       WHERE id = $1 AND state NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND ($6::int IS NULL OR attempts = $6)
       RETURNING state`,
      [
        jobId,
        state,
        result === undefined ? null : JSON.stringify(result),
        error ? JSON.stringify(error) : null,
        terminal,
        attempt ?? null,
        resultArtifactId ?? null,
      ],
    );
    if (rows.length > 0) {
      // Delivered at commit (dropped on rollback): wakes the API's long-polls waiting on this job (JobFinishedFeed).
      if (terminal) await m.query(`SELECT pg_notify($1, $2)`, [JOB_FINISHED_CHANNEL, jobId]);
      return rows[0].state;
    }
    const current: { state: JobState }[] = await m.query(`SELECT state FROM jobs WHERE id = $1`, [jobId]);
    if (current.length === 0) throw new JobNotFoundError(`job ${jobId} not found`);
    return current[0].state;
  }
}
