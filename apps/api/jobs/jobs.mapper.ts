import type { AssignmentRecord, JobRecord } from '../../../libs/db';
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
    params: job.params,
    cpu: job.cpuMillis / 1000,
    mem_mb: job.memMb,
    gpu: job.gpu,
    priority: job.priority,
    state: job.state,
    pending_reason: job.pendingReason,
    pending_detail: job.pendingDetail,
    attempts: job.attempts,
    max_attempts: job.maxAttempts,
    timeout_seconds: job.timeoutSeconds,
    result: job.result ?? null,
    error: job.error ? { code: job.error.code, message: job.error.message } : null,
    created_at: job.createdAt.toISOString(),
    updated_at: job.updatedAt.toISOString(),
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    latest_assignment: assignments.length > 0 ? assignments[assignments.length - 1] : null,
    assignments,
  };
}
