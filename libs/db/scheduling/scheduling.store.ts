import type { DataSource, EntityManager } from 'typeorm';
import { nodeTaskQueue, TERMINAL_JOB_STATES, type AwaitPlacementResult, type JobState, type PendingReason, type Placement } from '@mlis/contracts';
import { planCycle } from '@mlis/scheduling';
import { JobNotFoundError } from '../jobs.repository';
import { readCycleInput } from './cycle-input';
import { PlacementRaceError, writeCycleDecisions } from './cycle-decisions';
import { NodeView } from './node-view';
import { preparedOn, preparedOnPool, type PreparedQuery } from '../prepared';
import { updateReturning } from '../sql';

export interface CycleOptions {
  /** Nodes silent for longer than this are not placed on. */
  liveWithinSeconds: number;
  agingSeconds: number;
  laneWindow: number;
  holdDepth: number;
}

export interface CycleOutcome {
  /**
   * Jobs placed. `waited`: a cycle had left the job waiting before, so its workflow may be waiting for a signal
   * to pick the placement up; a job placed at its first look reads the placement in its own awaitPlacement, or gets
   * it in its workflow's input (ADR 0031).
   */
  placed: { jobId: string; attempt: number; waited: boolean; placement: Placement }[];
  /** Running attempts asked to give their resources back. */
  preempted: { jobId: string; attempt: number; forJobId: string }[];
  /** Waiting jobs the cycle looked at and left waiting. */
  waiting: number;
}

/**
 * Why a cycle is asked for. `job`: a job no cycle has looked at waits for one (new, or back in the queue). `timer`:
 * control's periodic cycle, which also shows the scheduler alive (`mlis_scheduler_last_cycle_timestamp_seconds`). Both
 * run in full. `capacity` (an attempt released its resources, a node joined or came back): the cycle may have nothing to
 * decide, and checks first (ADR 0046).
 */
export type CycleReason = 'job' | 'capacity' | 'timer';

// Postgres error codes a concurrent placement can hit; the whole cycle is retried.
const RETRYABLE_PLACEMENT_ERRORS = new Set(['23505', '23514', '40001', '40P01']);
// One scheduling cycle at a time across every process (pg_advisory_xact_lock key).
const SCHEDULER_LOCK_KEY = 727_001;
const PLACEMENT_TRIES = 5;
const TERMINAL = TERMINAL_JOB_STATES as readonly string[];

/**
 * The scheduling cycle and the placements it decides: each cycle reads its input (cycle-input.ts), plans in
 * memory (planCycle, libs/scheduling) and writes its decisions (cycle-decisions.ts) in one transaction; a job's
 * workflow and the scheduler read those decisions back here.
 */
export class SchedulingStore {
  // The nodes as the last cycle read them; each cycle reads only the rows changed since.
  private readonly nodeView = new NodeView();
  private readonly prepared: PreparedQuery;

  constructor(private readonly dataSource: DataSource) {
    this.prepared = preparedOnPool(dataSource);
  }

  /**
   * One scheduling cycle (see planCycle): reads the nodes, the tenants and the heads of the waiting
   * lanes, decides in memory, and writes every placement, wait reason and preemption request in one
   * transaction. Cycles are serialised across processes by an advisory lock; the node counters'
   * conditional UPDATE and CHECK constraints and the GPU reservation key still refuse any over-commit.
   */
  async runCycle(options: CycleOptions): Promise<CycleOutcome> {
    for (let tryNumber = 1; ; tryNumber++) {
      try {
        return await this.dataSource.transaction((m) => this.cycleOnce(m, options));
      } catch (error) {
        const code = (error as { code?: string }).code;
        const retryable = error instanceof PlacementRaceError || (code !== undefined && RETRYABLE_PLACEMENT_ERRORS.has(code));
        // Lost races are rare (a drain or re-registration in mid-cycle); the retry reads every node again, so
        // a view that had somehow missed a change cannot make the cycle fail again and again.
        if (error instanceof PlacementRaceError) this.nodeView.forget();
        if (!retryable || tryNumber >= PLACEMENT_TRIES) throw error;
      }
    }
  }

  private async cycleOnce(m: EntityManager, options: CycleOptions): Promise<CycleOutcome> {
    const query = preparedOn(m);
    // The cycle's statements are prepared, and this transaction has Postgres use one generic plan for each, made once
    // per connection: otherwise it plans a statement with parameters again at every run for as long as a plan for
    // the values looks no costlier, which it did for the larger ones (ADR 0054).
    const [{ now_ms }] = await query<{ now_ms: number }>(
      'mlis_cycle_lock',
      `SELECT pg_advisory_xact_lock(${SCHEDULER_LOCK_KEY}), (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now_ms,
              set_config('plan_cache_mode', 'force_generic_plan', true)`,
    );
    // Read the cycle's input → plan in memory → write the cycle's decisions.
    const read = await readCycleInput(query, this.nodeView, now_ms, options);
    return writeCycleDecisions(query, planCycle(read.input), read);
  }

  /**
   * Whether a cycle has anything to decide: a job waits, or the queue order the last cycle wrote still lists one (a job
   * it left waiting that has ended since). One read outside any transaction, after the request it answers: a job that
   * starts waiting after it asks for a cycle of its own, which starts after its row committed (ADR 0046).
   */
  async anyJobWaits(): Promise<boolean> {
    // Prepared: with no parameter its plan is made once per connection (it was 0.18 ms at every call).
    const [row] = await this.prepared<{ waits: boolean }>(
      'mlis_any_job_waits',
      `SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'QUEUED')
           OR EXISTS (SELECT 1 FROM scheduler_queue WHERE cardinality(job_ids) > 0) AS waits`,
    );
    return row.waits;
  }

  // What the cycles decided, as a job's placeJob activity and the scheduler's nudge read it.

  /**
   * The placement of (job, attempt) if a scheduling cycle made one, else why the job waits.
   * `examined` is false while no cycle has looked at the job since it was (re)queued.
   */
  async placementOf(jobId: string, attempt: number): Promise<AwaitPlacementResult & { examined: boolean }> {
    // One read: this runs for every waiting job's safety-net timer.
    const rows: {
      state: JobState;
      pending_reason: PendingReason | null;
      pending_detail: string | null;
      queue_position: number | null;
      assignment_id: string | null;
      node_id: string;
      group_name: string;
      gpu_ids: number[];
    }[] = await this.dataSource.query(
      `SELECT j.state, j.pending_reason, j.pending_detail, array_position(q.job_ids, j.id) AS queue_position,
              a.id AS assignment_id, a.node_id, a.group_name, a.gpu_ids
       FROM jobs j LEFT JOIN scheduler_queue q ON true LEFT JOIN job_assignments a ON a.job_id = j.id AND a.attempt = $2
       WHERE j.id = $1`,
      [jobId, attempt],
    );
    if (rows.length === 0) throw new JobNotFoundError(`job ${jobId} not found`);
    const job = rows[0];
    if (job.assignment_id !== null) {
      const placement = {
        assignmentId: job.assignment_id,
        attempt,
        nodeId: job.node_id,
        group: job.group_name,
        taskQueue: nodeTaskQueue(job.group_name, job.node_id),
        gpuIds: job.gpu_ids,
      };
      return { placed: true, placement, examined: true };
    }
    if (TERMINAL.includes(job.state)) throw new JobNotFoundError(`job ${jobId} already ended ${job.state}`);
    return {
      placed: false,
      pendingReason: job.pending_reason ?? 'queued',
      detail: job.pending_detail ?? 'not examined by the scheduler yet',
      queuePosition: job.queue_position,
      examined: job.pending_reason !== null,
    };
  }

  /** A job a cycle did not reach (deep in its lane) waits its turn; marking it stops it asking for more cycles. */
  async markWaitingTurn(jobId: string, laneWindow: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE jobs SET pending_reason = 'queued', updated_at = now(),
              pending_detail = 'behind the first ' || $2::int || ' waiting jobs of its tenant at its priority'
       WHERE id = $1 AND state = 'QUEUED' AND pending_reason IS NULL`,
      [jobId, laneWindow],
    );
  }

  /**
   * Jobs whose live attempt should have moved on by now: placed longer ago than `olderThanSeconds` and never started
   * (a dispatched attempt starts or is LOST within its schedule-to-start timeout, so their workflow most likely missed
   * its placement signal), or running longer than the job's timeout plus `olderThanSeconds` (its workflow would have
   * ended the attempt at the timeout: most likely it is gone, terminated by an operator).
   */
  async stalePlacements(olderThanSeconds: number, limit: number): Promise<string[]> {
    const rows: { job_id: string }[] = await this.dataSource.query(
      `SELECT a.job_id FROM job_assignments a JOIN jobs j ON j.id = a.job_id
       WHERE (a.state = 'PLACED' AND a.created_at < now() - make_interval(secs => $1))
          OR (a.state = 'RUNNING' AND a.started_at < now() - make_interval(secs => j.timeout_seconds + $1))
       ORDER BY a.created_at LIMIT $2`,
      [olderThanSeconds, limit],
    );
    return rows.map((row) => row.job_id);
  }

  /**
   * Attempts placed on a node that has been DEAD, or has said it is leaving, for over `settledSeconds`, and that the
   * node never reported started: no poller will pick them up (ADR 0038), oldest placement first. The settling time
   * lets the start report of an attempt that began just before its node left arrive first.
   */
  async placementsOnGoneNodes(settledSeconds: number, limit: number): Promise<{ jobId: string; attempt: number }[]> {
    const rows: { job_id: string; attempt: number }[] = await this.dataSource.query(
      `SELECT a.job_id, a.attempt FROM job_assignments a JOIN nodes n ON n.id = a.node_id
       WHERE a.state = 'PLACED' AND n.gone_at < now() - make_interval(secs => $1)
       ORDER BY a.created_at LIMIT $2`,
      [settledSeconds, limit],
    );
    return rows.map((row) => ({ jobId: row.job_id, attempt: row.attempt }));
  }

  /**
   * Attempts a cycle asked to give way more than `olderThanSeconds` ago that still hold their place while the job
   * they give way to still waits, oldest request first: their workflow may never have received the request.
   */
  async stalePreemptions(olderThanSeconds: number, limit: number): Promise<{ jobId: string; attempt: number }[]> {
    const rows: { job_id: string; attempt: number }[] = await this.dataSource.query(
      `SELECT a.job_id, a.attempt FROM job_assignments a JOIN jobs preemptor ON preemptor.id = a.preempted_by
       WHERE a.state IN ('PLACED', 'RUNNING') AND a.preempt_requested_at < now() - make_interval(secs => $1)
         AND preemptor.state = 'QUEUED'
       ORDER BY a.preempt_requested_at LIMIT $2`,
      [olderThanSeconds, limit],
    );
    return rows.map((row) => ({ jobId: row.job_id, attempt: row.attempt }));
  }

  /**
   * Stops asking, for requests to give way older than `olderThanSeconds` whose attempt still holds its place though
   * the job it was to give way to no longer waits (placed elsewhere, cancelled): asking again would evict it for
   * nothing if the first request never arrived, and cycles would go on counting its resources as about to free. A
   * request that did arrive is the workflow's to finish, so `preempted_by` stays for the record. Returns how many.
   */
  async withdrawStalePreemptions(olderThanSeconds: number): Promise<number> {
    const rows = await updateReturning(
      this.dataSource,
      `UPDATE job_assignments a SET preempt_requested_at = NULL
       WHERE a.state IN ('PLACED', 'RUNNING') AND a.preempt_requested_at < now() - make_interval(secs => $1)
         AND NOT EXISTS (SELECT 1 FROM jobs preemptor WHERE preemptor.id = a.preempted_by AND preemptor.state = 'QUEUED')
       RETURNING a.id`,
      [olderThanSeconds],
    );
    return rows.length;
  }
}
