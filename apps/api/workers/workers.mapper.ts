import type { GpuReservation, NodeEntity, WorkerGroupSummary } from '@mlis/db';
import type { NodeResponseDto, WorkerGroupResponseDto } from './workers.dto';

/** `reservations`: the node's GPU reservations (others are ignored). */
export function toNodeResponse(node: NodeEntity, reservations: GpuReservation[]): NodeResponseDto {
  const byIndex = new Map(reservations.filter((r) => r.nodeId === node.id).map((r) => [r.gpuIndex, r]));
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
    gpus: node.gpus.map((gpu) => {
      const reservation = byIndex.get(gpu.index);
      return {
        index: gpu.index,
        model: gpu.model,
        memory_mb: gpu.memory_mb,
        use: reservation ? (reservation.running ? 'used' : 'held') : 'free',
        job_id: reservation?.jobId ?? null,
      };
    }),
    labels: node.labels,
    last_seen_at: node.lastSeenAt.toISOString(),
    registered_at: node.registeredAt.toISOString(),
    left_at: node.leftAt?.toISOString() ?? null,
  };
}

export function toWorkerGroupResponse(group: WorkerGroupSummary): WorkerGroupResponseDto {
  return {
    name: group.name,
    description: group.description,
    nodes: { active: group.active, draining: group.draining, dead: group.dead },
    live_nodes: group.live,
    slots: group.slots,
    used_slots: group.usedSlots,
    cpu: group.cpuMillis / 1000,
    used_cpu: group.usedCpuMillis / 1000,
    mem_mb: group.memMb,
    used_mem_mb: group.usedMemMb,
    gpu_count: group.gpuCount,
    used_gpus: group.usedGpus,
    gpu_models: group.gpuModels,
  };
}
