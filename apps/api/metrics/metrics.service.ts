import { Inject, Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { AppConfig } from '../../../libs/config';
import { MetricsRepository, type MetricsSnapshot } from '../../../libs/db';
import { InjectAppConfig } from '../core/app-config';

/**
 * Prometheus metrics. Scheduling figures come from the ledger at scrape time, so every API replica
 * reports the same cluster-wide numbers, whichever process made the decisions.
 */
@Injectable()
export class MetricsService {
  private readonly registry = new Registry();
  private snapshot: MetricsSnapshot | undefined;

  constructor(
    @Inject(MetricsRepository) private readonly metrics: MetricsRepository,
    @InjectAppConfig() private readonly config: AppConfig,
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'mlis_api_' });
    const registers = [this.registry];
    const current = (): MetricsSnapshot => this.snapshot!;
    new Gauge({
      name: 'mlis_jobs',
      help: 'Jobs by state.',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        for (const row of current().jobsByState) this.set({ state: row.state }, row.count);
      },
    });
    new Gauge({
      name: 'mlis_jobs_waiting',
      help: 'Waiting (QUEUED) jobs by pending reason.',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const row of current().waitingByReason) this.set({ reason: row.reason }, row.count);
      },
    });
    new Counter({
      name: 'mlis_scheduler_decisions_total',
      help: 'Scheduling decisions that changed something: placements, preemptions, and a job starting to wait for a (new) reason.',
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
    new Gauge({
      name: 'mlis_capacity',
      help: 'Capacity of live ACTIVE nodes by worker group and resource.',
      labelNames: ['group', 'resource'],
      registers,
      collect() {
        this.reset();
        for (const row of current().capacity) this.set({ group: row.group, resource: row.resource }, row.total);
      },
    });
    new Gauge({
      name: 'mlis_capacity_used',
      help: 'Reserved capacity on live ACTIVE nodes by worker group and resource.',
      labelNames: ['group', 'resource'],
      registers,
      collect() {
        this.reset();
        for (const row of current().capacity) this.set({ group: row.group, resource: row.resource }, row.used);
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

  get contentType(): string {
    return this.registry.contentType;
  }

  async render(): Promise<string> {
    this.snapshot = await this.metrics.snapshot(this.config.scheduling.nodeDeadAfterSeconds);
    return this.registry.metrics();
  }
}
