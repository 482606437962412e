import { randomUUID } from 'node:crypto';
import { nodeTaskQueue } from '@mlis/contracts';
import type { CyclePlan, PlannedPlacement, SchedulerNode } from '@mlis/scheduling';
import type { CycleRead } from './cycle-input';
import type { PreparedQuery } from '../prepared';
import type { CycleOutcome } from './scheduling.store';

/**
 * The wait reasons that changed, the queue order and the decision counters, as data-modifying CTEs whose six
 * parameters start at `$first`. A placing cycle runs them in its last placement statement, any other on their own:
 * data-modifying CTEs all run to completion, whether or not the final SELECT reads them. In one statement Postgres may
 * run the CTEs in any order, so a placing cycle can lock the waiting jobs' rows after or before the tenants' usage rows.
 * Neither order can deadlock: a waiting job has no live attempt, so whatever else locks its row (its cancel, its wait
 * reason) takes no node or usage row; and only cycles, one at a time, touch the queue order and the counters.
 */
const waitsCtes = (first: number): string => {
  const $ = (i: number) => `$${first + i}`;
  return `waits AS (
       UPDATE jobs j SET pending_reason = w.reason, pending_detail = w.detail, updated_at = now()
       FROM unnest(${$(0)}::uuid[], ${$(1)}::text[], ${$(2)}::text[]) AS w(id, reason, detail)
       WHERE j.id = w.id AND j.state = 'QUEUED' RETURNING j.id
     ), queue AS (
       INSERT INTO scheduler_queue (singleton, job_ids, cycle_at) VALUES (true, ${$(3)}, now())
       ON CONFLICT (singleton) DO UPDATE SET job_ids = EXCLUDED.job_ids, cycle_at = EXCLUDED.cycle_at RETURNING 1
     ), counted AS (
       INSERT INTO scheduler_decisions (outcome, reason, total)
       SELECT outcome, reason, count(*) FROM unnest(${$(4)}::text[], ${$(5)}::text[]) AS d(outcome, reason) GROUP BY outcome, reason
       ON CONFLICT (outcome, reason) DO UPDATE SET total = scheduler_decisions.total + EXCLUDED.total RETURNING 1
     )`;
};

/** Lost a race for a node between choosing it and reserving it: the whole cycle is retried. */
export class PlacementRaceError extends Error {}

/** How many placements, and how much they reserve, per key (node or tenant). */
function totalsBy(
  placements: PlannedPlacement[],
  keyOf: (p: PlannedPlacement) => string,
): Map<string, { count: number; cpu: number; mem: number; gpus: number }> {
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

/**
 * Writes a cycle's decisions inside its transaction: every placement (with its node, GPU and tenant
 * reservations), every preemption request, and the wait reasons, queue positions and decision counters.
 */
export async function writeCycleDecisions(query: PreparedQuery, plan: CyclePlan, { nodes, lastWaits }: CycleRead): Promise<CycleOutcome> {
  // The victims' assignment rows before any node row: a release locks its assignment, then its node (ADR 0006).
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
  const changed = plan.waits.filter((w) => lastWaits.get(w.jobId)!.reason !== w.reason || lastWaits.get(w.jobId)!.detail !== w.detail);
  const waitsValues = (placedCount: number): unknown[] => {
    const decisions = [
      ...Array.from({ length: placedCount }, () => ['placed', 'fit']),
      ...preempted.map(() => ['preempted', 'higher_priority']),
      ...changed.filter((w) => lastWaits.get(w.jobId)!.reason !== w.reason).map((w) => ['waiting', w.reason]),
    ];
    return [
      changed.map((w) => w.jobId),
      changed.map((w) => w.reason),
      changed.map((w) => w.detail),
      plan.waits.map((w) => w.jobId),
      decisions.map((d) => d[0]),
      decisions.map((d) => d[1]),
    ];
  };
  const placed = await reserve(query, plan.placements, nodes, waitsValues);
  return { placed, preempted, waiting: plan.waits.length };
}

/**
 * Writes the cycle's placements in three statements, whatever their number, the last of which also writes the cycle's
 * waits (`waitsValues`, given how many were placed); with nothing placed, the waits are one statement. A job that
 * stopped waiting since it was read (cancelled, say) is skipped; a node that no longer has room (or changed
 * incarnation or status) throws PlacementRaceError, which retries the whole cycle.
 */
async function reserve(
  query: PreparedQuery,
  planned: PlannedPlacement[],
  nodes: ReadonlyMap<string, SchedulerNode>,
  waitsValues: (placedCount: number) => unknown[],
): Promise<CycleOutcome['placed']> {
  const waitsOnly = async (): Promise<CycleOutcome['placed']> => {
    await query('mlis_cycle_waits', `WITH ${waitsCtes(1)} SELECT 1`, waitsValues(0));
    return [];
  };
  if (planned.length === 0) return waitsOnly();
  // `waited`: the job had a reason to wait when it was placed (read under the row's lock, so a reason written
  // meanwhile counts), so its workflow may be waiting for a signal; a job placed the first time a cycle looked at
  // it has its awaitPlacement still in flight, which reads the placement itself.
  const moved = await query<{ id: string; waited: boolean }>(
    'mlis_cycle_move_jobs',
    `WITH before AS (
       SELECT id, pending_reason IS NOT NULL AS waited FROM jobs WHERE id = ANY($1::uuid[]) FOR UPDATE
     )
     UPDATE jobs j SET state = 'RUNNING', attempts = p.attempt, pending_reason = NULL, pending_detail = NULL,
            started_at = COALESCE(j.started_at, now()), updated_at = now()
     FROM unnest($1::uuid[], $2::int[]) AS p(id, attempt), before b
     WHERE j.id = p.id AND b.id = j.id AND j.state = 'QUEUED' AND j.attempts = p.attempt - 1
     RETURNING j.id, b.waited`,
    [planned.map((p) => p.jobId), planned.map((p) => p.attempt)],
  );
  const waited = new Map(moved.map((row) => [row.id, row.waited]));
  const movedIds = new Set(waited.keys());
  const placements = planned.filter((p) => movedIds.has(p.jobId));
  if (placements.length === 0) return waitsOnly();

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
  // One round trip for the rows that follow from the reservations, and the cycle's waits. clock_timestamp(), not now() (the
  // transaction's start): an assignment's lifetime must start after the release it reused capacity from.
  // Tenant rows come after every node row: a release locks node then tenant, so this order cannot deadlock.
  const values = [
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
  ];
  await query(
    'mlis_cycle_assignments',
    `WITH assignments AS (
       INSERT INTO job_assignments (id, job_id, attempt, node_id, node_incarnation, group_name, gpu_ids, slots, cpu_millis, mem_mb, state, created_at,
                                    node_hostname, node_pid)
       -- The node rows are locked by the reservation above, for the incarnation placed on: their host and pid are that process's.
       SELECT a.id, a.job_id, a.attempt, a.node_id, a.incarnation, a.group_name, a.gpu_ids::int[], 1, a.cpu, a.mem, 'PLACED', clock_timestamp(),
              n.hostname, n.pid
       FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::int[], $6::text[], $7::text[], $8::int[], $9::int[])
         AS a(id, job_id, attempt, node_id, incarnation, group_name, gpu_ids, cpu, mem)
       JOIN nodes n ON n.id = a.node_id
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
     ), ${waitsCtes(values.length + 1)}
     SELECT (SELECT count(*) FROM gpus)::int AS gpus`,
    [...values, ...waitsValues(placements.length)],
  );
  return placements.map((p, i) => {
    const group = nodes.get(p.nodeId)!.group;
    const taskQueue = nodeTaskQueue(group, p.nodeId);
    const placement = { assignmentId: assignmentIds[i], attempt: p.attempt, nodeId: p.nodeId, group, taskQueue, gpuIds: p.gpuIds };
    return { jobId: p.jobId, attempt: p.attempt, waited: waited.get(p.jobId)!, placement };
  });
}
