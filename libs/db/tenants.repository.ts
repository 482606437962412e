import type { DataSource, EntityManager } from 'typeorm';
import type { GroupLimits } from '@mlis/scheduling';
import { updateReturning } from './sql';

/** Another tenant already has this id. */
export class TenantExistsError extends Error {}

/** A tenant's limits (null means unlimited) and its fair-share weight. */
export interface TenantLimits {
  maxQueuedJobs: number | null;
  submitRatePerMinute: number | null;
  maxRunningJobs: number | null;
  maxGpus: number | null;
  /** The largest artifact upload, below MLIS_ARTIFACTS_MAX_BYTES (which applies when this is null or higher). */
  maxArtifactBytes: number | null;
  /** Entitles the tenant to weight × the dominant share of a weight-1 tenant (1-1000). */
  weight: number;
  /** By worker group; a group not listed has no limits of its own. */
  groupLimits: Record<string, GroupLimits>;
}

/** A change of limits: the fields given replace the tenant's; a group given as null loses its limits. */
export type TenantChanges = Partial<Omit<TenantLimits, 'groupLimits'>> & { name?: string; groupLimits?: Record<string, GroupLimits | null> };

/** How group limits are stored (tenants.group_limits): by group, snake_case, as the API shows them. */
export type StoredGroupLimits = Record<string, { max_running_jobs: number | null; max_gpus: number | null } | null>;

export function storedGroupLimits(limits: Record<string, GroupLimits | null>): StoredGroupLimits {
  return Object.fromEntries(
    Object.entries(limits).map(([group, l]) => [group, l === null ? null : { max_running_jobs: l.maxRunningJobs, max_gpus: l.maxGpus }]),
  );
}

export function groupLimitsOf(stored: StoredGroupLimits): Record<string, GroupLimits> {
  return Object.fromEntries(
    Object.entries(stored)
      .filter((entry): entry is [string, NonNullable<StoredGroupLimits[string]>] => entry[1] !== null)
      .map(([group, l]) => [group, { maxRunningJobs: l.max_running_jobs ?? null, maxGpus: l.max_gpus ?? null }]),
  );
}

export interface TenantRecord extends TenantLimits {
  id: string;
  name: string;
  createdAt: Date;
  updatedAt: Date;
}

/** Outcome of taking one submission token from a tenant's bucket. */
export interface TokenTake {
  admitted: boolean;
  /** Tokens left after the take (fractional: the bucket refills continuously). */
  tokens: number;
}

interface TenantRow {
  id: string;
  name: string;
  max_queued_jobs: number | null;
  submit_rate_per_minute: number | null;
  max_running_jobs: number | null;
  max_gpus: number | null;
  // bigint arrives as text.
  max_artifact_bytes: string | null;
  weight: number;
  group_limits: StoredGroupLimits;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, name, max_queued_jobs, submit_rate_per_minute, max_running_jobs, max_gpus, max_artifact_bytes, weight, group_limits, created_at, updated_at';
const LIMIT_COLUMNS: Record<keyof Omit<TenantLimits, 'groupLimits'>, string> = {
  maxQueuedJobs: 'max_queued_jobs',
  submitRatePerMinute: 'submit_rate_per_minute',
  maxRunningJobs: 'max_running_jobs',
  maxGpus: 'max_gpus',
  maxArtifactBytes: 'max_artifact_bytes',
  weight: 'weight',
};

function toRecord(row: TenantRow): TenantRecord {
  return {
    id: row.id,
    name: row.name,
    maxQueuedJobs: row.max_queued_jobs,
    submitRatePerMinute: row.submit_rate_per_minute,
    maxRunningJobs: row.max_running_jobs,
    maxGpus: row.max_gpus,
    maxArtifactBytes: row.max_artifact_bytes === null ? null : Number(row.max_artifact_bytes),
    weight: row.weight,
    groupLimits: groupLimitsOf(row.group_limits),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Tenants and their limits, and the shared state that enforces the submission rate. */
export class TenantsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Inserts the tenant and runs `inTransaction` (its audit row) in the same transaction. */
  async create(
    tenant: { id: string; name: string } & TenantLimits,
    inTransaction: (manager: EntityManager, record: TenantRecord) => Promise<void>,
  ): Promise<TenantRecord> {
    try {
      return await this.dataSource.transaction(async (m) => {
        const rows: TenantRow[] = await m.query(
          `INSERT INTO tenants (id, name, max_queued_jobs, submit_rate_per_minute, max_running_jobs, max_gpus, weight, group_limits, max_artifact_bytes)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
          [
            tenant.id,
            tenant.name,
            tenant.maxQueuedJobs,
            tenant.submitRatePerMinute,
            tenant.maxRunningJobs,
            tenant.maxGpus,
            tenant.weight,
            JSON.stringify(storedGroupLimits(tenant.groupLimits)),
            tenant.maxArtifactBytes,
          ],
        );
        const record = toRecord(rows[0]);
        await inTransaction(m, record);
        return record;
      });
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new TenantExistsError(`tenant ${tenant.id} already exists`);
      throw error;
    }
  }

  /** Changes the given fields; null if there is no such tenant. `inTransaction` sees the updated row. */
  async update(
    id: string,
    changes: TenantChanges,
    inTransaction: (manager: EntityManager, record: TenantRecord) => Promise<void>,
  ): Promise<TenantRecord | null> {
    const sets: string[] = ['updated_at = now()'];
    const params: unknown[] = [id];
    if (changes.name !== undefined) {
      params.push(changes.name);
      sets.push(`name = $${params.length}`);
    }
    for (const [key, column] of Object.entries(LIMIT_COLUMNS) as [keyof typeof LIMIT_COLUMNS, string][]) {
      if (changes[key] === undefined) continue;
      params.push(changes[key]);
      sets.push(`${column} = $${params.length}`);
    }
    if (changes.groupLimits !== undefined) {
      // Merged by group in the row's own UPDATE: a concurrent change to another group is kept.
      params.push(JSON.stringify(storedGroupLimits(changes.groupLimits)));
      sets.push(
        `group_limits = (SELECT COALESCE(jsonb_object_agg(key, value), '{}') FROM jsonb_each(group_limits || $${params.length}::jsonb) WHERE value <> 'null'::jsonb)`,
      );
    }
    return this.dataSource.transaction(async (m) => {
      const rows = await updateReturning<TenantRow>(m, `UPDATE tenants SET ${sets.join(', ')} WHERE id = $1 RETURNING ${COLUMNS}`, params);
      if (rows.length === 0) return null;
      const record = toRecord(rows[0]);
      await inTransaction(m, record);
      return record;
    });
  }

  async findById(id: string): Promise<TenantRecord | null> {
    const rows: TenantRow[] = await this.dataSource.query(`SELECT ${COLUMNS} FROM tenants WHERE id = $1`, [id]);
    return rows.length > 0 ? toRecord(rows[0]) : null;
  }

  async list(): Promise<TenantRecord[]> {
    const rows: TenantRow[] = await this.dataSource.query(`SELECT ${COLUMNS} FROM tenants ORDER BY id`);
    return rows.map(toRecord);
  }

  /**
   * Takes one token from the tenant's bucket in a single upsert, so concurrent API replicas serialise
   * on the row: the bucket holds up to `perMinute` tokens and refills at `perMinute` per minute.
   */
  async takeSubmitToken(tenantId: string, perMinute: number): Promise<TokenTake> {
    const refilled = `LEAST(CAST($2 AS double precision),
      b.tokens + GREATEST(0, EXTRACT(EPOCH FROM (now() - b.refilled_at))) * CAST($2 AS double precision) / 60.0)`;
    const rows: { tokens: number; last_admitted: boolean }[] = await this.dataSource.query(
      `INSERT INTO tenant_submit_buckets AS b (tenant_id, tokens, refilled_at, last_admitted)
       VALUES ($1, CAST($2 AS double precision) - 1, now(), true)
       ON CONFLICT (tenant_id) DO UPDATE SET
         tokens = CASE WHEN ${refilled} >= 1 THEN ${refilled} - 1 ELSE ${refilled} END,
         last_admitted = ${refilled} >= 1,
         refilled_at = GREATEST(b.refilled_at, now())
       RETURNING tokens, last_admitted`,
      [tenantId, perMinute],
    );
    return { admitted: rows[0].last_admitted, tokens: Number(rows[0].tokens) };
  }

  /**
   * In the caller's transaction: locks the tenant row until commit, then counts its queued jobs. FOR NO KEY
   * UPDATE, so rows that only reference the tenant (jobs, usage) are not blocked by the lock.
   */
  async lockAndCountQueuedJobs(tenantId: string, manager: EntityManager): Promise<number> {
    await manager.query(`SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE`, [tenantId]);
    const rows: { count: number }[] = await manager.query(
      `SELECT CAST(count(*) AS integer) AS count FROM jobs WHERE tenant_id = $1 AND state = 'QUEUED'`,
      [tenantId],
    );
    return rows[0].count;
  }
}
