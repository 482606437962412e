import type { AssignmentRecord, JobRecord } from '@mlis/db';
import type { AssignmentResponseDto, JobResponseDto } from './jobs.dto';

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

export function toAssignmentResponse({ assignment, hostname, pid }: AssignmentRecord): AssignmentResponseDto {
  return {
    id: assignment.id,
    attempt: assignment.attempt,
    state: assignment.state,
    node_id: assignment.nodeId,
    worker_uid: assignment.nodeId,
    node_incarnation: assignment.nodeIncarnation,
    hostname,
    pid,
    group: assignment.groupName,
    gpu_ids: assignment.gpuIds,
    cuda_visible_devices: assignment.gpuIds.join(','),
    reason: assignment.reason,
    created_at: assignment.createdAt.toISOString(),
    started_at: iso(assignment.startedAt),
    ended_at: iso(assignment.endedAt),
    preempted_by: assignment.preemptedBy,
  };
}

/** The API's view of a job; entities never leave the service layer. */
export function toJobResponse(record: JobRecord): JobResponseDto {
  const { job } = record;
  const assignments = record.assignments.map(toAssignmentResponse);
  return {
    id: job.id,
    tenant_id: job.tenantId,
    submitted_by: job.submittedBy,
    task_type: job.taskType,
    params: job.paramsArtifactId === null ? job.params : null,
    params_artifact: job.paramsArtifactId,
    cpu: job.cpuMillis / 1000,
    mem_mb: job.memMb,
    gpu: job.gpu,
    priority: job.priority,
    priority_class: job.priorityClass,
    may_preempt: job.mayPreempt,
    worker_group: job.workerGroup,
    node_selector: job.nodeSelector,
    gpu_model: job.gpuModel,
    gpu_memory_mb: job.gpuMemoryMb,
    state: job.state,
    // A job no cycle has looked at yet waits its turn.
    pending_reason: job.state === 'QUEUED' ? (job.pendingReason ?? 'queued') : null,
    pending_detail: job.state === 'QUEUED' ? job.pendingDetail : null,
    queue_position: job.state === 'QUEUED' ? job.queuePosition : null,
    attempts: job.attempts,
    max_attempts: job.maxAttempts,
    timeout_seconds: job.timeoutSeconds,
    result: job.result ?? null,
    result_artifact: job.resultArtifactId,
    error: job.error ? { code: job.error.code, message: job.error.message } : null,
    created_at: job.createdAt.toISOString(),
    updated_at: job.updatedAt.toISOString(),
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    latest_assignment: assignments.length > 0 ? assignments[assignments.length - 1] : null,
    assignments,
  };
}
