import { ApiProperty, OmitType } from '@nestjs/swagger';
import { JobResponseDto } from '../jobs/jobs.dto';

export class JobsByStateDto {
  @ApiProperty({ description: 'Jobs waiting for placement (or re-placement).' })
  QUEUED: number;

  @ApiProperty({ description: 'Jobs placed on a node.' })
  RUNNING: number;

  @ApiProperty({ description: 'Jobs that succeeded.' })
  SUCCEEDED: number;

  @ApiProperty({ description: 'Jobs that failed.' })
  FAILED: number;

  @ApiProperty({ description: 'Jobs that were cancelled.' })
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

export class OverviewResponseDto {
  @ApiProperty({ description: "Tenant's jobs per state.", type: JobsByStateDto })
  jobs_by_state: JobsByStateDto;

  @ApiProperty({ description: 'Nodes per status.', type: NodesByStatusDto })
  nodes_by_status: NodesByStatusDto;

  @ApiProperty({ description: 'Capacity and usage summed over ACTIVE nodes.', type: CapacityDto })
  capacity: CapacityDto;

  @ApiProperty({ description: "The tenant's 10 newest jobs.", type: [JobSummaryDto] })
  recent_jobs: JobSummaryDto[];
}
