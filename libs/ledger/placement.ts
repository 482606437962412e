import type { ResourceRequest } from '../contracts';

/** A node's capacity and current usage, as the placement logic sees it. */
export interface NodeCapacity {
  id: string;
  group: string;
  slots: number;
  cpuMillis: number;
  memMb: number;
  /** Indices of the node's GPUs. */
  gpuIndices: number[];
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

/** Whether a node of this shape could run the request when empty. */
export function fitsWhenEmpty(
  node: Pick<NodeCapacity, 'slots' | 'cpuMillis' | 'memMb' | 'gpuIndices'>,
  request: ResourceRequest,
): boolean {
  return (
    node.slots >= 1 &&
    node.cpuMillis >= request.cpuMillis &&
    node.memMb >= request.memMb &&
    node.gpuIndices.length >= request.gpu
  );
}

export function fitsNow(node: NodeCapacity, request: ResourceRequest): boolean {
  return (
    node.usedSlots + 1 <= node.slots &&
    node.usedCpuMillis + request.cpuMillis <= node.cpuMillis &&
    node.usedMemMb + request.memMb <= node.memMb &&
    freeGpuIndices(node).length >= request.gpu
  );
}

export function freeGpuIndices(node: Pick<NodeCapacity, 'gpuIndices' | 'reservedGpuIndices'>): number[] {
  const reserved = new Set(node.reservedGpuIndices);
  return node.gpuIndices.filter((index) => !reserved.has(index)).sort((a, b) => a - b);
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
  if (node.gpuIndices.length > 0) {
    shares.push((node.gpuIndices.length - freeGpuIndices(node).length + request.gpu) / node.gpuIndices.length);
  }
  return Math.max(...shares);
}

/**
 * Chooses a node for the request, or null when none fits now.
 * GPU jobs pack (fullest node first) so whole GPU nodes stay free for large requests;
 * CPU jobs spread (emptiest node first) and avoid GPU nodes while a CPU-only node fits.
 * Ties break on node id so the choice is deterministic.
 */
export function choosePlacement(
  nodes: NodeCapacity[],
  request: ResourceRequest,
  excludeNodeIds: readonly string[] = [],
): PlacementChoice | null {
  const excluded = new Set(excludeNodeIds);
  const candidates = nodes.filter((node) => !excluded.has(node.id) && fitsNow(node, request));
  if (candidates.length === 0) return null;

  const wantsGpu = request.gpu > 0;
  const ranked = candidates
    .map((node) => ({ node, load: loadAfter(node, request), hasGpus: node.gpuIndices.length > 0 }))
    .sort((a, b) => {
      if (!wantsGpu && a.hasGpus !== b.hasGpus) return a.hasGpus ? 1 : -1;
      const byLoad = wantsGpu ? b.load - a.load : a.load - b.load;
      return byLoad !== 0 ? byLoad : a.node.id.localeCompare(b.node.id);
    });
  const best = ranked[0].node;
  return { nodeId: best.id, gpuIds: chooseGpuIds(freeGpuIndices(best), request.gpu) };
}

/** Names the resource that no candidate node has enough of, for `pending_detail`. */
export function describeShortage(nodes: NodeCapacity[], request: ResourceRequest): string {
  if (nodes.length === 0) return 'no live node in any worker group';
  const short: string[] = [];
  if (!nodes.some((n) => n.usedSlots + 1 <= n.slots)) short.push('slots');
  if (!nodes.some((n) => n.usedCpuMillis + request.cpuMillis <= n.cpuMillis)) short.push('cpu');
  if (!nodes.some((n) => n.usedMemMb + request.memMb <= n.memMb)) short.push('mem_mb');
  if (!nodes.some((n) => freeGpuIndices(n).length >= request.gpu)) short.push('gpu');
  return short.length > 0
    ? `no node has enough free ${short.join(', ')}`
    : 'no single node has all requested resources free at once';
}
