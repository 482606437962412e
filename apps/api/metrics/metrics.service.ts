import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AppConfig } from '@mlis/config';
import { MetricsRepository, type MetricsSnapshot, type NodeCapacityRow } from '@mlis/db';
import { createProcessRegistry, rankedTenants } from '@mlis/metrics';
import { InjectAppConfig } from '../core/app-config';
import { TEMPORAL_SDK_METRICS, type TemporalSdkMetrics } from '../core/core.module';

// Capacity and reservations of live ACTIVE nodes, one metric per resource so that each has one unit.
const RESOURCES: { name: string; what: string; total: keyof NodeCapacityRow; used: keyof NodeCapacityRow }[] = [
  { name: 'slots', what: 'Run slots', total: 'slots', used: 'usedSlots' },
  { name: 'cpu_cores', what: 'CPU cores', total: 'cpuCores', used: 'usedCpuCores' },
  { name: 'memory_bytes', what: 'Memory in bytes', total: 'memoryBytes', used: 'usedMemoryBytes' },
  { name: 'gpus', what: 'GPUs', total: 'gpus', used: 'usedGpus' },
];

/** What became of one `POST /v1/jobs`: a new job, the job an Idempotency-Key replay returned, or a refusal. */
export type SubmissionOutcome = 'accepted' | 'replayed' | 'refused';

/**
 * The API's /metrics: what this process records (HTTP, its own scheduling cycles, and with MLIS_API_JOB_WORKFLOWS what
 * its ledger activities record and the Temporal SDK's worker metrics, ADR 0052), and the ledger's figures read from
 * Postgres at scrape time, so every API replica reports the same cluster-wide numbers whichever process made the
 * decisions (ADR 0016). Tenant ids appear only with MLIS_METRICS_TENANT_LABEL=top:N.
 */
@Injectable()
export class MetricsService {
  private readonly registry: Registry;
  private snapshot: MetricsSnapshot | undefined;
  private readonly submissions: Counter<string>;
  private readonly byTenant: boolean;

  constructor(
    @Inject(MetricsRepository) private readonly metrics: MetricsRepository,
    @InjectAppConfig() private readonly config: AppConfig,
    @Inject(TEMPORAL_SDK_METRICS) private readonly temporalSdkMetrics: TemporalSdkMetrics,
  ) {
    this.byTenant = config.metrics.tenantLabelTopN !== null;
    this.registry = createProcessRegistry('api', {
      revision: config.metrics.buildRevision,
      byTenant: this.byTenant,
      jobWorkflows: config.api.jobWorkflows,
    });
    const registers = [this.registry];
    const current = (): MetricsSnapshot => this.snapshot!;
    const tenant = this.byTenant ? ['tenant'] : [];
    this.submissions = new Counter({
      name: 'mlis_job_submissions_total',
      help:
        'POST /v1/jobs answered by this process, by outcome (accepted, replayed: an Idempotency-Key repeat, refused) and reason ' +
        '(the error code of a refusal: rate_limited, quota_exceeded, unschedulable, validation_failed, ...; "none" otherwise).',
      labelNames: ['outcome', 'reason', ...tenant],
      registers,
    });
    new Gauge({
      name: 'mlis_jobs',
      help: 'Jobs by state: QUEUED and RUNNING now; SUCCEEDED, FAILED and CANCELLED: every job that ever ended so, those deleted since by retention too.',
      labelNames: ['state', ...tenant],
      registers,
      collect() {
        this.reset();
        for (const { count, ...labels } of current().jobsByState) this.set(labels, count);
      },
    });
    new Gauge({
      name: 'mlis_jobs_waiting',
      help: 'Waiting (QUEUED) jobs by pending reason and the worker group they asked for ("any" when none).',
      labelNames: ['reason', 'group', ...tenant],
      registers,
      collect() {
        this.reset();
        for (const { count, ...labels } of current().waitingByReason) this.set(labels, count);
      },
    });
    new Counter({
      name: 'mlis_scheduler_decisions_total',
      help: 'Scheduling decisions that changed something, by outcome and reason: placements, preemptions, and a job starting to wait for a (new) reason.',
      labelNames: ['outcome', 'reason'],
      registers,
      collect() {
        // The totals live in the ledger (shared by every process that runs cycles); expose them as they are.
        this.reset();
        for (const row of current().decisions) this.inc({ outcome: row.outcome, reason: row.reason }, row.total);
      },
    });
    new Gauge({
      name: 'mlis_nodes',
      help: 'Registered nodes by worker group and status.',
      labelNames: ['group', 'status'],
      registers,
      collect() {
        this.reset();
        for (const row of current().nodes) this.set({ group: row.group, status: row.status }, row.count);
      },
    });
    for (const { name, what, total, used } of RESOURCES) {
      for (const [metric, column, help] of [
        [`mlis_node_capacity_${name}`, total, `${what} of each live ACTIVE node.`],
        [`mlis_node_reserved_${name}`, used, `${what} reserved by placed and running attempts on each live ACTIVE node.`],
      ] as const) {
        new Gauge({
          name: metric,
          help,
          labelNames: ['group', 'node'],
          registers,
          collect() {
            this.reset();
            for (const row of current().capacity) this.set({ group: row.group, node: row.node }, Number(row[column]));
          },
        });
      }
    }
    new Gauge({
      name: 'mlis_node_heartbeat_age_seconds',
      help: "Seconds since each node's last heartbeat reached the ledger (nodes seen in the last hour).",
      labelNames: ['group', 'node'],
      registers,
      collect() {
        this.reset();
        for (const row of current().heartbeatAges) this.set({ group: row.group, node: row.node }, row.seconds);
      },
    });
    new Gauge({
      name: 'mlis_scheduler_last_cycle_timestamp_seconds',
      help: 'When the last scheduling cycle ran (any process).',
      registers,
      collect() {
        const at = current().lastCycleAt;
        if (at !== null) this.set(at);
      },
    });
  }

  /**
   * Counts one submission. `tenantId` is the caller's verified tenant (undefined before a token was verified); with a tenant
   * label it is named only when it was among the top N at the last scrape, else counted as `other`, so the label keeps N + 1
   * values whoever calls.
   */
  recordSubmission(outcome: SubmissionOutcome, reason: string, tenantId: string | undefined): void {
    this.submissions.inc(this.byTenant ? { outcome, reason, tenant: rankedTenants.labelOf(tenantId) } : { outcome, reason });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async render(): Promise<string> {
    this.snapshot = await this.metrics.snapshot({
      liveWithinSeconds: this.config.scheduling.nodeDeadAfterSeconds,
      tenantTopN: this.config.metrics.tenantLabelTopN,
    });
    // The tenants this process's own metrics name until the next scrape (ADR 0041).
    if (this.byTenant) rankedTenants.rank(this.snapshot.topTenants);
    const [own, sdk] = await Promise.all([this.registry.metrics(), this.temporalSdkMetrics?.() ?? '']);
    return sdk ? `${own}\n${sdk}` : own;
  }
}
