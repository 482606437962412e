import type { NodeSelector, PendingReason, ResourceRequest } from '../contracts';
import { choosePlacement, describeShortage, fitsWhenEmpty, worstShortfall, type NodeCapacity } from './placement';

/** A registered node; only ACTIVE live ones take placements, the rest explain why a job waits. */
export interface SchedulerNode extends NodeCapacity {
  incarnation: number;
  status: 'ACTIVE' | 'DRAINING' | 'DEAD';
  /** Heartbeat seen recently enough to trust it. */
  live: boolean;
}

export interface WaitingJob {
  id: string;
  tenantId: string;
  priority: number;
  /** Its priority class may evict lower-priority running jobs. */
  mayPreempt: boolean;
  createdAtMs: number;
  /** The attempt a placement now would be. */
  nextAttempt: number;
  request: ResourceRequest;
  selector: NodeSelector;
  /** Node incarnations that lost this job's lease: never placed on again (a re-registered node is a new incarnation). */
  lostOn: { nodeId: string; incarnation: number }[];
}

export interface RunningAssignment {
  assignmentId: string;
  jobId: string;
  attempt: number;
  tenantId: string;
  priority: number;
  nodeId: string;
  cpuMillis: number;
  memMb: number;
  gpuIds: number[];
  createdAtMs: number;
  /** Already asked to give its resources back. */
  preempting: boolean;
}

export interface TenantPolicy {
  weight: number;
  maxRunningJobs: number | null;
  maxGpus: number | null;
}

export interface TenantUsage {
  runningJobs: number;
  cpuMillis: number;
  memMb: number;
  gpus: number;
}

export interface CycleInput {
  nowMs: number;
  /** Seconds of waiting that add one step of effective priority; 0 turns aging off. */
  agingSeconds: number;
  /**
   * How many blocked jobs, in queue order, may hold a node for themselves. Deeper jobs wait without
   * holding (and reach the front as those ahead start), which bounds a cycle's cost.
   */
  holdDepth: number;
  nodes: SchedulerNode[];
  tenants: Map<string, TenantPolicy>;
  usage: Map<string, TenantUsage>;
  /** The heads of the waiting lanes, in any order. */
  waiting: WaitingJob[];
  /** Live assignments; only needed (and only loaded) when a waiting job may preempt. */
  running: RunningAssignment[];
}

export interface PlannedPlacement {
  jobId: string;
  tenantId: string;
  attempt: number;
  nodeId: string;
  gpuIds: number[];
  request: ResourceRequest;
}

export interface PlannedWait {
  jobId: string;
  /** 1 = next in line among the jobs still waiting. */
  position: number;
  reason: PendingReason;
  detail: string;
}

export interface PlannedPreemption {
  assignmentId: string;
  jobId: string;
  attempt: number;
  nodeId: string;
  /** The waiting job the resources are freed for. */
  forJobId: string;
}

export interface CyclePlan {
  placements: PlannedPlacement[];
  waits: PlannedWait[];
  preemptions: PlannedPreemption[];
}

const EMPTY_USAGE: TenantUsage = { runningJobs: 0, cpuMillis: 0, memMb: 0, gpus: 0 };
const DEFAULT_POLICY: TenantPolicy = { weight: 1, maxRunningJobs: null, maxGpus: null };

export function effectivePriority(job: Pick<WaitingJob, 'priority' | 'createdAtMs'>, nowMs: number, agingSeconds: number): number {
  if (agingSeconds <= 0) return job.priority;
  return job.priority + Math.floor(Math.max(0, nowMs - job.createdAtMs) / 1000 / agingSeconds);
}

/** Dominant-resource share of a tenant's usage over the cluster, divided by its weight (DRF). */
export function weightedDominantShare(usage: TenantUsage, totals: ResourceRequest, weight: number): number {
  const shares = [
    totals.cpuMillis > 0 ? usage.cpuMillis / totals.cpuMillis : 0,
    totals.memMb > 0 ? usage.memMb / totals.memMb : 0,
    totals.gpu > 0 ? usage.gpus / totals.gpu : 0,
  ];
  return Math.max(...shares) / weight;
}

/** The tenant's quota would be exceeded by one more job of this size; the reason, or null. */
function quotaBlock(policy: TenantPolicy, usage: TenantUsage, job: WaitingJob): string | null {
  if (policy.maxRunningJobs !== null && usage.runningJobs + 1 > policy.maxRunningJobs) {
    return `tenant ${job.tenantId} runs ${usage.runningJobs} of max_running_jobs ${policy.maxRunningJobs}`;
  }
  if (job.request.gpu > 0 && policy.maxGpus !== null && usage.gpus + job.request.gpu > policy.maxGpus) {
    return `tenant ${job.tenantId} holds ${usage.gpus} GPUs; ${job.request.gpu} more would pass max_gpus ${policy.maxGpus}`;
  }
  return null;
}

/** Applies a placement to the in-memory copy of a node, so later decisions in the cycle see it. */
function reserve(node: SchedulerNode, request: ResourceRequest, gpuIds: number[]): void {
  node.usedSlots += 1;
  node.usedCpuMillis += request.cpuMillis;
  node.usedMemMb += request.memMb;
  node.reservedGpuIndices = [...node.reservedGpuIndices, ...gpuIds];
}

/**
 * One scheduling cycle, decided in memory; the caller writes the result in one transaction.
 *
 * Order: effective priority (priority plus aging), then the tenant with the smallest weighted
 * dominant share (recomputed after every placement), then submission time. Walking that order:
 * a job over its tenant's quota waits (`quota_exceeded`) without holding anything back; a job
 * that fits is placed (GPU jobs pack, CPU jobs spread); a job that does not fit holds the node
 * it is closest to fitting on, so no later job can take the capacity it waits for (later jobs
 * backfill the other nodes), and, if its class may preempt, asks lower-priority jobs on that
 * node to give their resources back. Only the first `holdDepth` blocked jobs hold a node.
 */
export function planCycle(input: CycleInput): CyclePlan {
  const nodes = input.nodes.map((node) => ({ ...node, reservedGpuIndices: [...node.reservedGpuIndices] }));
  const placeable = nodes.filter((node) => node.status === 'ACTIVE' && node.live);
  const totals = placeable.reduce(
    (sum, node) => ({ cpuMillis: sum.cpuMillis + node.cpuMillis, memMb: sum.memMb + node.memMb, gpu: sum.gpu + node.gpus.length }),
    { cpuMillis: 0, memMb: 0, gpu: 0 },
  );
  const usage = new Map<string, TenantUsage>();
  const usageOf = (tenantId: string): TenantUsage => {
    let current = usage.get(tenantId);
    if (!current) {
      current = { ...(input.usage.get(tenantId) ?? EMPTY_USAGE) };
      usage.set(tenantId, current);
    }
    return current;
  };
  const policyOf = (tenantId: string): TenantPolicy => input.tenants.get(tenantId) ?? DEFAULT_POLICY;

  // One lane per tenant, each in (effective priority, submission time) order; the cycle merges them.
  const lanes = new Map<string, (WaitingJob & { effective: number })[]>();
  for (const job of input.waiting) {
    const lane = lanes.get(job.tenantId) ?? [];
    lane.push({ ...job, effective: effectivePriority(job, input.nowMs, input.agingSeconds) });
    lanes.set(job.tenantId, lane);
  }
  for (const lane of lanes.values()) {
    lane.sort((a, b) => b.effective - a.effective || a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id));
  }

  const heldBy = new Map<string, string>();
  const plan: CyclePlan = { placements: [], waits: [], preemptions: [] };
  const running = input.running.map((assignment) => ({ ...assignment }));
  const wait = (job: WaitingJob, reason: PendingReason, detail: string): void => {
    plan.waits.push({ jobId: job.id, position: plan.waits.length + 1, reason, detail });
  };
  // Nodes with a free slot: the only ones a job can be placed on now. On a busy cluster this set is
  // small, so trying a waiting job costs little however many nodes there are.
  const open = new Set(placeable.filter((node) => node.usedSlots < node.slots));
  // Per request shape (resources + selector), the placeable nodes it fits on when empty; computed once a cycle.
  const shapes = new Map<string, { nodes: Set<SchedulerNode>; list: SchedulerNode[]; shortage?: string }>();
  const shapedFor = (job: WaitingJob) => {
    const key = JSON.stringify([job.request, job.selector]);
    let shape = shapes.get(key);
    if (!shape) {
      const list = placeable.filter((node) => fitsWhenEmpty(node, job.request, job.selector));
      shape = { nodes: new Set(list), list, shortage: undefined };
      shapes.set(key, shape);
    }
    return shape;
  };
  let holds = 0;

  for (;;) {
    let next: { tenantId: string; job: WaitingJob & { effective: number }; share: number } | undefined;
    for (const [tenantId, lane] of lanes) {
      const head = lane[0];
      if (!head) continue;
      const share = weightedDominantShare(usageOf(tenantId), totals, policyOf(tenantId).weight);
      const better =
        !next ||
        head.effective > next.job.effective ||
        (head.effective === next.job.effective &&
          (share < next.share ||
            (share === next.share && (head.createdAtMs < next.job.createdAtMs || (head.createdAtMs === next.job.createdAtMs && head.id < next.job.id)))));
      if (better) next = { tenantId, job: head, share };
    }
    if (!next) break;
    const job = next.job;
    lanes.get(next.tenantId)!.shift();

    const tenantUsage = usageOf(job.tenantId);
    const overQuota = quotaBlock(policyOf(job.tenantId), tenantUsage, job);
    if (overQuota) {
      wait(job, 'quota_exceeded', overQuota);
      continue;
    }

    const lostOn = new Set(job.lostOn.map((lost) => `${lost.nodeId}#${lost.incarnation}`));
    const usable = (node: SchedulerNode): boolean => !lostOn.has(`${node.id}#${node.incarnation}`);
    const shape = shapedFor(job);
    const free = (heldFor: string | undefined): boolean => heldFor === undefined || heldFor === job.id;
    const candidates = [...open].filter((node) => shape.nodes.has(node) && usable(node) && free(heldBy.get(node.id)));
    const choice = choosePlacement(candidates, job.request, job.selector);
    if (choice) {
      const node = candidates.find((candidate) => candidate.id === choice.nodeId)!;
      reserve(node, job.request, choice.gpuIds);
      if (node.usedSlots >= node.slots) open.delete(node);
      tenantUsage.runningJobs += 1;
      tenantUsage.cpuMillis += job.request.cpuMillis;
      tenantUsage.memMb += job.request.memMb;
      tenantUsage.gpus += job.request.gpu;
      plan.placements.push({ jobId: job.id, tenantId: job.tenantId, attempt: job.nextAttempt, nodeId: node.id, gpuIds: choice.gpuIds, request: job.request });
      continue;
    }

    const eligible = lostOn.size === 0 ? shape.list : shape.list.filter(usable);
    if (eligible.length === 0) {
      const [reason, detail] = whyNoNode(nodes, job, lostOn);
      wait(job, reason, detail);
      continue;
    }
    if (holds >= input.holdDepth) {
      // Deep in the queue: it waits its turn without holding anything; later jobs may still backfill.
      wait(job, 'insufficient_capacity', `${input.holdDepth} jobs ahead of it already wait for capacity to free`);
      continue;
    }
    const unheld = eligible.filter((node) => free(heldBy.get(node.id)));
    if (unheld.length === 0) {
      wait(job, 'insufficient_capacity', 'every node that could run it is held for jobs ahead of it in the queue');
      continue;
    }

    if (job.mayPreempt) {
      const eviction = planEviction(unheld, running, job);
      if (eviction) {
        holds += 1;
        heldBy.set(eviction.node.id, job.id);
        for (const victim of eviction.newVictims) {
          victim.preempting = true;
          plan.preemptions.push({ assignmentId: victim.assignmentId, jobId: victim.jobId, attempt: victim.attempt, nodeId: victim.nodeId, forJobId: job.id });
        }
        wait(job, 'preempting', `waiting for ${eviction.victims} lower-priority job(s) on node ${eviction.node.id} to give back their resources`);
        continue;
      }
    }

    // Hold the node it is closest to fitting on: nothing later in the queue may take that capacity.
    holds += 1;
    let closest = unheld[0];
    let closestMissing = worstShortfall(closest, job.request, job.selector);
    for (const node of unheld) {
      const missing = worstShortfall(node, job.request, job.selector);
      if (missing < closestMissing || (missing === closestMissing && node.id < closest.id)) {
        closest = node;
        closestMissing = missing;
      }
    }
    heldBy.set(closest.id, job.id);
    shape.shortage ??= describeShortage(unheld, job.request, job.selector);
    wait(job, 'insufficient_capacity', `${shape.shortage}; node ${closest.id} is held for it`);
  }
  return plan;
}

/** Why no live ACTIVE node could take the job even when empty. */
function whyNoNode(nodes: SchedulerNode[], job: WaitingJob, lostOn: Set<string>): [PendingReason, string] {
  if (nodes.length === 0) return ['no_nodes_registered', 'no node has registered yet'];
  const shaped = nodes.filter((node) => fitsWhenEmpty(node, job.request, job.selector));
  if (shaped.length === 0) {
    return ['no_matching_group', `no registered node matches ${describeSelector(job)}`];
  }
  const live = shaped.filter((node) => node.live && node.status !== 'DEAD');
  if (live.some((node) => node.status === 'DRAINING')) {
    return ['all_nodes_draining', 'every live node that could run it is DRAINING: undrain one (mlis workers undrain <node>) or add nodes'];
  }
  if (live.some((node) => lostOn.has(`${node.id}#${node.incarnation}`))) {
    return ['no_live_node', 'every live node that could run it already lost this job once'];
  }
  return ['no_live_node', 'no live node could run it; the nodes that could are DEAD'];
}

function describeSelector(job: WaitingJob): string {
  const parts = [`cpu ${job.request.cpuMillis / 1000}`, `mem_mb ${job.request.memMb}`, `gpu ${job.request.gpu}`];
  if (job.selector.workerGroup) parts.push(`worker_group ${job.selector.workerGroup}`);
  for (const [key, value] of Object.entries(job.selector.labels ?? {})) parts.push(`label ${key}=${value}`);
  if (job.selector.gpuModel) parts.push(`gpu_model ${job.selector.gpuModel}`);
  if (job.selector.gpuMemoryMb) parts.push(`gpu_memory_mb >= ${job.selector.gpuMemoryMb}`);
  return parts.join(', ');
}

/**
 * The node where evicting the fewest lower-priority assignments makes the job fit, counting what
 * assignments already being preempted will free. Victims go lowest priority first, newest first
 * (the least work lost).
 */
function planEviction(
  eligible: SchedulerNode[],
  running: RunningAssignment[],
  job: WaitingJob,
): { node: SchedulerNode; victims: number; newVictims: RunningAssignment[] } | null {
  let best: { node: SchedulerNode; victims: number; newVictims: RunningAssignment[] } | null = null;
  for (const node of eligible) {
    const onNode = running.filter((a) => a.nodeId === node.id);
    const freed = onNode.filter((a) => a.preempting);
    const candidates = onNode
      .filter((a) => !a.preempting && a.priority < job.priority)
      .sort((a, b) => a.priority - b.priority || b.createdAtMs - a.createdAtMs);
    const newVictims: RunningAssignment[] = [];
    const fitsAfter = (): boolean => {
      const gone = [...freed, ...newVictims];
      const after: SchedulerNode = {
        ...node,
        usedSlots: node.usedSlots - gone.length,
        usedCpuMillis: node.usedCpuMillis - gone.reduce((sum, a) => sum + a.cpuMillis, 0),
        usedMemMb: node.usedMemMb - gone.reduce((sum, a) => sum + a.memMb, 0),
        reservedGpuIndices: node.reservedGpuIndices.filter((index) => !gone.some((a) => a.gpuIds.includes(index))),
      };
      return worstShortfall(after, job.request, job.selector) === 0;
    };
    while (!fitsAfter() && candidates.length > 0) newVictims.push(candidates.shift()!);
    if (!fitsAfter()) continue;
    const victims = freed.length + newVictims.length;
    if (victims === 0) continue;
    if (!best || newVictims.length < best.newVictims.length || (newVictims.length === best.newVictims.length && node.id < best.node.id)) {
      best = { node, victims, newVictims };
    }
  }
  return best;
}
