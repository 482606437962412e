import { Inject, Injectable } from '@nestjs/common';
import { TenantsRepository, type TenantRecord } from '@mlis/db';

/** How long a replica checks submissions against a tenant row it read: a change made through another replica applies here within this. */
export const TENANT_REREAD_MS = 2_000;

/**
 * The tenant rows submissions are checked against, each read at most once every TENANT_REREAD_MS, so that a
 * submission costs one statement and one round trip less (ADR 0048). A change made through this replica applies at
 * once. Tenants are never deleted, so a row held is never wrong about the tenant existing; a tenant not found is read
 * again every time (it may be created a moment later).
 */
@Injectable()
export class RecentTenants {
  /** Each row with the time its read began (or its write committed), in ms since the epoch. */
  private readonly rows = new Map<string, { record: TenantRecord; readAt: number }>();
  /** The read under way for a tenant: submissions that come while it runs (a burst) share it. */
  private readonly reads = new Map<string, Promise<TenantRecord | null>>();

  constructor(@Inject(TenantsRepository) private readonly tenants: TenantsRepository) {}

  find(id: string): Promise<TenantRecord | null> {
    const held = this.rows.get(id);
    if (held && Date.now() - held.readAt < TENANT_REREAD_MS) return Promise.resolve(held.record);
    let reading = this.reads.get(id);
    if (!reading) {
      reading = this.read(id).finally(() => this.reads.delete(id));
      this.reads.set(id, reading);
    }
    return reading;
  }

  private async read(id: string): Promise<TenantRecord | null> {
    const began = Date.now();
    const record = await this.tenants.findById(id);
    // A write remembered while this read was under way is newer than what the read found.
    const newer = this.rows.get(id);
    if (record && (!newer || newer.readAt <= began)) this.rows.set(id, { record, readAt: began });
    return record;
  }

  /** A row this replica has just written, committed. */
  remember(record: TenantRecord): void {
    this.rows.set(record.id, { record, readAt: Date.now() });
  }
}
