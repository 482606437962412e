import type { PendingReason } from '@mlis/contracts';
import type { CycleInput, GroupUsage, SchedulerNode, TenantPolicy, WaitingJob } from '@mlis/scheduling';
import { groupLimitsOf, type StoredGroupLimits } from '../tenants.repository';
import type { NodeView } from './node-view';
import type { PreparedQuery } from '../prepared';
import type { CycleOptions } from './scheduling.store';

/**
 * Waiting for something other than capacity to free: a quota, a node that matches, one that is live or undrained. Written
 * into the statement, not bound, so that the planner can use the partial indexes over them (migration 1765400000000).
 */
export const BLOCKED_REASONS: readonly PendingReason[] = ['quota_exceeded', 'no_nodes_registered', 'no_matching_group', 'no_live_node', 'all_nodes_draining'];

const BLOCKED_SQL = `pending_reason IN (${BLOCKED_REASONS.map((reason) => `'${reason}'`).join(', ')})`;
const laneWindow = (predicate: string, size: string): string =>
  `(SELECT id, tenant_id, priority, may_preempt, (extract(epoch FROM created_at) * 1000)::float8 AS created_ms,
           attempts, cpu_millis, mem_mb, gpu, worker_group, node_selector, gpu_model, gpu_memory_mb,
           pending_reason, pending_detail
    FROM jobs WHERE state = 'QUEUED' AND tenant_id = l.tenant_id AND priority = l.priority AND ${predicate}
    ORDER BY created_at, id LIMIT ${size})`;

/**
 * The first `size` (a parameter or a number) waiting jobs of every (tenant, priority) lane, found by a loose index scan:
 * the cost follows the number of lanes, not the length of the queue. Jobs the last cycle found blocked by something
 * other than capacity (BLOCKED_REASONS) get a window of their own: however many of them wait, they never hide the lane's
 * other jobs. Each window reads its own partial index (migration 1765400000000), whose predicate it repeats word for word.
 */
export const laneWindowsSql = (size: string): string => `WITH RECURSIVE lanes AS (
    (SELECT tenant_id, priority FROM jobs WHERE state = 'QUEUED' ORDER BY tenant_id, priority LIMIT 1)
    UNION ALL
    SELECT next.tenant_id, next.priority FROM lanes l CROSS JOIN LATERAL (
      SELECT tenant_id, priority FROM jobs
      WHERE state = 'QUEUED' AND (tenant_id, priority) > (l.tenant_id, l.priority)
      ORDER BY tenant_id, priority LIMIT 1) next
  )
  SELECT j.* FROM lanes l CROSS JOIN LATERAL (${laneWindow(`(pending_reason IS NULL OR NOT ${BLOCKED_SQL})`, size)} UNION ALL ${laneWindow(BLOCKED_SQL, size)}) j`;

const TENANTS_SQL = `SELECT t.id, t.weight, t.max_running_jobs, t.max_gpus, t.group_limits, u.running_jobs, u.cpu_millis, u.mem_mb, u.gpus
  FROM tenants t LEFT JOIN tenant_usage u ON u.tenant_id = t.id`;

/** The tenants and the heads of the waiting lanes, read in the nodes' statement (their rows as JSON). */
const READ_ALONGSIDE_NODES = `(SELECT COALESCE(json_agg(t), '[]') FROM (${TENANTS_SQL}) t) AS tenants,
  (SELECT COALESCE(json_agg(w), '[]') FROM (${laneWindowsSql('$3')}) w) AS waiting`;

interface TenantRow {
  id: string;
  weight: number;
  max_running_jobs: number | null;
  max_gpus: number | null;
  group_limits: StoredGroupLimits;
  running_jobs: number | null;
  cpu_millis: number | null;
  mem_mb: number | null;
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

interface LostRow {
  job_id: string;
  node_id: string;
  node_incarnation: number;
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
  job_created_ms: number;
  preempting: boolean;
}

/** Why a waiting job waited when the cycle read it: its reason is written again only when it changes. */
export interface LastWait {
  reason: PendingReason | null;
  detail: string | null;
}

/** What a cycle plans from, and what writing its decisions needs besides the plan. */
export interface CycleRead {
  input: CycleInput;
  /** The live nodes by id, as reserved on: their incarnations fence the reservation. */
  nodes: ReadonlyMap<string, SchedulerNode>;
  /** By waiting job id. */
  lastWaits: ReadonlyMap<string, LastWait>;
}

function toWaitingJob(row: WaitingRow, lost: LostRow[]): WaitingJob {
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
 * Reads the nodes (changed since the last cycle), the tenants and the heads of the waiting lanes in one statement, then
 * what only some cycles need, inside the cycle's transaction.
 */
export async function readCycleInput(query: PreparedQuery, nodeView: NodeView, nowMs: number, options: CycleOptions): Promise<CycleRead> {
  const { nodes, row } = await nodeView.refresh<{ tenants: TenantRow[]; waiting: WaitingRow[] }>(query, options.liveWithinSeconds, {
    name: 'mlis_cycle_read',
    columns: READ_ALONGSIDE_NODES,
    values: [options.laneWindow],
  });
  const { tenants: tenantRows, waiting: waitingRows } = row;
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
  // Only a job that ran before (attempts > 0) can have lost an attempt somewhere. The incarnation that lost it is
  // the one it was placed on, or the node's current one when that registered before the loss: a restarted process
  // takes over the queue, and what was placed on its predecessor, so it may be the one that lost the attempt. A
  // node that registers after the loss is a new process, and may run the job again.
  const requeued = waitingRows.filter((row) => row.attempts > 0).map((row) => row.id);
  const lost: LostRow[] =
    requeued.length === 0
      ? []
      : await query(
          'mlis_cycle_lost',
          `SELECT a.job_id, a.node_id, CASE WHEN n.registered_at <= a.ended_at THEN n.incarnation ELSE a.node_incarnation END AS node_incarnation
           FROM job_assignments a LEFT JOIN nodes n ON n.id = a.node_id
           WHERE a.job_id = ANY($1::uuid[]) AND a.state = 'LOST'`,
          [requeued],
        );
  const running: RunningRow[] = waitingRows.some((row) => row.may_preempt)
    ? await query(
        'mlis_cycle_running',
        `SELECT a.id, a.job_id, a.attempt, j.tenant_id, j.priority, a.node_id, a.cpu_millis, a.mem_mb, a.gpu_ids,
                (extract(epoch FROM a.created_at) * 1000)::float8 AS created_ms,
                (extract(epoch FROM j.created_at) * 1000)::float8 AS job_created_ms, a.preempt_requested_at IS NOT NULL AS preempting
         FROM job_assignments a JOIN jobs j ON j.id = a.job_id WHERE a.state IN ('PLACED', 'RUNNING')`,
      )
    : [];

  const input: CycleInput = {
    nowMs,
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
      jobCreatedAtMs: row.job_created_ms,
      preempting: row.preempting,
    })),
  };
  const lastWaits = new Map(waitingRows.map((row): [string, LastWait] => [row.id, { reason: row.pending_reason, detail: row.pending_detail }]));
  return { input, nodes, lastWaits };
}
