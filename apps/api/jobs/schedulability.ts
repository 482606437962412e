import { matchesSelector, usableGpuIndices, type NodeCapacity } from '../../../libs/ledger';
import type { ErrorDetail } from '../common/domain-error';

/** A registered node's shape, whatever its status: what it could run when empty. */
export type NodeShape = Pick<NodeCapacity, 'group' | 'labels' | 'cpuMillis' | 'memMb' | 'gpus'>;

/** What a submission asks for: its size and where it may run. */
export interface JobRequirements {
  cpuMillis: number;
  memMb: number;
  gpu: number;
  workerGroup: string | null;
  nodeSelector: Record<string, string>;
  gpuModel: string | null;
  gpuMemoryMb: number | null;
}

/** The cluster as admission sees it. */
export interface ClusterShape {
  nodes: NodeShape[];
  /** Configured worker group names. */
  workerGroups: string[];
  /** The submitting tenant's max_gpus; null for no limit. */
  tenantMaxGpus: number | null;
}

export interface Unschedulable {
  message: string;
  details: ErrorDetail[];
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function formatSelector(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`)
    .join(',');
}

// Matching is the scheduler's own (libs/ledger), so admission and placement can never disagree.
function hasLabels(node: NodeShape, wanted: Record<string, string>): boolean {
  return matchesSelector(node, { labels: wanted });
}

/** GPUs of the node the job could be given: of its model (if it names one) with at least its memory each. */
function usableGpus(node: NodeShape, model: string | null, memoryMb: number | null): number {
  return usableGpuIndices(node, { gpuModel: model, gpuMemoryMb: memoryMb }).length;
}

function gpuPhrase(job: JobRequirements): string {
  let phrase = plural(job.gpu, 'GPU');
  if (job.gpuModel !== null) phrase += ` of model ${job.gpuModel}`;
  if (job.gpuMemoryMb) phrase += ` with at least ${job.gpuMemoryMb} MiB each`;
  return phrase;
}

// Which field to blame when no node has enough usable GPUs: the count itself when no node has that many
// GPUs of any kind, else the model, else the memory.
function gpuField(job: JobRequirements, nodes: NodeShape[]): string {
  const enough = (model: string | null, memoryMb: number | null): boolean => nodes.some((node) => usableGpus(node, model, memoryMb) >= job.gpu);
  if (!enough(null, null)) return 'gpu';
  if (job.gpuModel !== null && !enough(job.gpuModel, null)) return 'gpu_model';
  return 'gpu_memory_mb';
}

/**
 * Why no registered node could ever run the job, even empty, or null when one could. The nodes are
 * narrowed one constraint at a time (group, labels, GPUs, cpu, memory), and the first constraint that
 * leaves none is the answer, phrased with the ones before it ("no node in group gpu with labels
 * zone=eu-1 has 2 GPUs of model A100"). With no node registered at all, or none yet in a configured
 * group, the cluster's shape is unknown and the job is accepted to wait. A job asking for more GPUs
 * than the tenant's max_gpus could never start either.
 */
export function whyUnschedulable(job: JobRequirements, cluster: ClusterShape): Unschedulable | null {
  if (job.workerGroup !== null && !cluster.workerGroups.includes(job.workerGroup)) {
    const known = cluster.workerGroups.length > 0 ? `the groups are ${cluster.workerGroups.join(', ')}` : 'no group is configured';
    return {
      message: `no worker group "${job.workerGroup}"; ${known}`,
      details: [{ field: 'worker_group', problem: 'no such worker group' }],
    };
  }
  if (cluster.tenantMaxGpus !== null && job.gpu > cluster.tenantMaxGpus) {
    return {
      message: `the tenant's max_gpus is ${cluster.tenantMaxGpus}: a job asking for ${plural(job.gpu, 'GPU')} could never start`,
      details: [{ field: 'gpu', problem: `exceeds the tenant's max_gpus ${cluster.tenantMaxGpus}` }],
    };
  }

  let candidates = job.workerGroup === null ? cluster.nodes : cluster.nodes.filter((node) => node.group === job.workerGroup);
  if (candidates.length === 0) return null;
  const scope = [job.workerGroup === null ? 'registered' : `in group ${job.workerGroup}`];
  const refuse = (field: string, lacking: string): Unschedulable => {
    const message = `no node ${scope.join(' ')} has ${lacking}`;
    return { message, details: [{ field, problem: message }] };
  };

  if (Object.keys(job.nodeSelector).length > 0) {
    const labels = formatSelector(job.nodeSelector);
    candidates = candidates.filter((node) => hasLabels(node, job.nodeSelector));
    if (candidates.length === 0) return refuse('node_selector', `the labels ${labels}`);
    scope.push(`with labels ${labels}`);
  }

  if (job.gpu > 0) {
    const fitting = candidates.filter((node) => usableGpus(node, job.gpuModel, job.gpuMemoryMb) >= job.gpu);
    if (fitting.length === 0) {
      const most = Math.max(...candidates.map((node) => usableGpus(node, job.gpuModel, job.gpuMemoryMb)));
      return refuse(gpuField(job, candidates), `${gpuPhrase(job)} (the most any has: ${most})`);
    }
    candidates = fitting;
    scope.push(`with ${gpuPhrase(job)}`);
  }

  const cpus = job.cpuMillis / 1000;
  const withCpu = candidates.filter((node) => node.cpuMillis >= job.cpuMillis);
  if (withCpu.length === 0) {
    const most = Math.max(...candidates.map((node) => node.cpuMillis)) / 1000;
    return refuse('cpu', `${plural(cpus, 'CPU')} (the most any has: ${most})`);
  }
  // Name the cpu only when it narrowed the nodes: otherwise it explains nothing.
  if (withCpu.length < candidates.length) scope.push(`with ${plural(cpus, 'CPU')}`);

  if (!withCpu.some((node) => node.memMb >= job.memMb)) {
    const most = Math.max(...withCpu.map((node) => node.memMb));
    return refuse('mem_mb', `${job.memMb} MiB of memory (the most any has: ${most})`);
  }
  return null;
}
