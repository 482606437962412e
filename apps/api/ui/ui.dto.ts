import { ApiProperty, OmitType } from '@nestjs/swagger';
import { JobResponseDto } from '../jobs/jobs.dto';

export class JobsByStateDto {
  @ApiProperty({ description: 'Jobs waiting for placement (or re-placement).' })
  QUEUED: number;

  @ApiProperty({ description: 'Jobs placed on a node.' })
  RUNNING: number;

  @ApiProperty({ description: 'Jobs that succeeded in the last 24 h.' })
  SUCCEEDED: number;

  @ApiProperty({ description: 'Jobs that failed in the last 24 h.' })
  FAILED: number;

  @ApiProperty({ description: 'Jobs that were cancelled in the last 24 h.' })
  CANCELLED: number;
}

export class NodesByStatusDto {
  @ApiProperty({ description: 'Nodes taking work.' })
  ACTIVE: number;

  @ApiProperty({ description: 'Nodes finishing their work, taking no more.' })
  DRAINING: number;

  @ApiProperty({ description: 'Nodes that stopped heartbeating.' })
  DEAD: number;
}

export class CapacityDto {
  @ApiProperty({ description: 'Slots of ACTIVE nodes.' })
  slots: number;

  @ApiProperty({ description: 'Slots in use on ACTIVE nodes.' })
  used_slots: number;

  @ApiProperty({ description: 'CPU cores of ACTIVE nodes.' })
  cpu: number;

  @ApiProperty({ description: 'CPU cores reserved on ACTIVE nodes.' })
  used_cpu: number;

  @ApiProperty({ description: 'Memory of ACTIVE nodes, MiB.' })
  mem_mb: number;

  @ApiProperty({ description: 'Memory reserved on ACTIVE nodes, MiB.' })
  used_mem_mb: number;

  @ApiProperty({ description: 'GPUs of ACTIVE nodes.' })
  gpus: number;

  @ApiProperty({ description: 'GPUs reserved on ACTIVE nodes.' })
  used_gpus: number;
}

/** A job without its attempt history (latest_assignment stays). */
export class JobSummaryDto extends OmitType(JobResponseDto, ['assignments'] as const) {}

export const ATTENTION_KINDS = ['waiting_long', 'attempts_exhausted', 'node_dead', 'node_silent', 'group_blocked'] as const;
export type AttentionKind = (typeof ATTENTION_KINDS)[number];

export class AttentionItemDto {
  @ApiProperty({
    description:
      'waiting_long: a job QUEUED longer than the threshold; attempts_exhausted: a job that failed with every attempt used (last 24 h); node_dead: a DEAD node that went silent (not one that said it was stopping); node_silent: an ACTIVE node past two heartbeats without one; group_blocked: a configured worker group no live node of which has a free slot.',
    enum: ATTENTION_KINDS,
  })
  kind: AttentionKind;

  @ApiProperty({ description: 'What it is about: a job id, a node id or a worker group name.' })
  subject: string;

  @ApiProperty({ description: 'Why it needs attention (a pending reason and detail, an error code, the last heartbeat).' })
  message: string;

  @ApiProperty({ description: 'Since when (submission, failure or last heartbeat).', type: String, format: 'date-time', nullable: true })
  since: string | null;
}

export class GroupCapacityDto {
  @ApiProperty({ description: 'Worker group.' })
  name: string;

  @ApiProperty({ description: 'ACTIVE nodes.' })
  active_nodes: number;

  @ApiProperty({ description: 'Nodes not ACTIVE (DRAINING or DEAD).' })
  other_nodes: number;

  @ApiProperty({ description: 'Slots of ACTIVE nodes.' })
  slots: number;

  @ApiProperty({ description: 'Slots in use on ACTIVE nodes.' })
  used_slots: number;

  @ApiProperty({ description: 'GPUs of ACTIVE nodes.' })
  gpus: number;

  @ApiProperty({ description: 'GPUs reserved on ACTIVE nodes.' })
  used_gpus: number;
}

export class OverviewResponseDto {
  @ApiProperty({ description: "Tenant's jobs per state: those waiting or running now, and those that finished in the last 24 h.", type: JobsByStateDto })
  jobs_by_state: JobsByStateDto;

  @ApiProperty({ description: 'Nodes per status.', type: NodesByStatusDto })
  nodes_by_status: NodesByStatusDto;

  @ApiProperty({ description: 'Capacity and usage summed over ACTIVE nodes.', type: CapacityDto })
  capacity: CapacityDto;

  @ApiProperty({ description: "The tenant's 10 newest jobs.", type: [JobSummaryDto] })
  recent_jobs: JobSummaryDto[];

  @ApiProperty({ description: "Submission time of the tenant's oldest QUEUED job.", type: String, format: 'date-time', nullable: true })
  oldest_queued_at: string | null;

  @ApiProperty({ description: "The tenant's jobs that FAILED in the last hour." })
  failed_last_hour: number;

  @ApiProperty({ description: 'What an operator should look at, most urgent kinds first (at most 10 of each).', type: [AttentionItemDto] })
  attention: AttentionItemDto[];

  @ApiProperty({ description: 'Capacity and usage per worker group (configured groups and any group with nodes).', type: [GroupCapacityDto] })
  groups: GroupCapacityDto[];
}

export class ConsoleConfigResponseDto {
  @ApiProperty({ description: 'Whether POST /v1/auth/dev-token (the dev sign-in form) exists: only with the dev signing key, never with JWKS.' })
  dev_sign_in: boolean;

  @ApiProperty({ description: 'Temporal Web UI base URL, for links to a job\'s workflow.', example: 'http://127.0.0.1:8233' })
  temporal_ui_url: string;

  @ApiProperty({ description: 'Temporal namespace the job workflows run in.', example: 'default' })
  temporal_namespace: string;

  @ApiProperty({ description: 'Configured priority classes (MLIS_PRIORITY_CLASSES), lowest priority first.', type: [String], example: ['low', 'normal', 'high', 'urgent'] })
  priority_classes: string[];
}

export class QueuedJobDto {
  @ApiProperty({ description: 'Place in the last scheduling cycle\'s order (1 = next), across groups.' })
  position: number;

  @ApiProperty({ description: 'Job id.', format: 'uuid' })
  id: string;

  @ApiProperty({ description: 'Owning tenant.' })
  tenant_id: string;

  @ApiProperty({ description: 'Priority.' })
  priority: number;

  @ApiProperty({ description: 'Priority class it was submitted with.', type: String, nullable: true })
  priority_class: string | null;

  @ApiProperty({ description: 'GPUs it asks for.' })
  gpu: number;

  @ApiProperty({ description: 'Why it waits.', type: String, nullable: true })
  pending_reason: string | null;

  @ApiProperty({ description: 'Which resource is short, or which job holds the capacity.', type: String, nullable: true })
  pending_detail: string | null;

  @ApiProperty({ description: 'Submission time.', format: 'date-time' })
  created_at: string;
}

export class QueueGroupDto {
  @ApiProperty({ description: 'Worker group the jobs asked for; null: any group.', type: String, nullable: true })
  group: string | null;

  @ApiProperty({ description: 'Its waiting jobs in scheduling order.', type: [QueuedJobDto] })
  jobs: QueuedJobDto[];
}

export class TenantShareDto {
  @ApiProperty({ description: 'Tenant.' })
  tenant_id: string;

  @ApiProperty({ description: 'Fair-share weight.' })
  weight: number;

  @ApiProperty({ description: 'Its weight over the weights of every tenant listed (tenants with running or waiting work), 0-1.' })
  fair_share: number;

  @ApiProperty({ description: 'Dominant share: the largest of its CPU, memory and GPU fractions of ACTIVE capacity, 0-1.' })
  dominant_share: number;

  @ApiProperty({ description: 'Running jobs.' })
  running_jobs: number;

  @ApiProperty({ description: 'GPUs held.' })
  gpus: number;

  @ApiProperty({ description: 'Waiting jobs.' })
  waiting_jobs: number;

  @ApiProperty({ description: 'Quota on running jobs.', type: Number, nullable: true })
  max_running_jobs: number | null;

  @ApiProperty({ description: 'Quota on GPUs.', type: Number, nullable: true })
  max_gpus: number | null;
}

export class QueueResponseDto {
  @ApiProperty({ description: 'When the last scheduling cycle ran.', type: String, format: 'date-time', nullable: true })
  cycle_at: string | null;

  @ApiProperty({ description: 'Waiting jobs per requested worker group (the first 500 of the order).', type: [QueueGroupDto] })
  groups: QueueGroupDto[];

  @ApiProperty({ description: 'Tenants with running or waiting work.', type: [TenantShareDto] })
  tenants: TenantShareDto[];
}
