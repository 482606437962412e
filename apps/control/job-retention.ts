import { randomUUID } from 'node:crypto';
import type { AuditEventInput } from '@mlis/contracts';
import type { JobsRepository, TenantsRepository } from '@mlis/db';

/** Jobs deleted by one transaction at most: a pass over a long backlog (the first after retention is turned on) takes several short ones. */
const BATCH = 500;
const DAY_MS = 24 * 3600 * 1000;

/**
 * Deletes jobs that finished more than the retention ago, with their attempts and artifact links, tenant by tenant,
 * each batch audited `job.expire` (ADR 0036). Every control replica may run one: a job another pass holds is skipped.
 */
export class JobRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly jobs: JobsRepository,
    private readonly tenants: TenantsRepository,
    private readonly retentionDays: number,
    private readonly intervalMs: number,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    if (this.retentionDays === 0) return;
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a pass in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass; returns how many jobs it deleted. A pass already in flight is joined rather than doubled. */
  sweep(now: Date = new Date()): Promise<number> {
    this.running ??= this.pass(now).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(now: Date): Promise<number> {
    if (this.retentionDays === 0) return 0;
    const before = new Date(now.getTime() - this.retentionDays * DAY_MS);
    const requestId = randomUUID();
    let total = 0;
    try {
      for (const tenant of await this.tenants.list()) {
        const audit = (count: number): AuditEventInput => ({
          requestId,
          actorTenant: null,
          actorSubject: 'control',
          targetTenant: tenant.id,
          action: 'job.expire',
          resource: 'jobs',
          result: 'allow',
          reason: `${count} job(s) finished before ${before.toISOString()}`,
        });
        let deleted: number;
        do {
          deleted = await this.jobs.deleteFinishedBefore(tenant.id, before, BATCH, audit);
          total += deleted;
        } while (deleted === BATCH);
      }
    } catch (error) {
      this.log(`job retention pass failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (total > 0) this.log(`deleted ${total} job(s) finished before ${before.toISOString()} (MLIS_JOB_RETENTION_DAYS=${this.retentionDays})`);
    return total;
  }
}
