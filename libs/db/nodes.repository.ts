import type { DataSource, EntityManager } from 'typeorm';
import { NodeEntity, type GpuDevice } from './entities/node.entity';
import type { AuditEventInput } from '@mlis/contracts';
import { recordAudit } from './audit.repository';
import { updateReturning } from './sql';

/** How long a gap in an API process's presence writes may be, and how recently one must have been seen: two missed writes and a second. */
function presenceSlackSeconds(heartbeatSeconds: number): number {
  return 2 * heartbeatSeconds + 1;
}

export class UnknownWorkerGroupError extends Error {}

export interface RegisterNodeInput {
  nodeId: string;
  group: string;
  hostname: string;
  pid: number;
  slots: number;
  cpuMillis: number;
  memMb: number;
  gpus: GpuDevice[];
  labels: Record<string, string>;
}

export type NodeHeartbeatResult = 'ok' | 'superseded' | 'unknown';

/** A worker group with its nodes counted by status and the capacity of its live nodes summed up. */
export interface WorkerGroupSummary {
  name: string;
  description: string;
  active: number;
  draining: number;
  dead: number;
  /** ACTIVE nodes seen within the window: what the totals cover. */
  live: number;
  slots: number;
  usedSlots: number;
  cpuMillis: number;
  usedCpuMillis: number;
  memMb: number;
  usedMemMb: number;
  gpuCount: number;
  usedGpus: number;
  /** Distinct models of the live nodes' GPUs, sorted. */
  gpuModels: string[];
}

interface GroupSummaryRow {
  name: string;
  description: string;
  active: number;
  draining: number;
  dead: number;
  live: number;
  // bigint sums come back as strings.
  slots: string;
  used_slots: string;
  cpu_millis: string;
  used_cpu_millis: string;
  mem_mb: string;
  used_mem_mb: string;
  gpu_count: string;
  used_gpus: string;
  gpu_models: string[];
}

export interface GpuReservation {
  nodeId: string;
  gpuIndex: number;
  jobId: string;
  /** The attempt runs (else it is placed and the GPU held for it). */
  running: boolean;
}

/**
 * The node registry: worker groups, node registration, liveness and drain, and what the API and the console read.
 * The capacity counters on node rows belong to the scheduling cycle (reserve) and the assignment lifecycle (release).
 */
export class NodesRepository {
  constructor(private readonly dataSource: DataSource) {}

  async ensureWorkerGroups(names: string[]): Promise<void> {
    for (const name of names) {
      await this.dataSource.query(`INSERT INTO worker_groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, [name]);
    }
  }

  /**
   * Registers a node or re-registers it with a new incarnation: ACTIVE again, unless it was DRAINING. `audit` writes
   * the registration's audit rows in its transaction.
   */
  async registerNode(input: RegisterNodeInput, audit?: (manager: EntityManager) => Promise<void>): Promise<{ incarnation: number }> {
    return this.dataSource.transaction(async (m) => {
      const groups: unknown[] = await m.query(`SELECT 1 FROM worker_groups WHERE name = $1`, [input.group]);
      if (groups.length === 0) throw new UnknownWorkerGroupError(`unknown worker group "${input.group}"`);
      const rows: { incarnation: number }[] = await m.query(
        `INSERT INTO nodes (id, group_name, hostname, pid, status, slots, cpu_millis, mem_mb, gpu_count, gpus, labels)
         VALUES ($1, $2, $3, $4, 'ACTIVE', $5, $6, $7, $8, $9, $10)
         ON CONFLICT (id) DO UPDATE SET
           group_name = EXCLUDED.group_name, hostname = EXCLUDED.hostname, pid = EXCLUDED.pid,
           -- A fresh number from the sequence (the column's default), above every incarnation this id ever had.
           incarnation = EXCLUDED.incarnation,
           -- A drain is the operator's intent: a restarted node stays DRAINING until undrained.
           status = CASE WHEN nodes.status = 'DRAINING' THEN 'DRAINING' ELSE 'ACTIVE' END,
           slots = EXCLUDED.slots, cpu_millis = EXCLUDED.cpu_millis, mem_mb = EXCLUDED.mem_mb,
           gpu_count = EXCLUDED.gpu_count, gpus = EXCLUDED.gpus, labels = EXCLUDED.labels,
           last_seen_at = now(), registered_at = now(), updated_at = now(), left_at = NULL
         RETURNING incarnation`,
        [
          input.nodeId,
          input.group,
          input.hostname,
          input.pid,
          input.slots,
          input.cpuMillis,
          input.memMb,
          input.gpus.length,
          JSON.stringify(input.gpus),
          JSON.stringify(input.labels),
        ],
      );
      await audit?.(m);
      return { incarnation: rows[0].incarnation };
    });
  }

  /** Records node liveness. A DEAD node must register again (new incarnation) before it counts. */
  async heartbeatNode(nodeId: string, incarnation: number): Promise<NodeHeartbeatResult> {
    const updated = await updateReturning(
      this.dataSource,
      `UPDATE nodes SET last_seen_at = now() WHERE id = $1 AND incarnation = $2 AND status <> 'DEAD' RETURNING id`,
      [nodeId, incarnation],
    );
    if (updated.length > 0) return 'ok';
    const rows: { incarnation: number; status: string }[] = await this.dataSource.query(
      `SELECT incarnation, status FROM nodes WHERE id = $1`,
      [nodeId],
    );
    if (rows.length === 0 || rows[0].status === 'DEAD') return 'unknown';
    return rows[0].incarnation > incarnation ? 'superseded' : 'unknown';
  }

  /**
   * DRAINING nodes take no new placements; their running work finishes. A DEAD node stays DEAD (false). `audit` writes
   * the change's audit row in its transaction.
   */
  async setNodeDraining(nodeId: string, draining: boolean, audit?: (manager: EntityManager) => Promise<void>): Promise<boolean> {
    return this.dataSource.transaction(async (m) => {
      const rows = await updateReturning(
        m,
        `UPDATE nodes SET status = $2, updated_at = now() WHERE id = $1 AND status <> 'DEAD' RETURNING id`,
        [nodeId, draining ? 'DRAINING' : 'ACTIVE'],
      );
      if (rows.length === 0) return false;
      await audit?.(m);
      return true;
    });
  }

  /**
   * The node incarnation is stopping, and records when (`left_at`: its DEAD row then says it left, not went silent). An
   * ACTIVE one is DEAD at once, instead of taking placements until the reaper notices its silence. A DRAINING one takes
   * none already and stays DRAINING (a restart keeps the drain) until the reaper marks it DEAD. A newer incarnation, a
   * DEAD node and one that left already are left alone. True when it changed; `audit` then writes the change's audit
   * row in its transaction.
   */
  async leaveNode(nodeId: string, incarnation: number, audit?: (manager: EntityManager) => Promise<void>): Promise<boolean> {
    return this.dataSource.transaction(async (m) => {
      const rows = await updateReturning(
        m,
        `UPDATE nodes SET status = CASE WHEN status = 'ACTIVE' THEN 'DEAD' ELSE status END, left_at = now(), updated_at = now()
         WHERE id = $1 AND incarnation = $2 AND status <> 'DEAD' AND left_at IS NULL RETURNING id`,
        [nodeId, incarnation],
      );
      if (rows.length === 0) return false;
      await audit?.(m);
      return true;
    });
  }

  /**
   * Records that API process `instanceId` is up (ADR 0062); it writes once a node-heartbeat interval. Its `up_since`
   * starts again after a gap in its writes (the process stalled, or Postgres was out of reach): silence heard through
   * it counts from there. Processes silent for a day are forgotten.
   */
  async recordApiInstance(instanceId: string, heartbeatSeconds: number): Promise<void> {
    await this.dataSource.query(
      `WITH forgotten AS (DELETE FROM api_instances WHERE last_seen_at < now() - interval '1 day' AND id <> $1)
       INSERT INTO api_instances (id, up_since, last_seen_at) VALUES ($1, now(), now())
       ON CONFLICT (id) DO UPDATE SET
         up_since = CASE WHEN api_instances.last_seen_at < now() - make_interval(secs => $2) THEN now() ELSE api_instances.up_since END,
         last_seen_at = now()`,
      [instanceId, presenceSlackSeconds(heartbeatSeconds)],
    );
  }

  /**
   * Marks DEAD the nodes silent for `deadAfterSeconds` while an API was up to hear them: some API process, seen lately
   * (by its writes each `heartbeatSeconds`), has been up, unbroken, for the whole window (ADR 0062). An outage of every
   * API (or of Postgres) silences every node at once: it marks none until an API has been back for the window, by
   * which time they have heartbeated. With no API process seen for a day (every API on a release before ADR 0062, or
   * an outage that long), silence alone counts, as before. Returns their ids.
   */
  async markSilentNodesDead(deadAfterSeconds: number, heartbeatSeconds: number): Promise<string[]> {
    const rows = await updateReturning<{ id: string }>(
      this.dataSource,
      `UPDATE nodes SET status = 'DEAD', updated_at = now()
       WHERE status <> 'DEAD' AND last_seen_at < now() - make_interval(secs => $1)
         AND (NOT EXISTS (SELECT 1 FROM api_instances WHERE last_seen_at >= now() - interval '1 day')
              OR EXISTS (SELECT 1 FROM api_instances
                         WHERE up_since <= now() - make_interval(secs => $1) AND last_seen_at >= now() - make_interval(secs => $2)))
       RETURNING id`,
      [deadAfterSeconds, presenceSlackSeconds(heartbeatSeconds)],
    );
    return rows.map((row) => row.id);
  }

  /**
   * Deletes up to `limit` nodes DEAD for longer than `retentionSeconds` with no live attempt, oldest first, each with a
   * `node.forget` audit row in the same transaction; returns their ids. Their attempts keep the node's id, host and pid.
   * A node that registers again meanwhile is ACTIVE, and stays.
   */
  async forgetDeadNodes(retentionSeconds: number, limit: number, audit: (nodeId: string) => AuditEventInput): Promise<string[]> {
    return this.dataSource.transaction(async (m) => {
      const rows = await updateReturning<{ id: string }>(
        m,
        // The CTE runs once (a subquery in the DELETE's WHERE may run again per row, and pass the limit).
        `WITH expired AS (
           SELECT n.id FROM nodes n
           WHERE n.status = 'DEAD' AND n.gone_at < now() - make_interval(secs => $1)
             AND NOT EXISTS (SELECT 1 FROM job_assignments a WHERE a.node_id = n.id AND a.state IN ('PLACED', 'RUNNING'))
             AND NOT EXISTS (SELECT 1 FROM gpu_reservations r WHERE r.node_id = n.id)
           ORDER BY n.gone_at LIMIT $2
           FOR UPDATE SKIP LOCKED
         )
         DELETE FROM nodes USING expired WHERE nodes.id = expired.id AND nodes.status = 'DEAD'
         RETURNING nodes.id`,
        [retentionSeconds, limit],
      );
      for (const { id } of rows) await recordAudit(m, audit(id));
      return rows.map((row) => row.id).sort();
    });
  }

  /** Every node registered and not yet forgotten, in any status, by group then id. */
  async list(): Promise<NodeEntity[]> {
    return this.dataSource.getRepository(NodeEntity).find({ order: { groupName: 'ASC', id: 'ASC' } });
  }

  /** Which job each reserved GPU is for, and whether its attempt runs yet (PLACED: held, RUNNING: used). */
  async gpuReservations(nodeId?: string): Promise<GpuReservation[]> {
    const rows: { node_id: string; gpu_index: number; job_id: string; state: string }[] = await this.dataSource.query(
      `SELECT r.node_id, r.gpu_index, a.job_id, a.state FROM gpu_reservations r JOIN job_assignments a ON a.id = r.assignment_id
        WHERE $1::text IS NULL OR r.node_id = $1 ORDER BY r.node_id, r.gpu_index`,
      [nodeId ?? null],
    );
    return rows.map((row) => ({ nodeId: row.node_id, gpuIndex: row.gpu_index, jobId: row.job_id, running: row.state === 'RUNNING' }));
  }

  async findById(nodeId: string): Promise<NodeEntity | null> {
    return this.dataSource.getRepository(NodeEntity).findOneBy({ id: nodeId });
  }

  /** ACTIVE nodes seen within the window, counted per worker group (groups without any are absent). */
  async liveCountsByGroup(seenWithinSeconds: number): Promise<Map<string, number>> {
    const rows: { group_name: string; live: number }[] = await this.dataSource.query(
      `SELECT group_name, CAST(count(*) AS integer) AS live FROM nodes
       WHERE status = 'ACTIVE' AND last_seen_at > now() - make_interval(secs => $1)
       GROUP BY group_name`,
      [seenWithinSeconds],
    );
    return new Map(rows.map((row) => [row.group_name, row.live]));
  }

  /** The configured worker groups' names, sorted. */
  async workerGroupNames(): Promise<string[]> {
    const rows: { name: string }[] = await this.dataSource.query(`SELECT name FROM worker_groups ORDER BY name`);
    return rows.map((row) => row.name);
  }

  /** Every worker group, by name, with node counts by status and the summed capacity and usage of its live nodes. */
  async groupSummaries(seenWithinSeconds: number): Promise<WorkerGroupSummary[]> {
    const rows: GroupSummaryRow[] = await this.dataSource.query(
      `WITH n AS (
         SELECT *, status = 'ACTIVE' AND last_seen_at > now() - make_interval(secs => $1) AS live FROM nodes
       )
       SELECT g.name, g.description,
         CAST(count(n.id) FILTER (WHERE n.status = 'ACTIVE') AS integer) AS active,
         CAST(count(n.id) FILTER (WHERE n.status = 'DRAINING') AS integer) AS draining,
         CAST(count(n.id) FILTER (WHERE n.status = 'DEAD') AS integer) AS dead,
         CAST(count(n.id) FILTER (WHERE n.live) AS integer) AS live,
         COALESCE(sum(n.slots) FILTER (WHERE n.live), 0) AS slots,
         COALESCE(sum(n.used_slots) FILTER (WHERE n.live), 0) AS used_slots,
         COALESCE(sum(n.cpu_millis) FILTER (WHERE n.live), 0) AS cpu_millis,
         COALESCE(sum(n.used_cpu_millis) FILTER (WHERE n.live), 0) AS used_cpu_millis,
         COALESCE(sum(n.mem_mb) FILTER (WHERE n.live), 0) AS mem_mb,
         COALESCE(sum(n.used_mem_mb) FILTER (WHERE n.live), 0) AS used_mem_mb,
         COALESCE(sum(n.gpu_count) FILTER (WHERE n.live), 0) AS gpu_count,
         COALESCE(sum(n.used_gpus) FILTER (WHERE n.live), 0) AS used_gpus,
         ARRAY(
           SELECT DISTINCT gpu ->> 'model' FROM n AS m, jsonb_array_elements(m.gpus) AS gpu
           WHERE m.group_name = g.name AND m.live ORDER BY 1
         ) AS gpu_models
       FROM worker_groups g LEFT JOIN n ON n.group_name = g.name
       GROUP BY g.name, g.description
       ORDER BY g.name`,
      [seenWithinSeconds],
    );
    return rows.map((row) => ({
      name: row.name,
      description: row.description,
      active: row.active,
      draining: row.draining,
      dead: row.dead,
      live: row.live,
      slots: Number(row.slots),
      usedSlots: Number(row.used_slots),
      cpuMillis: Number(row.cpu_millis),
      usedCpuMillis: Number(row.used_cpu_millis),
      memMb: Number(row.mem_mb),
      usedMemMb: Number(row.used_mem_mb),
      gpuCount: Number(row.gpu_count),
      usedGpus: Number(row.used_gpus),
      gpuModels: row.gpu_models,
    }));
  }
}
