import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@mlis/config';
import { JOB_STATES, NODE_STATUSES } from '@mlis/contracts';
import { JobsRepository, NodesRepository, type NodeEntity, type TenantJobHealth } from '@mlis/db';
import type { Actor } from '../common/actor';
import { JobsService } from '../jobs/jobs.service';
import type { JobResponseDto } from '../jobs/jobs.dto';
import { InjectAppConfig } from '../core/app-config';
import type {
  AttentionItemDto,
  CapacityDto,
  GroupCapacityDto,
  JobsByStateDto,
  JobSummaryDto,
  NodesByStatusDto,
  OverviewResponseDto,
  QueueGroupDto,
  QueueResponseDto,
} from './ui.dto';

const RECENT_JOBS = 10;
const QUEUE_VIEW_LIMIT = 500;
const ATTENTION_PER_KIND = 10;
const HOUR_MS = 3600_000;
/** How far back the overview counts finished jobs and lists exhausted ones: a day, not the tenant's whole history. */
const FINISHED_WINDOW_MS = 24 * HOUR_MS;

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
    @InjectAppConfig() private readonly config: AppConfig,
  ) {}

  async overview(actor: Actor): Promise<OverviewResponseDto> {
    const now = Date.now();
    const [jobCounts, nodes, recent, health] = await Promise.all([
      this.jobs.countByState(actor.tenantId, new Date(now - FINISHED_WINDOW_MS)),
      this.nodes.list(),
      this.jobsService.recent(actor, RECENT_JOBS),
      this.jobs.health(actor.tenantId, {
        waitingSince: new Date(now - this.config.console.waitingAttentionSeconds * 1000),
        failedSince: new Date(now - HOUR_MS),
        exhaustedSince: new Date(now - FINISHED_WINDOW_MS),
        limit: ATTENTION_PER_KIND,
      }),
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
      oldest_queued_at: health.oldestQueuedAt?.toISOString() ?? null,
      failed_last_hour: health.failedSince,
      attention: this.attention(health, nodes, now),
      groups: this.groups(nodes),
    };
  }

  /** Every tenant's waiting jobs in scheduling order per group, and each tenant's share against its weight and quotas. */
  async queue(): Promise<QueueResponseDto> {
    const [cycleAt, queued, shares, nodes] = await Promise.all([
      this.jobs.queueCycleAt(),
      this.jobs.queue(QUEUE_VIEW_LIMIT),
      this.jobs.tenantShares(),
      this.nodes.list(),
    ]);
    const groups = new Map<string | null, QueueGroupDto>();
    for (const job of queued) {
      const group = groups.get(job.workerGroup) ?? { group: job.workerGroup, jobs: [] };
      group.jobs.push({
        position: job.position,
        id: job.id,
        tenant_id: job.tenantId,
        priority: job.priority,
        priority_class: job.priorityClass,
        gpu: job.gpu,
        pending_reason: job.pendingReason,
        pending_detail: job.pendingDetail,
        created_at: job.createdAt.toISOString(),
      });
      groups.set(job.workerGroup, group);
    }
    const active = nodes.filter((node) => node.status === 'ACTIVE');
    const total = (pick: (node: NodeEntity) => number) => active.reduce((sum, node) => sum + pick(node), 0);
    const capacity = { cpu: total((n) => n.cpuMillis), mem: total((n) => n.memMb), gpus: total((n) => n.gpuCount) };
    const fraction = (used: number, of: number) => (of > 0 ? used / of : 0);
    const weights = shares.reduce((sum, share) => sum + share.weight, 0);
    return {
      cycle_at: cycleAt === null ? null : new Date(cycleAt).toISOString(),
      groups: [...groups.values()],
      tenants: shares.map((share) => ({
        tenant_id: share.tenantId,
        weight: share.weight,
        fair_share: weights > 0 ? share.weight / weights : 0,
        dominant_share: Math.max(fraction(share.cpuMillis, capacity.cpu), fraction(share.memMb, capacity.mem), fraction(share.gpus, capacity.gpus)),
        running_jobs: share.runningJobs,
        gpus: share.gpus,
        waiting_jobs: share.waitingJobs,
        max_running_jobs: share.maxRunningJobs,
        max_gpus: share.maxGpus,
      })),
    };
  }

  private attention(health: TenantJobHealth, nodes: NodeEntity[], now: number): AttentionItemDto[] {
    const silentAfterMs = 2 * this.config.scheduling.nodeHeartbeatSeconds * 1000;
    const jobs: AttentionItemDto[] = [
      ...health.waitingLong.map((job) => ({
        kind: 'waiting_long' as const,
        subject: job.id,
        message: [job.pendingReason ?? 'waiting', job.pendingDetail].filter(Boolean).join(': '),
        since: job.createdAt.toISOString(),
      })),
      ...health.exhausted.map((job) => ({
        kind: 'attempts_exhausted' as const,
        subject: job.id,
        message: job.errorCode ?? 'failed',
        since: job.finishedAt?.toISOString() ?? null,
      })),
    ];
    const nodeItems: AttentionItemDto[] = nodes.flatMap((node): AttentionItemDto[] => {
      const since = node.lastSeenAt.toISOString();
      // A node that said it was stopping (a rollout, a scale-down) is no incident.
      if (node.status === 'DEAD') return node.leftAt === null ? [{ kind: 'node_dead', subject: node.id, message: `${node.groupName} node stopped heartbeating`, since }] : [];
      if (node.status === 'ACTIVE' && now - node.lastSeenAt.getTime() > silentAfterMs) {
        return [{ kind: 'node_silent', subject: node.id, message: `no heartbeat for ${Math.round((now - node.lastSeenAt.getTime()) / 1000)} s`, since }];
      }
      return [];
    });
    const blocked: AttentionItemDto[] = this.groups(nodes)
      .filter((group) => group.used_slots >= group.slots)
      .map((group) => ({
        kind: 'group_blocked',
        subject: group.name,
        message: group.active_nodes === 0 ? 'no ACTIVE node' : `all ${group.slots} slots in use`,
        since: null,
      }));
    return [...nodeItems.filter((item) => item.kind === 'node_dead').slice(0, ATTENTION_PER_KIND), ...blocked, ...jobs, ...nodeItems.filter((item) => item.kind === 'node_silent').slice(0, ATTENTION_PER_KIND)];
  }

  private groups(nodes: NodeEntity[]): GroupCapacityDto[] {
    const names = [...new Set([...this.config.workerGroups, ...nodes.map((node) => node.groupName)])].sort();
    return names.map((name) => {
      const mine = nodes.filter((node) => node.groupName === name);
      const active = mine.filter((node) => node.status === 'ACTIVE');
      const sum = (pick: (node: NodeEntity) => number) => active.reduce((total, node) => total + pick(node), 0);
      return {
        name,
        active_nodes: active.length,
        other_nodes: mine.length - active.length,
        slots: sum((n) => n.slots),
        used_slots: sum((n) => n.usedSlots),
        gpus: sum((n) => n.gpuCount),
        used_gpus: sum((n) => n.usedGpus),
      };
    });
  }
}
