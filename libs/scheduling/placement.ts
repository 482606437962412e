import type { NodeSelector, ResourceRequest } from '@mlis/contracts';

export interface GpuSpec {
  index: number;
  model: string;
  memoryMb: number;
}

/** A node's capacity and current usage, as the placement logic sees it. */
export interface NodeCapacity {
  id: string;
  group: string;
  labels: Record<string, string>;
  slots: number;
  cpuMillis: number;
  memMb: number;
  gpus: GpuSpec[];
  usedSlots: number;
  usedCpuMillis: number;
  usedMemMb: number;
  /** GPU indices held by live assignments. */
  reservedGpuIndices: number[];
}

export interface PlacementChoice {
  nodeId: string;
  gpuIds: number[];
}

/** The node is in the job's worker group (if it names one) and carries every selected label. */
export function matchesSelector(node: Pick<NodeCapacity, 'group' | 'labels'>, selector: NodeSelector): boolean {
  if (selector.workerGroup && node.group !== selector.workerGroup) return false;
  for (const key in selector.labels) if (node.labels[key] !== selector.labels[key]) return false;
  return true;
}

// Placement runs for every waiting job against every candidate node in a cycle: the counting helpers
// below skip building GPU lists when the job does not constrain which GPUs it gets.
function selectsGpus(selector: NodeSelector): boolean {
  return Boolean(selector.gpuModel) || (selector.gpuMemoryMb ?? 0) > 0;
}

function usableGpuCount(node: Pick<NodeCapacity, 'gpus'>, selector: NodeSelector): number {
  return selectsGpus(selector) ? usableGpuIndices(node, selector).length : node.gpus.length;
}

function freeUsableGpuCount(node: Pick<NodeCapacity, 'gpus' | 'reservedGpuIndices'>, selector: NodeSelector): number {
  return selectsGpus(selector) ? freeUsableGpuIndices(node, selector).length : node.gpus.length - node.reservedGpuIndices.length;
}

/** GPU indices of the node that the job may be given: the right model, enough memory. */
export function usableGpuIndices(node: Pick<NodeCapacity, 'gpus'>, selector: NodeSelector): number[] {
  return node.gpus
    .filter((gpu) => (!selector.gpuModel || gpu.model === selector.gpuModel) && gpu.memoryMb >= (selector.gpuMemoryMb ?? 0))
    .map((gpu) => gpu.index)
    .sort((a, b) => a - b);
}

/** Whether this node could run the request when empty: the selector matches and every resource is large enough. */
export function fitsWhenEmpty(
  node: Pick<NodeCapacity, 'group' | 'labels' | 'slots' | 'cpuMillis' | 'memMb' | 'gpus'>,
  request: ResourceRequest,
  selector: NodeSelector = {},
): boolean {
  return (
    matchesSelector(node, selector) &&
    node.slots >= 1 &&
    node.cpuMillis >= request.cpuMillis &&
    node.memMb >= request.memMb &&
    (request.gpu === 0 || usableGpuCount(node, selector) >= request.gpu)
  );
}

/** Usable GPU ids that no live assignment holds. */
export function freeUsableGpuIndices(node: Pick<NodeCapacity, 'gpus' | 'reservedGpuIndices'>, selector: NodeSelector): number[] {
  const reserved = new Set(node.reservedGpuIndices);
  return usableGpuIndices(node, selector).filter((index) => !reserved.has(index));
}

/** Resources the request needs on this node beyond what is free now, as fractions of the node; all zero when it fits. */
export function shortfall(node: NodeCapacity, request: ResourceRequest, selector: NodeSelector): Record<'slots' | 'cpu' | 'mem_mb' | 'gpu', number> {
  return {
    slots: missingSlots(node),
    cpu: missingCpu(node, request),
    mem_mb: missingMem(node, request),
    gpu: missingGpus(node, request, selector),
  };
}

/** The largest fraction of any resource the node still lacks for the request; 0 when it fits now. */
export function worstShortfall(node: NodeCapacity, request: ResourceRequest, selector: NodeSelector): number {
  // Runs for every node a blocked job could hold, every cycle: no intermediate objects.
  return Math.max(missingSlots(node), missingCpu(node, request), missingMem(node, request), missingGpus(node, request, selector));
}

function missingSlots(node: NodeCapacity): number {
  return Math.max(0, node.usedSlots + 1 - node.slots) / node.slots;
}

function missingCpu(node: NodeCapacity, request: ResourceRequest): number {
  return Math.max(0, node.usedCpuMillis + request.cpuMillis - node.cpuMillis) / node.cpuMillis;
}

function missingMem(node: NodeCapacity, request: ResourceRequest): number {
  return Math.max(0, node.usedMemMb + request.memMb - node.memMb) / node.memMb;
}

function missingGpus(node: NodeCapacity, request: ResourceRequest, selector: NodeSelector): number {
  const usable = request.gpu === 0 ? 0 : usableGpuCount(node, selector);
  return usable === 0 ? 0 : Math.max(0, request.gpu - freeUsableGpuCount(node, selector)) / usable;
}

export function fitsNow(node: NodeCapacity, request: ResourceRequest, selector: NodeSelector = {}): boolean {
  return (
    node.usedSlots + 1 <= node.slots &&
    node.usedCpuMillis + request.cpuMillis <= node.cpuMillis &&
    node.usedMemMb + request.memMb <= node.memMb &&
    (request.gpu === 0 || freeUsableGpuCount(node, selector) >= request.gpu) &&
    matchesSelector(node, selector)
  );
}

/**
 * Picks `count` free GPU ids, preferring the smallest contiguous run that fits so that
 * larger runs stay whole for multi-GPU jobs; falls back to the lowest free ids.
 */
export function chooseGpuIds(free: number[], count: number): number[] {
  if (count === 0) return [];
  if (free.length < count) throw new Error(`need ${count} GPUs, ${free.length} free`);
  const runs: number[][] = [];
  for (const index of free) {
    const run = runs[runs.length - 1];
    if (run && run[run.length - 1] === index - 1) run.push(index);
    else runs.push([index]);
  }
  const fitting = runs.filter((run) => run.length >= count).sort((a, b) => a.length - b.length || a[0] - b[0]);
  return fitting.length > 0 ? fitting[0].slice(0, count) : free.slice(0, count);
}

/** Fraction of the node in use after placing the request, over its dominant resource. */
function loadAfter(node: NodeCapacity, request: ResourceRequest): number {
  const shares = [
    (node.usedSlots + 1) / node.slots,
    (node.usedCpuMillis + request.cpuMillis) / node.cpuMillis,
    (node.usedMemMb + request.memMb) / node.memMb,
  ];
  if (node.gpus.length > 0) shares.push((node.reservedGpuIndices.length + request.gpu) / node.gpus.length);
  return Math.max(...shares);
}

/**
 * Chooses among nodes the request fits on now, or null when there is none.
 * GPU jobs pack (fullest node first) so whole GPU nodes stay free for large requests;
 * CPU jobs spread (emptiest node first) and avoid GPU nodes while a CPU-only node fits.
 * Ties break on node id so the choice is deterministic.
 */
export function choosePlacement(
  nodes: NodeCapacity[],
  request: ResourceRequest,
  selector: NodeSelector = {},
): PlacementChoice | null {
  const candidates = nodes.filter((node) => fitsNow(node, request, selector));
  if (candidates.length === 0) return null;

  const wantsGpu = request.gpu > 0;
  const ranked = candidates
    .map((node) => ({ node, load: loadAfter(node, request), hasGpus: node.gpus.length > 0 }))
    .sort((a, b) => {
      if (!wantsGpu && a.hasGpus !== b.hasGpus) return a.hasGpus ? 1 : -1;
      const byLoad = wantsGpu ? b.load - a.load : a.load - b.load;
      return byLoad !== 0 ? byLoad : a.node.id.localeCompare(b.node.id);
    });
  const best = ranked[0].node;
  return { nodeId: best.id, gpuIds: chooseGpuIds(freeUsableGpuIndices(best, selector), request.gpu) };
}

/** Names the resource that none of these nodes has enough of free, for `pending_detail`. */
export function describeShortage(nodes: NodeCapacity[], request: ResourceRequest, selector: NodeSelector = {}): string {
  const resources = ['slots', 'cpu', 'mem_mb', 'gpu'] as const;
  const someoneHas = new Set<string>();
  for (const node of nodes) {
    const missing = shortfall(node, request, selector);
    for (const resource of resources) if (missing[resource] === 0) someoneHas.add(resource);
    if (someoneHas.size === resources.length) break;
  }
  const short = resources.filter((resource) => !someoneHas.has(resource));
  return short.length > 0
    ? `no node has enough free ${short.join(', ')}`
    : 'no single node has all requested resources free at once';
}
