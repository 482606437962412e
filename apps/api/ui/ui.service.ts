import { Inject, Injectable } from '@nestjs/common';
import { JOB_STATES, NODE_STATUSES } from '../../../libs/contracts';
import { JobsRepository, NodesRepository } from '../../../libs/db';
import type { Actor } from '../common/actor';
import { JobsService } from '../jobs/jobs.service';
import type { JobResponseDto } from '../jobs/jobs.dto';
import type { CapacityDto, JobsByStateDto, JobSummaryDto, NodesByStatusDto, OverviewResponseDto } from './ui.dto';

const RECENT_JOBS = 10;

function withoutHistory(job: JobResponseDto): JobSummaryDto {
  const summary: Partial<JobResponseDto> = { ...job };
  delete summary.assignments;
  return summary as JobSummaryDto;
}

/** Read models for the console. */
@Injectable()
export class UiService {
  constructor(
    private readonly jobsService: JobsService,
    @Inject(JobsRepository) private readonly jobs: JobsRepository,
    @Inject(NodesRepository) private readonly nodes: NodesRepository,
  ) {}

  async overview(actor: Actor): Promise<OverviewResponseDto> {
    const [jobCounts, nodes, recent] = await Promise.all([
      this.jobs.countByState(actor.tenantId),
      this.nodes.list(),
      this.jobsService.recent(actor, RECENT_JOBS),
    ]);
    const jobsByState = Object.fromEntries(JOB_STATES.map((state) => [state, jobCounts.get(state) ?? 0])) as unknown as JobsByStateDto;
    const nodesByStatus = Object.fromEntries(
      NODE_STATUSES.map((status) => [status, nodes.filter((node) => node.status === status).length]),
    ) as unknown as NodesByStatusDto;
    const active = nodes.filter((node) => node.status === 'ACTIVE');
    const sum = (pick: (node: (typeof nodes)[number]) => number) => active.reduce((total, node) => total + pick(node), 0);
    const capacity: CapacityDto = {
      slots: sum((n) => n.slots),
      used_slots: sum((n) => n.usedSlots),
      cpu: sum((n) => n.cpuMillis) / 1000,
      used_cpu: sum((n) => n.usedCpuMillis) / 1000,
      mem_mb: sum((n) => n.memMb),
      used_mem_mb: sum((n) => n.usedMemMb),
      gpus: sum((n) => n.gpuCount),
      used_gpus: sum((n) => n.usedGpus),
    };
    return {
      jobs_by_state: jobsByState,
      nodes_by_status: nodesByStatus,
      capacity,
      recent_jobs: recent.map(withoutHistory),
    };
  }
}
