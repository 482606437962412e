// In-memory audit log and tenants, for specs that run without Postgres.
import type { AuditEventInput } from '@mlis/contracts';
import {
  TenantExistsError,
  type AuditEventRecord,
  type AuditExportPage,
  type AuditExportPosition,
  type AuditFilters,
  type AuditRepository,
  type TenantChanges,
  type TenantLimits,
  type TenantRecord,
  type TenantsRepository,
  type TokenRevocation,
  type TokenRevocationsRepository,
  type TokenTake,
} from '@mlis/db';
import type { GroupLimits } from '@mlis/scheduling';
import type { EntityManager } from 'typeorm';
import type { Db } from './fakes';


export class FakeAuditRepository implements Db<AuditRepository> {
  readonly events: AuditEventRecord[] = [];
  failing = false;

  async record(event: AuditEventInput): Promise<void> {
    if (this.failing) throw new Error('audit insert failed');
    this.events.push({ ...event, id: String(this.events.length + 1), at: new Date(), occurrences: event.occurrences ?? 1 });
  }

  async list(filters: AuditFilters, beforeId: string | undefined, limit: number): Promise<AuditEventRecord[]> {
    return [...this.events]
      .reverse()
      .filter(
        (e) =>
          (filters.action === undefined || e.action === filters.action) &&
          (filters.result === undefined || e.result === filters.result) &&
          (filters.actorTenant === undefined || e.actorTenant === filters.actorTenant) &&
          (filters.targetTenant === undefined || e.targetTenant === filters.targetTenant) &&
          (filters.resource === undefined || e.resource === filters.resource) &&
          (beforeId === undefined || Number(e.id) < Number(beforeId)),
      )
      .slice(0, limit);
  }

  /** Each event as its own transaction (xid = id), all ended: every event is ready for export. */
  async exportAfter(after: AuditExportPosition | null, limit: number): Promise<AuditExportPage> {
    const ready = this.events
      .map((event) => ({ ...event, position: { xid: event.id, id: event.id } }))
      .filter((event) => after === null || Number(event.id) > Number(after.id));
    return { events: ready.slice(0, limit), more: ready.length > limit };
  }
}

/** Tenants in a map; the submission bucket is a plain counter the spec sets. */
export class FakeTenantsRepository implements Db<TenantsRepository> {
  readonly tenants = new Map<string, TenantRecord>();
  /** Tokens each tenant's bucket has left; absent means full. */
  readonly tokens = new Map<string, number>();
  queued = 0;

  constructor() {
    this.put({ id: 'default', name: 'Default tenant' });
  }

  put(tenant: { id: string; name: string } & Partial<TenantLimits>): TenantRecord {
    const now = new Date();
    const record: TenantRecord = {
      maxQueuedJobs: null,
      submitRatePerMinute: null,
      maxArtifactBytes: null,
      maxRunningJobs: null,
      maxGpus: null,
      weight: 1,
      groupLimits: {},
      ...tenant,
      createdAt: now,
      updatedAt: now,
    };
    this.tenants.set(record.id, record);
    return record;
  }

  async create(
    tenant: { id: string; name: string } & TenantLimits,
    inTransaction: (manager: never, record: TenantRecord) => Promise<void>,
  ): Promise<TenantRecord> {
    if (this.tenants.has(tenant.id)) throw new TenantExistsError(tenant.id);
    const record = this.put(tenant);
    await inTransaction(undefined as never, record);
    return record;
  }

  async update(
    id: string,
    changes: TenantChanges,
    inTransaction: (manager: never, record: TenantRecord) => Promise<void>,
  ): Promise<TenantRecord | null> {
    const current = this.tenants.get(id);
    if (!current) return null;
    const { groupLimits, ...rest } = changes;
    const defined = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
    // Merged by group, as the repository does: a group given as null loses its limits.
    const merged = Object.entries({ ...current.groupLimits, ...groupLimits }).filter((entry): entry is [string, GroupLimits] => entry[1] !== null);
    const record = { ...current, ...defined, groupLimits: Object.fromEntries(merged), updatedAt: new Date() };
    this.tenants.set(id, record);
    await inTransaction(undefined as never, record);
    return record;
  }

  async findById(id: string): Promise<TenantRecord | null> {
    return this.tenants.get(id) ?? null;
  }

  async list(): Promise<TenantRecord[]> {
    return [...this.tenants.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async takeSubmitToken(tenantId: string, perMinute: number): Promise<TokenTake> {
    const tokens = this.tokens.get(tenantId) ?? perMinute;
    if (tokens >= 1) {
      this.tokens.set(tenantId, tokens - 1);
      return { admitted: true, tokens: tokens - 1 };
    }
    return { admitted: false, tokens };
  }

  /** Counts like the database would after the caller's insert: the queued jobs plus the one being submitted. */
  async lockAndCountQueuedJobs(): Promise<number> {
    return this.queued + 1;
  }
}

/** Revocations in a map; `revoke` stamps them with the wall clock, as the database would with now(). */
export class FakeTokenRevocationsRepository implements Db<TokenRevocationsRepository> {
  readonly revocations = new Map<string, TokenRevocation>();

  async revoke(tenantId: string, subject: string, revokedBy: string, audit: (manager: EntityManager) => Promise<void>): Promise<TokenRevocation> {
    await audit({} as EntityManager);
    const revocation = { tenantId, subject, revokedAt: new Date(), revokedBy };
    this.revocations.set(`${tenantId}\n${subject}`, revocation);
    return revocation;
  }

  async list(): Promise<TokenRevocation[]> {
    return [...this.revocations.values()].sort((a, b) => a.tenantId.localeCompare(b.tenantId) || a.subject.localeCompare(b.subject));
  }
}
