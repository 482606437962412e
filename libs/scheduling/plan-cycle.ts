import type { NodeSelector, PendingReason, ResourceRequest } from '@mlis/contracts';
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
  /** When the attempt was placed: among victims of one priority, the newest goes first (the least work lost). */
  createdAtMs: number;
  /** When its job was submitted: what its priority has aged by, were it back in the queue. */
  jobCreatedAtMs: number;
  /** Already asked to give its resources back. */
  preempting: boolean;
}

/** A tenant's limits inside one worker group (null means unlimited there). */
export interface GroupLimits {
  maxRunningJobs: number | null;
  maxGpus: number | null;
}

export interface TenantPolicy {
  weight: number;
  maxRunningJobs: number | null;
  maxGpus: number | null;
  /** By worker group, on top of the tenant-wide limits. */
  groupLimits?: Record<string, GroupLimits>;
}

/** What a tenant's live assignments hold in one worker group. */
export interface GroupUsage {
  runningJobs: number;
  gpus: number;
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
  /** By tenant, then worker group; only needed (and only loaded) for tenants with group limits. */
  groupUsage?: Map<string, Map<string, GroupUsage>>;
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

/** A tenant's waiting jobs in the order it runs them; `next` is the first not yet decided this cycle. */
interface Lane {
  tenantId: string;
  entries: { job: WaitingJob; effective: number }[];
  next: number;
}

const EMPTY_USAGE: TenantUsage = { runningJobs: 0, cpuMillis: 0, memMb: 0, gpus: 0 };
const DEFAULT_POLICY: TenantPolicy = { weight: 1, maxRunningJobs: null, maxGpus: null };
const NO_LOSSES: ReadonlySet<string> = new Set();
const NO_BLOCKS: ReadonlyMap<string, string> = new Map();

export function effectivePriority(job: Pick<WaitingJob, 'priority' | 'createdAtMs'>, nowMs: number, agingSeconds: number): number {
  if (agingSeconds <= 0) return job.priority;
  return job.priority + Math.floor(Math.max(0, nowMs - job.createdAtMs) / 1000 / agingSeconds);
}

/** Dominant-resource share of a tenant's usage over the cluster, divided by its weight (DRF). */
export function weightedDominantShare(usage: TenantUsage, totals: ResourceRequest, weight: number): number {
  return (
    Math.max(
      totals.cpuMillis > 0 ? usage.cpuMillis / totals.cpuMillis : 0,
      totals.memMb > 0 ? usage.memMb / totals.memMb : 0,
      totals.gpu > 0 ? usage.gpus / totals.gpu : 0,
    ) / weight
  );
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

/** The groups whose limits for the job's tenant one more job of this size would pass, each with why. */
function groupBlocks(policy: TenantPolicy, usageIn: (group: string) => GroupUsage, job: WaitingJob): ReadonlyMap<string, string> {
  if (!policy.groupLimits) return NO_BLOCKS;
  const blocks = new Map<string, string>();
  for (const [group, limits] of Object.entries(policy.groupLimits)) {
    const used = usageIn(group);
    if (limits.maxRunningJobs !== null && used.runningJobs + 1 > limits.maxRunningJobs) {
      blocks.set(group, `tenant ${job.tenantId} runs ${used.runningJobs} of max_running_jobs ${limits.maxRunningJobs} in group ${group}`);
    } else if (job.request.gpu > 0 && limits.maxGpus !== null && used.gpus + job.request.gpu > limits.maxGpus) {
      blocks.set(group, `tenant ${job.tenantId} holds ${used.gpus} GPUs in group ${group}; ${job.request.gpu} more would pass its max_gpus ${limits.maxGpus}`);
    }
  }
  return blocks;
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
  // A node is copied when a placement in this cycle first changes it, not up front: the input stays as
  // given, and on a large busy cluster a cycle changes a few nodes of thousands.
  const changed = new Map<SchedulerNode, SchedulerNode>();
  const current = (node: SchedulerNode): SchedulerNode => changed.get(node) ?? node;
  const writable = (node: SchedulerNode): SchedulerNode => {
    let copy = changed.get(node);
    if (!copy) {
      copy = { ...node };
      changed.set(node, copy);
    }
    return copy;
  };
  const placeable = input.nodes.filter((node) => node.status === 'ACTIVE' && node.live);
  const totals: ResourceRequest = { cpuMillis: 0, memMb: 0, gpu: 0 };
  for (const node of placeable) {
    totals.cpuMillis += node.cpuMillis;
    totals.memMb += node.memMb;
    totals.gpu += node.gpus.length;
  }
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
  const groupUsage = new Map<string, GroupUsage>();
  const groupUsageOf = (tenantId: string, group: string): GroupUsage => {
    const key = `${tenantId}\u0000${group}`;
    let current = groupUsage.get(key);
    if (!current) {
      current = { ...(input.groupUsage?.get(tenantId)?.get(group) ?? { runningJobs: 0, gpus: 0 }) };
      groupUsage.set(key, current);
    }
    return current;
  };

  // One lane per tenant, each in (effective priority, submission time) order; the cycle merges them.
  const lanes = new Map<string, Lane>();
  for (const job of input.waiting) {
    let lane = lanes.get(job.tenantId);
    if (!lane) {
      lane = { tenantId: job.tenantId, entries: [], next: 0 };
      lanes.set(job.tenantId, lane);
    }
    lane.entries.push({ job, effective: effectivePriority(job, input.nowMs, input.agingSeconds) });
  }
  for (const lane of lanes.values()) {
    lane.entries.sort((a, b) => b.effective - a.effective || a.job.createdAtMs - b.job.createdAtMs || a.job.id.localeCompare(b.job.id));
  }

  const heldBy = new Map<string, string>();
  const free = (node: SchedulerNode, job: WaitingJob): boolean => {
    const heldFor = heldBy.get(node.id);
    return heldFor === undefined || heldFor === job.id;
  };
  const plan: CyclePlan = { placements: [], waits: [], preemptions: [] };
  const running = input.running.map((assignment) => ({ ...assignment }));
  const wait = (job: WaitingJob, reason: PendingReason, detail: string): void => {
    plan.waits.push({ jobId: job.id, position: plan.waits.length + 1, reason, detail });
  };
  // Nodes with a free slot: the only ones a job can be placed on now. On a busy cluster this set is
  // small, so trying a waiting job costs little however many nodes there are.
  const open = new Set(placeable.filter((node) => node.usedSlots < node.slots));
  // Per request shape (resources + selector): whether any placeable node could take it when empty, and
  // which; each worked out once a cycle, when a job of that shape first needs it.
  const shapes = new Map<string, { any?: boolean; nodes?: SchedulerNode[]; shortage?: string; noNode?: [PendingReason, string] }>();
  const shapeOf = (job: WaitingJob) => {
    const { request, selector } = job;
    const key = JSON.stringify([request.cpuMillis, request.memMb, request.gpu, selector.workerGroup, selector.labels, selector.gpuModel, selector.gpuMemoryMb]);
    let shape = shapes.get(key);
    if (!shape) {
      shape = {};
      shapes.set(key, shape);
    }
    return shape;
  };
  let holds = 0;

  for (;;) {
    // The next job: the best lane head by effective priority, then weighted dominant share, then age.
    let best: Lane | undefined;
    let bestShare = 0;
    for (const lane of lanes.values()) {
      const head = lane.entries[lane.next];
      if (!head) continue;
      const share = weightedDominantShare(usageOf(lane.tenantId), totals, policyOf(lane.tenantId).weight);
      if (!best) {
        best = lane;
        bestShare = share;
        continue;
      }
      const leader = best.entries[best.next];
      const better =
        head.effective > leader.effective ||
        (head.effective === leader.effective &&
          (share < bestShare ||
            (share === bestShare &&
              (head.job.createdAtMs < leader.job.createdAtMs || (head.job.createdAtMs === leader.job.createdAtMs && head.job.id < leader.job.id)))));
      if (better) {
        best = lane;
        bestShare = share;
      }
    }
    if (!best) break;
    const { job, effective: jobEffective } = best.entries[best.next];
    best.next += 1;

    const tenantUsage = usageOf(job.tenantId);
    const overQuota = quotaBlock(policyOf(job.tenantId), tenantUsage, job);
    if (overQuota) {
      wait(job, 'quota_exceeded', overQuota);
      continue;
    }

    const blocked = groupBlocks(policyOf(job.tenantId), (group) => groupUsageOf(job.tenantId, group), job);
    const allowed = (node: SchedulerNode): boolean => blocked.size === 0 || !blocked.has(node.group);
    const lostOn = job.lostOn.length === 0 ? NO_LOSSES : new Set(job.lostOn.map((lost) => `${lost.nodeId}#${lost.incarnation}`));
    const usable = (node: SchedulerNode): boolean => lostOn.size === 0 || !lostOn.has(`${node.id}#${node.incarnation}`);
    const candidates: SchedulerNode[] = [];
    for (const node of open) {
      if (usable(node) && allowed(node) && free(node, job) && fitsWhenEmpty(node, job.request, job.selector)) candidates.push(node);
    }
    const choice = candidates.length === 0 ? null : choosePlacement(candidates.map(current), job.request, job.selector);
    if (choice) {
      const original = candidates.find((node) => node.id === choice.nodeId)!;
      const node = writable(original);
      reserve(node, job.request, choice.gpuIds);
      if (node.usedSlots >= node.slots) open.delete(original);
      tenantUsage.runningJobs += 1;
      tenantUsage.cpuMillis += job.request.cpuMillis;
      tenantUsage.memMb += job.request.memMb;
      tenantUsage.gpus += job.request.gpu;
      if (policyOf(job.tenantId).groupLimits) {
        const inGroup = groupUsageOf(job.tenantId, node.group);
        inGroup.runningJobs += 1;
        inGroup.gpus += job.request.gpu;
      }
      plan.placements.push({ jobId: job.id, tenantId: job.tenantId, attempt: job.nextAttempt, nodeId: node.id, gpuIds: choice.gpuIds, request: job.request });
      continue;
    }

    const shape = shapeOf(job);
    const eligibleWhenEmpty = (node: SchedulerNode): boolean => usable(node) && fitsWhenEmpty(node, job.request, job.selector);
    // Only this job's lost nodes make it differ from others of its shape.
    const anyEligible = lostOn.size === 0 ? (shape.any ??= placeable.some(eligibleWhenEmpty)) : placeable.some(eligibleWhenEmpty);
    if (!anyEligible) {
      // Every node looked at once per shape: a cycle may meet a lane's worth of blocked jobs of one shape.
      const [reason, detail] = lostOn.size === 0 ? (shape.noNode ??= whyNoNode(input.nodes, job, lostOn)) : whyNoNode(input.nodes, job, lostOn);
      wait(job, reason, detail);
      continue;
    }
    let ownEligible: SchedulerNode[] | undefined;
    const eligibleNodes = () =>
      lostOn.size === 0 ? (shape.nodes ??= placeable.filter(eligibleWhenEmpty)) : (ownEligible ??= placeable.filter(eligibleWhenEmpty));
    if (blocked.size > 0 && !eligibleNodes().some(allowed)) {
      // Every group it could run in is at the tenant's limit there: it waits without holding anything.
      const groups = [...new Set(eligibleNodes().map((node) => node.group))];
      wait(job, 'quota_exceeded', groups.map((group) => blocked.get(group)).join('; '));
      continue;
    }
    if (holds >= input.holdDepth) {
      // Deep in the queue: it waits its turn without holding anything; later jobs may still backfill.
      wait(job, 'insufficient_capacity', `${input.holdDepth} jobs ahead of it already wait for capacity to free`);
      continue;
    }
    const eligible = blocked.size === 0 ? eligibleNodes() : eligibleNodes().filter(allowed);
    // The node it is closest to fitting on, among those not held for jobs ahead of it.
    let closest: SchedulerNode | undefined;
    let closestMissing = 0;
    for (const node of eligible) {
      if (!free(node, job)) continue;
      const missing = worstShortfall(current(node), job.request, job.selector);
      if (!closest || missing < closestMissing || (missing === closestMissing && node.id < closest.id)) {
        closest = node;
        closestMissing = missing;
      }
    }
    if (!closest) {
      wait(job, 'insufficient_capacity', 'every node that could run it is held for jobs ahead of it in the queue');
      continue;
    }
    const unheld = () => eligible.filter((node) => free(node, job)).map(current);

    if (job.mayPreempt) {
      // A victim that would rank with the job once back in the queue (its priority aged as far) could take the node
      // straight back: evicting it would only repeat.
      const outranked = (a: RunningAssignment): boolean =>
        effectivePriority({ priority: a.priority, createdAtMs: a.jobCreatedAtMs }, input.nowMs, input.agingSeconds) < jobEffective;
      const eviction = planEviction(unheld(), running, job, outranked);
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

    // Hold that node: nothing later in the queue may take the capacity it waits for.
    holds += 1;
    heldBy.set(closest.id, job.id);
    shape.shortage ??= describeShortage(unheld(), job.request, job.selector);
    wait(job, 'insufficient_capacity', `${shape.shortage}; node ${closest.id} is held for it`);
  }
  return plan;
}

/** Why no live ACTIVE node could take the job even when empty. */
function whyNoNode(nodes: SchedulerNode[], job: WaitingJob, lostOn: ReadonlySet<string>): [PendingReason, string] {
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
 * (the least work lost), and only those whose resources the job needs and that it `outranked`.
 */
function planEviction(
  eligible: SchedulerNode[],
  running: RunningAssignment[],
  job: WaitingJob,
  outranked: (assignment: RunningAssignment) => boolean,
): { node: SchedulerNode; victims: number; newVictims: RunningAssignment[] } | null {
  let best: { node: SchedulerNode; victims: number; newVictims: RunningAssignment[] } | null = null;
  for (const node of eligible) {
    const onNode = running.filter((a) => a.nodeId === node.id);
    const freed = onNode.filter((a) => a.preempting);
    const candidates = onNode
      .filter((a) => !a.preempting && a.priority < job.priority && outranked(a))
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
    // A victim taken on the way may free nothing the job lacks (CPU when it waits for GPUs): spare every one the job
    // fits without, the highest priority first.
    for (let i = newVictims.length - 1; i >= 0; i -= 1) {
      const [spared] = newVictims.splice(i, 1);
      if (!fitsAfter()) newVictims.splice(i, 0, spared);
    }
    const victims = freed.length + newVictims.length;
    if (victims === 0) continue;
    if (!best || newVictims.length < best.newVictims.length || (newVictims.length === best.newVictims.length && node.id < best.node.id)) {
      best = { node, victims, newVictims };
    }
  }
  return best;
}
