import type { DataSource } from 'typeorm';

export interface MetricsSnapshot {
  jobsByState: { state: string; count: number }[];
  waitingByReason: { reason: string; count: number }[];
  decisions: { outcome: string; reason: string; total: number }[];
  nodes: { group: string; status: string; count: number }[];
  /** Totals over live ACTIVE nodes, by group. */
  capacity: { group: string; resource: 'slots' | 'cpu_millis' | 'mem_mb' | 'gpus'; total: number; used: number }[];
  /** Seconds since the epoch of the last scheduling cycle; null before the first. */
  lastCycleAt: number | null;
}

/** Aggregates for GET /metrics: counts only, never a tenant id or a job's content. */
export class MetricsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async snapshot(liveWithinSeconds: number): Promise<MetricsSnapshot> {
    const [jobsByState, waitingByReason, decisions, nodes, capacity, cycle] = await Promise.all([
      this.dataSource.query(`SELECT state, count(*)::int AS count FROM jobs GROUP BY state`),
      this.dataSource.query(
        `SELECT coalesce(pending_reason, 'queued') AS reason, count(*)::int AS count FROM jobs WHERE state = 'QUEUED' GROUP BY 1`,
      ),
      this.dataSource.query(`SELECT outcome, reason, total::float8 AS total FROM scheduler_decisions`),
      this.dataSource.query(`SELECT group_name AS "group", status, count(*)::int AS count FROM nodes GROUP BY 1, 2`),
      this.dataSource.query(
        `SELECT n.group_name AS "group", r.resource, sum(r.total)::float8 AS total, sum(r.used)::float8 AS used
         FROM nodes n CROSS JOIN LATERAL (VALUES ('slots', n.slots, n.used_slots), ('cpu_millis', n.cpu_millis, n.used_cpu_millis),
                                                 ('mem_mb', n.mem_mb, n.used_mem_mb), ('gpus', n.gpu_count, n.used_gpus)) AS r(resource, total, used)
         WHERE n.status = 'ACTIVE' AND n.last_seen_at > now() - make_interval(secs => $1)
         GROUP BY 1, 2`,
        [liveWithinSeconds],
      ),
      this.dataSource.query(`SELECT extract(epoch FROM cycle_at)::float8 AS at FROM scheduler_queue`),
    ]);
    return {
      jobsByState,
      waitingByReason,
      decisions,
      nodes,
      capacity,
      lastCycleAt: (cycle as { at: number }[])[0]?.at ?? null,
    };
  }
}
