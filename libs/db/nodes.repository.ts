import type { DataSource } from 'typeorm';
import { NodeEntity } from './entities/node.entity';

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

/** Read side of the node registry; registration and liveness writes live in LedgerRepository. */
export interface GpuReservation {
  nodeId: string;
  gpuIndex: number;
  jobId: string;
  /** The attempt runs (else it is placed and the GPU held for it). */
  running: boolean;
}

export class NodesRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Every node ever registered, in any status, by group then id. */
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
