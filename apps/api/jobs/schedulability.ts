import type { NodeSelector, ResourceRequest } from '../../../libs/contracts';
import { fitsWhenEmpty, matchesSelector, usableGpuIndices, type NodeCapacity } from '../../../libs/ledger';
import type { ErrorDetail } from '../common/domain-error';

/** A registered node's shape, whatever its status: what it could run when empty. */
export type NodeShape = Pick<NodeCapacity, 'group' | 'labels' | 'slots' | 'cpuMillis' | 'memMb' | 'gpus'>;

export interface Unschedulable {
  message: string;
  details: ErrorDetail[];
}

function describeRequest(request: ResourceRequest, selector: NodeSelector): string {
  const parts = [`cpu ${request.cpuMillis / 1000}`, `mem_mb ${request.memMb}`, `gpu ${request.gpu}`];
  if (selector.gpuModel) parts.push(`gpu_model ${selector.gpuModel}`);
  if (selector.gpuMemoryMb) parts.push(`gpu_memory_mb ${selector.gpuMemoryMb}`);
  return parts.join(', ');
}

/**
 * Why no registered node could ever run the request, even empty, or null when one could (or when the
 * cluster's shape is not known yet: no node registered at all, or none in the requested group).
 * A quota smaller than the request can never be met either.
 */
export function whyUnschedulable(
  request: ResourceRequest,
  selector: NodeSelector,
  nodes: NodeShape[],
  workerGroups: string[],
  tenantMaxGpus: number | null,
): Unschedulable | null {
  if (selector.workerGroup && !workerGroups.includes(selector.workerGroup)) {
    return {
      message: `no worker group "${selector.workerGroup}"; the groups are ${workerGroups.join(', ')}`,
      details: [{ field: 'worker_group', problem: 'no such worker group' }],
    };
  }
  if (tenantMaxGpus !== null && request.gpu > tenantMaxGpus) {
    return {
      message: `the tenant's max_gpus is ${tenantMaxGpus}: a job asking for ${request.gpu} GPUs could never start`,
      details: [{ field: 'gpu', problem: `exceeds the tenant's max_gpus ${tenantMaxGpus}` }],
    };
  }
  const inGroup = nodes.filter((node) => !selector.workerGroup || node.group === selector.workerGroup);
  if (inGroup.length === 0) return null;
  if (inGroup.some((node) => fitsWhenEmpty(node, request, selector))) return null;

  const where = selector.workerGroup ? `in group ${selector.workerGroup}` : 'registered';
  const labelled = inGroup.filter((node) => matchesSelector(node, { labels: selector.labels }));
  if (labelled.length === 0) {
    const wanted = Object.entries(selector.labels ?? {}).map(([key, value]) => `${key}=${value}`).join(', ');
    return {
      message: `no node ${where} has the labels ${wanted}`,
      details: [{ field: 'node_selector', problem: `no node ${where} has these labels` }],
    };
  }
  const largest = {
    cpu: Math.max(...labelled.map((node) => node.cpuMillis)) / 1000,
    mem_mb: Math.max(...labelled.map((node) => node.memMb)),
    gpu: Math.max(...labelled.map((node) => usableGpuIndices(node, selector).length)),
  };
  const requested = { cpu: request.cpuMillis / 1000, mem_mb: request.memMb, gpu: request.gpu };
  const short = (['cpu', 'mem_mb', 'gpu'] as const).filter((field) => requested[field] > largest[field]);
  const gpuKind = selector.gpuModel || selector.gpuMemoryMb ? ' of the requested model and memory' : '';
  const why = short.length > 0 ? `too much ${short.join(', ')}` : 'every resource fits some node, but no single node has all of them';
  return {
    message:
      `no node ${where} can ever run this job (${describeRequest(request, selector)}): ${why}; ` +
      `largest available: cpu ${largest.cpu}, mem_mb ${largest.mem_mb}, gpu ${largest.gpu}${gpuKind}`,
    details: short.map((field) => ({
      field: field === 'gpu' && gpuKind ? (selector.gpuModel ? 'gpu_model' : 'gpu_memory_mb') : field,
      problem: `exceeds the largest node's ${largest[field]}${field === 'gpu' ? gpuKind : ''}`,
    })),
  };
}
