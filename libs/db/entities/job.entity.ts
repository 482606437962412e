import { Column, Entity, PrimaryColumn, VirtualColumn } from 'typeorm';
import type { JobError, JobState, PendingReason } from '@mlis/contracts';

@Entity({ name: 'jobs' })
export class JobEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('text', { name: 'tenant_id' }) tenantId: string;
  @Column('text', { name: 'submitted_by' }) submittedBy: string;
  @Column('text', { name: 'task_type' }) taskType: string;
  /** `{}` when the params were stored as an artifact (paramsArtifactId). */
  @Column('jsonb') params: Record<string, unknown>;
  /** The artifact holding the params' JSON when it exceeded the inline threshold. */
  @Column('uuid', { name: 'params_artifact_id', nullable: true }) paramsArtifactId: string | null;
  /** The sha256 of the params' canonical JSON when they are an artifact: what a repeat compares, the artifact gone or not. */
  @Column('text', { name: 'params_sha256', nullable: true }) paramsSha256: string | null;
  @Column('integer', { name: 'cpu_millis' }) cpuMillis: number;
  @Column('integer', { name: 'mem_mb' }) memMb: number;
  @Column('integer') gpu: number;
  @Column('integer') priority: number;
  @Column('text', { name: 'priority_class', nullable: true }) priorityClass: string | null;
  @Column('boolean', { name: 'may_preempt' }) mayPreempt: boolean;
  @Column('text', { name: 'worker_group', nullable: true }) workerGroup: string | null;
  @Column('jsonb', { name: 'node_selector' }) nodeSelector: Record<string, string>;
  @Column('text', { name: 'gpu_model', nullable: true }) gpuModel: string | null;
  @Column('integer', { name: 'gpu_memory_mb', nullable: true }) gpuMemoryMb: number | null;
  /** 1 = next to be placed, in the last scheduling cycle's order; null when not waiting or not reached by that cycle. */
  @VirtualColumn({
    type: 'integer',
    query: (alias) =>
      `SELECT CASE WHEN ${alias}.state = 'QUEUED' THEN array_position(q.job_ids, ${alias}.id) END FROM scheduler_queue q`,
  })
  queuePosition: number | null;
  @Column('text') state: JobState;
  @Column('text', { name: 'pending_reason', nullable: true }) pendingReason: PendingReason | null;
  @Column('text', { name: 'pending_detail', nullable: true }) pendingDetail: string | null;
  @Column('integer') attempts: number;
  @Column('integer', { name: 'max_attempts' }) maxAttempts: number;
  @Column('integer', { name: 'timeout_seconds' }) timeoutSeconds: number;
  @Column('text', { name: 'idempotency_key', nullable: true }) idempotencyKey: string | null;
  @Column('jsonb', { nullable: true }) result: unknown;
  /** The artifact holding the result's JSON when it exceeded the inline threshold (result is then null). */
  @Column('uuid', { name: 'result_artifact_id', nullable: true }) resultArtifactId: string | null;
  @Column('jsonb', { nullable: true }) error: JobError | null;
  @Column('text', { name: 'request_id', nullable: true }) requestId: string | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt: Date;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt: Date | null;
  @Column('timestamptz', { name: 'finished_at', nullable: true }) finishedAt: Date | null;
}
