import type { DataSource } from 'typeorm';
// The file, not the barrel: that would load prom-client into every process that opens the database (migrations).
import { foldTenants, topTenants } from '@mlis/metrics/tenant-label';

/** One node's capacity and reservations, in base units (cores, bytes). */
export interface NodeCapacityRow {
  group: string;
  node: string;
  slots: number;
  usedSlots: number;
  cpuCores: number;
  usedCpuCores: number;
  memoryBytes: number;
  usedMemoryBytes: number;
  gpus: number;
  usedGpus: number;
}

export interface MetricsSnapshot {
  /** `tenant` only when a tenant label is configured. */
  jobsByState: { state: string; tenant?: string; count: number }[];
  /** `group`: the worker group the job asked for, `any` when it named none. */
  waitingByReason: { reason: string; group: string; tenant?: string; count: number }[];
  decisions: { outcome: string; reason: string; total: number }[];
  nodes: { group: string; status: string; count: number }[];
  /** Live ACTIVE nodes: the capacity scheduling cycles place on. */
  capacity: NodeCapacityRow[];
  /** Seconds since each node's last heartbeat; nodes seen in the last hour (a dead one stays visible that long). */
  heartbeatAges: { group: string; node: string; seconds: number }[];
  /** Seconds since the epoch of the last scheduling cycle; null before the first. */
  lastCycleAt: number | null;
  /** The tenants labelled by id (the top N by active jobs); the rest are `other`. Empty when no tenant label is configured. */
  topTenants: string[];
}

export interface SnapshotOptions {
  liveWithinSeconds: number;
  /** Label job counts with the top N tenants plus "other"; null: no tenant at all. */
  tenantTopN: number | null;
}

// How long a silent node's heartbeat age stays exported: long enough to see it die and be replaced.
const HEARTBEAT_AGE_WINDOW_SECONDS = 3600;
const MIB = 1024 * 1024;

/** Aggregates for GET /metrics: counts only, never a job's content; tenant ids only when configured (top N). */
export class MetricsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The N tenants with the most active jobs: those a process that labels its own metrics by tenant names (ADR 0041). */
  async topTenants(n: number): Promise<string[]> {
    const active: { tenant: string; count: number }[] = await this.dataSource.query(
      `SELECT tenant_id AS tenant, count(*)::int AS count FROM jobs WHERE state = 'QUEUED' GROUP BY tenant_id
       UNION ALL SELECT tenant_id, count(*)::int FROM jobs WHERE state = 'RUNNING' GROUP BY tenant_id`,
    );
    return [...topTenants(active, n)];
  }

  async snapshot({ liveWithinSeconds, tenantTopN }: SnapshotOptions): Promise<MetricsSnapshot> {
    const byTenant = tenantTopN !== null;
    const tenantColumn = byTenant ? ', tenant_id AS tenant' : '';
    const [jobsByState, waitingByReason, decisions, nodes, capacity, heartbeatAges, cycle] = await Promise.all([
      // Live jobs through their partial indexes (one SELECT per state), ended ones from the totals their trigger keeps.
      this.dataSource.query(
        `SELECT state${tenantColumn}, sum(count)::float8 AS count FROM (
           SELECT 'QUEUED' AS state, tenant_id, count(*) AS count FROM jobs WHERE state = 'QUEUED' GROUP BY tenant_id
           UNION ALL SELECT 'RUNNING', tenant_id, count(*) FROM jobs WHERE state = 'RUNNING' GROUP BY tenant_id
           UNION ALL SELECT state, tenant_id, total FROM job_outcomes
         ) jobs GROUP BY state${byTenant ? ', tenant_id' : ''}`,
      ),
      this.dataSource.query(
        `SELECT coalesce(pending_reason, 'queued') AS reason, coalesce(worker_group, 'any') AS "group"${tenantColumn}, count(*)::int AS count
         FROM jobs WHERE state = 'QUEUED' GROUP BY 1, 2${byTenant ? ', tenant_id' : ''}`,
      ),
      this.dataSource.query(`SELECT outcome, reason, total::float8 AS total FROM scheduler_decisions`),
      this.dataSource.query(`SELECT group_name AS "group", status, count(*)::int AS count FROM nodes GROUP BY 1, 2`),
      this.dataSource.query(
        `SELECT group_name AS "group", id AS node, slots, used_slots AS "usedSlots", cpu_millis / 1000.0::float8 AS "cpuCores",
                used_cpu_millis / 1000.0::float8 AS "usedCpuCores", mem_mb::float8 * ${MIB} AS "memoryBytes",
                used_mem_mb::float8 * ${MIB} AS "usedMemoryBytes", gpu_count AS gpus, used_gpus AS "usedGpus"
         FROM nodes WHERE status = 'ACTIVE' AND last_seen_at > now() - make_interval(secs => $1)`,
        [liveWithinSeconds],
      ),
      this.dataSource.query(
        `SELECT group_name AS "group", id AS node, extract(epoch FROM now() - last_seen_at)::float8 AS seconds
         FROM nodes WHERE last_seen_at > now() - make_interval(secs => $1)`,
        [HEARTBEAT_AGE_WINDOW_SECONDS],
      ),
      this.dataSource.query(`SELECT extract(epoch FROM cycle_at)::float8 AS at FROM scheduler_queue`),
    ]);
    const snapshot: MetricsSnapshot = {
      jobsByState,
      waitingByReason,
      decisions,
      nodes,
      capacity,
      heartbeatAges,
      lastCycleAt: (cycle as { at: number }[])[0]?.at ?? null,
      topTenants: [],
    };
    if (tenantTopN === null) return snapshot;
    const rows = snapshot.jobsByState as { state: string; tenant: string; count: number }[];
    const top = topTenants(rows.filter((row) => row.state === 'QUEUED' || row.state === 'RUNNING'), tenantTopN);
    return {
      ...snapshot,
      topTenants: [...top],
      jobsByState: foldTenants(rows, top),
      waitingByReason: foldTenants(snapshot.waitingByReason as { reason: string; group: string; tenant: string; count: number }[], top),
    };
  }
}
