import type { NodeEntity } from '../../../libs/db';
import type { NodeResponseDto } from './workers.dto';

export function toNodeResponse(node: NodeEntity): NodeResponseDto {
  return {
    node_id: node.id,
    group: node.groupName,
    status: node.status,
    hostname: node.hostname,
    pid: node.pid,
    incarnation: node.incarnation,
    slots: node.slots,
    used_slots: node.usedSlots,
    cpu: node.cpuMillis / 1000,
    used_cpu: node.usedCpuMillis / 1000,
    mem_mb: node.memMb,
    used_mem_mb: node.usedMemMb,
    gpu_count: node.gpuCount,
    used_gpus: node.usedGpus,
    gpus: node.gpus.map((gpu) => ({ index: gpu.index, model: gpu.model, memory_mb: gpu.memory_mb })),
    last_seen_at: node.lastSeenAt.toISOString(),
    registered_at: node.registeredAt.toISOString(),
  };
}
