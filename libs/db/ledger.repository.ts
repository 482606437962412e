import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import {
  nodeTaskQueue,
  TERMINAL_JOB_STATES,
  type EndAssignmentInput,
  type FinishJobInput,
  type JobState,
  type LedgerWriteResult,
  type PlaceJobInput,
  type PendingReason,
  type PlaceJobResult,
  type ResourceRequest,
} from '../contracts';
import { choosePlacement, describeShortage, fitsWhenEmpty, type NodeCapacity } from '../ledger';
import type { GpuDevice } from './entities/node.entity';

export class UnknownWorkerGroupError extends Error {}
export class JobNotFoundError extends Error {}

export interface RegisterNodeInput {
  nodeId: string;
  group: string;
  hostname: string;
  pid: number;
  slots: number;
  cpuMillis: number;
  memMb: number;
  gpus: GpuDevice[];
}

export type NodeHeartbeatResult = 'ok' | 'superseded' | 'unknown';

// Postgres error codes a concurrent placement can hit; the whole placement is retried.
const RETRYABLE_PLACEMENT_ERRORS = new Set(['23505', '23514', '40001', '40P01']);
const PLACEMENT_TRIES = 5;
const TERMINAL = TERMINAL_JOB_STATES as readonly string[];

type Queryable = Pick<EntityManager, 'query'>;

/** Runs an UPDATE or DELETE … RETURNING: TypeORM answers those with [rows, affected] instead of rows. */
async function updateReturning<T>(db: Queryable, sql: string, params: unknown[]): Promise<T[]> {
  const [rows] = (await db.query(sql, params)) as [T[], number];
  return rows;
}

/** Lost a race for a node between choosing it and reserving it. */
class PlacementRaceError extends Error {}

interface NodeRow {
  id: string;
  group_name: string;
  incarnation: number;
  slots: number;
  cpu_millis: number;
  mem_mb: number;
  gpus: GpuDevice[];
  used_slots: number;
  used_cpu_millis: number;
  used_mem_mb: number;
  reserved: number[];
}

/**
 * Every write to the capacity ledger. Each method is one transaction and idempotent,
 * keyed by (job id, attempt), because Temporal may run an activity more than once.
 */
export class LedgerRepository {
  constructor(private readonly dataSource: DataSource) {}

  async ensureWorkerGroups(names: string[]): Promise<void> {
    for (const name of names) {
      await this.dataSource.query(`INSERT INTO worker_groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, [name]);
    }
  }

  /** Registers a node or re-registers it with a new incarnation: ACTIVE again, unless it was DRAINING. */
  async registerNode(input: RegisterNodeInput): Promise<{ incarnation: number }> {
    return this.dataSource.transaction(async (m) => {
      const groups: unknown[] = await m.query(`SELECT 1 FROM worker_groups WHERE name = $1`, [input.group]);
      if (groups.length === 0) throw new UnknownWorkerGroupError(`unknown worker group "${input.group}"`);
      const rows: { incarnation: number }[] = await m.query(
        `INSERT INTO nodes (id, group_name, hostname, pid, status, slots, cpu_millis, mem_mb, gpu_count, gpus)
         VALUES ($1, $2, $3, $4, 'ACTIVE', $5, $6, $7, $8, $9)
         ON CONFLICT (id) DO UPDATE SET
           group_name = EXCLUDED.group_name, hostname = EXCLUDED.hostname, pid = EXCLUDED.pid,
           incarnation = nodes.incarnation + 1,
           -- A drain is the operator's intent: a restarted node stays DRAINING until undrained.
           status = CASE WHEN nodes.status = 'DRAINING' THEN 'DRAINING' ELSE 'ACTIVE' END,
           slots = EXCLUDED.slots, cpu_millis = EXCLUDED.cpu_millis, mem_mb = EXCLUDED.mem_mb,
           gpu_count = EXCLUDED.gpu_count, gpus = EXCLUDED.gpus,
           last_seen_at = now(), registered_at = now(), updated_at = now()
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
        ],
      );
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

  /** DRAINING nodes take no new placements; their running work finishes. A DEAD node stays DEAD. */
  async setNodeDraining(nodeId: string, draining: boolean): Promise<boolean> {
    const rows = await updateReturning(
      this.dataSource,
      `UPDATE nodes SET status = $2, updated_at = now() WHERE id = $1 AND status <> 'DEAD' RETURNING id`,
      [nodeId, draining ? 'DRAINING' : 'ACTIVE'],
    );
    return rows.length > 0;
  }

  /** Marks nodes that stopped heartbeating as DEAD; returns their ids. */
  async markSilentNodesDead(deadAfterSeconds: number): Promise<string[]> {
    const rows = await updateReturning<{ id: string }>(
      this.dataSource,
      `UPDATE nodes SET status = 'DEAD', updated_at = now()
       WHERE status <> 'DEAD' AND last_seen_at < now() - make_interval(secs => $1)
       RETURNING id`,
      [deadAfterSeconds],
    );
    return rows.map((row) => row.id);
  }

  /** Waiting jobs in queue order: the ones to wake when capacity appears. */
  async waitingJobIds(limit: number): Promise<string[]> {
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM jobs WHERE state = 'QUEUED' ORDER BY priority DESC, created_at, id LIMIT $1`,
      [limit],
    );
    return rows.map((row) => row.id);
  }

  /**
   * Reserves a slot, cpu, memory and GPU ids on one live node for (job, attempt), or records
   * why the job must wait. Calling it again for the same attempt returns the same placement.
   */
  async placeJob(input: PlaceJobInput, liveWithinSeconds: number): Promise<PlaceJobResult> {
    for (let tryNumber = 1; ; tryNumber++) {
      try {
        return await this.dataSource.transaction((m) => this.placeOnce(m, input, liveWithinSeconds));
      } catch (error) {
        const code = (error as { code?: string }).code;
        const retryable = error instanceof PlacementRaceError || (code !== undefined && RETRYABLE_PLACEMENT_ERRORS.has(code));
        if (!retryable || tryNumber >= PLACEMENT_TRIES) throw error;
      }
    }
  }

  private async placeOnce(m: EntityManager, input: PlaceJobInput, liveWithinSeconds: number): Promise<PlaceJobResult> {
    const jobs: { state: JobState; cpu_millis: number; mem_mb: number; gpu: number }[] = await m.query(
      `SELECT state, cpu_millis, mem_mb, gpu FROM jobs WHERE id = $1 FOR UPDATE`,
      [input.jobId],
    );
    if (jobs.length === 0) throw new JobNotFoundError(`job ${input.jobId} not found`);
    const job = jobs[0];

    const existing: { id: string; node_id: string; group_name: string; gpu_ids: number[] }[] = await m.query(
      `SELECT id, node_id, group_name, gpu_ids FROM job_assignments WHERE job_id = $1 AND attempt = $2`,
      [input.jobId, input.attempt],
    );
    if (existing.length > 0) {
      const a = existing[0];
      return {
        placed: true,
        placement: {
          assignmentId: a.id,
          attempt: input.attempt,
          nodeId: a.node_id,
          group: a.group_name,
          taskQueue: nodeTaskQueue(a.group_name, a.node_id),
          gpuIds: a.gpu_ids,
        },
      };
    }
    if (TERMINAL.includes(job.state)) throw new JobNotFoundError(`job ${input.jobId} already ended ${job.state}`);

    const request = { cpuMillis: job.cpu_millis, memMb: job.mem_mb, gpu: job.gpu };
    const liveNodes: NodeRow[] = await m.query(
      `SELECT n.id, n.group_name, n.incarnation, n.slots, n.cpu_millis, n.mem_mb, n.gpus,
              n.used_slots, n.used_cpu_millis, n.used_mem_mb,
              COALESCE(array_agg(r.gpu_index) FILTER (WHERE r.gpu_index IS NOT NULL), '{}') AS reserved
       FROM nodes n LEFT JOIN gpu_reservations r ON r.node_id = n.id
       WHERE n.status = 'ACTIVE' AND n.last_seen_at > now() - make_interval(secs => $1)
       GROUP BY n.id`,
      [liveWithinSeconds],
    );
    const capacities: NodeCapacity[] = liveNodes.map((n) => ({
      id: n.id,
      group: n.group_name,
      slots: n.slots,
      cpuMillis: n.cpu_millis,
      memMb: n.mem_mb,
      gpuIndices: n.gpus.map((gpu) => gpu.index),
      usedSlots: n.used_slots,
      usedCpuMillis: n.used_cpu_millis,
      usedMemMb: n.used_mem_mb,
      reservedGpuIndices: n.reserved,
    }));
    const choice = choosePlacement(capacities, request, input.excludeNodeIds);

    if (!choice) {
      const { pendingReason, detail } = await this.whyPending(m, capacities, request, input.excludeNodeIds, liveWithinSeconds);
      await m.query(
        `UPDATE jobs SET pending_reason = $2, pending_detail = $3, updated_at = now() WHERE id = $1 AND state = 'QUEUED'`,
        [input.jobId, pendingReason, detail],
      );
      return { placed: false, pendingReason, detail };
    }

    const node = liveNodes.find((n) => n.id === choice.nodeId)!;
    // The WHERE clause re-checks capacity on the locked row: a concurrent placement that got there first makes it miss.
    const reserved = await updateReturning(
      m,
      `UPDATE nodes SET used_slots = used_slots + 1, used_cpu_millis = used_cpu_millis + $2,
              used_mem_mb = used_mem_mb + $3, used_gpus = used_gpus + $4, updated_at = now()
       WHERE id = $1 AND status = 'ACTIVE' AND used_slots + 1 <= slots
         AND used_cpu_millis + $2 <= cpu_millis AND used_mem_mb + $3 <= mem_mb AND used_gpus + $4 <= gpu_count
       RETURNING id`,
      [node.id, request.cpuMillis, request.memMb, request.gpu],
    );
    if (reserved.length === 0) throw new PlacementRaceError(`node ${node.id} filled up`);

    const assignmentId = randomUUID();
    await m.query(
      // clock_timestamp(), not now() (the transaction's start): an assignment's recorded lifetime must
      // start after the release it reused capacity from, so its history shows no false overlap.
      `INSERT INTO job_assignments (id, job_id, attempt, node_id, node_incarnation, group_name, gpu_ids, slots, cpu_millis, mem_mb, state, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, 'PLACED', clock_timestamp())`,
      [assignmentId, input.jobId, input.attempt, node.id, node.incarnation, node.group_name, choice.gpuIds, request.cpuMillis, request.memMb],
    );
    for (const gpuIndex of choice.gpuIds) {
      await m.query(`INSERT INTO gpu_reservations (node_id, gpu_index, assignment_id) VALUES ($1, $2, $3)`, [
        node.id,
        gpuIndex,
        assignmentId,
      ]);
    }
    await m.query(
      `UPDATE jobs SET state = 'RUNNING', attempts = $2, pending_reason = NULL, pending_detail = NULL,
              started_at = COALESCE(started_at, now()), updated_at = now()
       WHERE id = $1`,
      [input.jobId, input.attempt],
    );
    return {
      placed: true,
      placement: {
        assignmentId,
        attempt: input.attempt,
        nodeId: node.id,
        group: node.group_name,
        taskQueue: nodeTaskQueue(node.group_name, node.id),
        gpuIds: choice.gpuIds,
      },
    };
  }

  /** Why a job that fits nowhere now must wait, most actionable reason first. */
  private async whyPending(
    m: EntityManager,
    live: NodeCapacity[],
    request: ResourceRequest,
    excludeNodeIds: string[],
    liveWithinSeconds: number,
  ): Promise<{ pendingReason: PendingReason; detail: string }> {
    const eligible = live.filter((node) => !excludeNodeIds.includes(node.id));
    const couldRun = eligible.filter((node) => fitsWhenEmpty(node, request));
    if (couldRun.length > 0) return { pendingReason: 'insufficient_capacity', detail: describeShortage(couldRun, request) };

    const draining: { slots: number; cpu_millis: number; mem_mb: number; gpu_count: number }[] = await m.query(
      `SELECT slots, cpu_millis, mem_mb, gpu_count FROM nodes
       WHERE status = 'DRAINING' AND last_seen_at > now() - make_interval(secs => $1)`,
      [liveWithinSeconds],
    );
    const drainedFit = draining.some((n) =>
      fitsWhenEmpty(
        { slots: n.slots, cpuMillis: n.cpu_millis, memMb: n.mem_mb, gpuIndices: Array.from({ length: n.gpu_count }, (_, i) => i) },
        request,
      ),
    );
    if (drainedFit) {
      return {
        pendingReason: 'all_nodes_draining',
        detail: 'every live node that could run it is DRAINING: undrain one (mlis workers undrain <node>) or add nodes',
      };
    }
    if (live.some((node) => excludeNodeIds.includes(node.id) && fitsWhenEmpty(node, request))) {
      return { pendingReason: 'no_live_node', detail: 'every live node that could run it already lost this job once' };
    }
    const [{ any }] = await m.query(`SELECT EXISTS (SELECT 1 FROM nodes) AS any`);
    return any
      ? { pendingReason: 'no_live_node', detail: 'no live node could run it; the nodes that could are DEAD' }
      : { pendingReason: 'no_nodes_registered', detail: 'no node has registered yet' };
  }

  /** The node confirmed it started the attempt. */
  async markAssignmentRunning(jobId: string, attempt: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE job_assignments SET state = 'RUNNING', started_at = now() WHERE job_id = $1 AND attempt = $2 AND state = 'PLACED'`,
      [jobId, attempt],
    );
  }

  /**
   * Ends an attempt: sets its final state, gives its reservation back (only the first time),
   * and moves the job to its next state. Returns whether capacity was freed.
   */
  async endAssignment(input: EndAssignmentInput): Promise<LedgerWriteResult & { released: boolean }> {
    return this.dataSource.transaction(async (m) => {
      const ended = await updateReturning<{
        id: string;
        node_id: string;
        slots: number;
        cpu_millis: number;
        mem_mb: number;
        gpu_ids: number[];
      }>(
        m,
        `UPDATE job_assignments SET state = $3, reason = $4, ended_at = clock_timestamp()
         WHERE job_id = $1 AND attempt = $2 AND state IN ('PLACED', 'RUNNING')
         RETURNING id, node_id, slots, cpu_millis, mem_mb, gpu_ids`,
        [input.jobId, input.attempt, input.state, input.reason ?? null],
      );
      if (ended.length > 0) {
        const a = ended[0];
        await m.query(`DELETE FROM gpu_reservations WHERE assignment_id = $1`, [a.id]);
        await m.query(
          `UPDATE nodes SET used_slots = used_slots - $2, used_cpu_millis = used_cpu_millis - $3,
                  used_mem_mb = used_mem_mb - $4, used_gpus = used_gpus - $5, updated_at = now()
           WHERE id = $1`,
          [a.node_id, a.slots, a.cpu_millis, a.mem_mb, a.gpu_ids.length],
        );
      }
      const jobState = await this.moveJob(m, input.jobId, input.jobState, input.result, input.error, input.attempt);
      return { jobState, released: ended.length > 0 };
    });
  }

  /** Ends a job that holds no reservation (cancelled while waiting, or out of attempts). */
  async finishJob(input: FinishJobInput): Promise<LedgerWriteResult> {
    return this.dataSource.transaction(async (m) => ({
      jobState: await this.moveJob(m, input.jobId, input.state, undefined, input.error),
    }));
  }

  private async moveJob(
    m: EntityManager,
    jobId: string,
    state: JobState,
    result: unknown,
    error: EndAssignmentInput['error'],
    attempt?: number,
  ): Promise<JobState> {
    const terminal = TERMINAL.includes(state);
    // Fencing: the outcome of a superseded attempt never moves the job (its current attempt is jobs.attempts).
    const rows = await updateReturning<{ state: JobState }>(
      m,
      `UPDATE jobs SET state = $2, result = COALESCE($3::jsonb, result), error = COALESCE($4::jsonb, error),
              pending_reason = NULL, pending_detail = NULL, updated_at = now(),
              finished_at = CASE WHEN $5 THEN now() ELSE finished_at END
       WHERE id = $1 AND state NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND ($6::int IS NULL OR attempts = $6)
       RETURNING state`,
      [
        jobId,
        state,
        result === undefined ? null : JSON.stringify(result),
        error ? JSON.stringify(error) : null,
        terminal,
        attempt ?? null,
      ],
    );
    if (rows.length > 0) return rows[0].state;
    const current: { state: JobState }[] = await m.query(`SELECT state FROM jobs WHERE id = $1`, [jobId]);
    if (current.length === 0) throw new JobNotFoundError(`job ${jobId} not found`);
    return current[0].state;
  }
}
