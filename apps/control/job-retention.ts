import { randomUUID } from 'node:crypto';
import type { JobsRepository, TenantsRepository } from '@mlis/db';
import { controlAuditRow } from './control-audit';
import { PeriodicPass } from './periodic-pass';

/** Jobs deleted by one transaction at most: a pass over a long backlog (the first after retention is turned on) takes several short ones. */
const BATCH = 500;
const DAY_MS = 24 * 3600 * 1000;

/**
 * Deletes jobs that finished more than the retention ago, with their attempts and artifact links, tenant by tenant,
 * each batch audited `job.expire` (ADR 0036). Every control replica may run one: a job another pass holds is skipped.
 */
export class JobRetention extends PeriodicPass<number> {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly tenants: TenantsRepository,
    private readonly retentionDays: number,
    intervalMs: number,
    private readonly log: (line: string) => void,
  ) {
    super(intervalMs);
  }

  override start(): void {
    if (this.retentionDays > 0) super.start();
  }

  /** Returns how many jobs it deleted. */
  protected async pass(now: Date): Promise<number> {
    if (this.retentionDays === 0) return 0;
    const before = new Date(now.getTime() - this.retentionDays * DAY_MS);
    const requestId = randomUUID();
    let total = 0;
    try {
      for (const tenant of await this.tenants.list()) {
        const audit = (count: number) =>
          controlAuditRow(requestId, { action: 'job.expire', resource: 'jobs', targetTenant: tenant.id, reason: `${count} job(s) finished before ${before.toISOString()}` });
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
