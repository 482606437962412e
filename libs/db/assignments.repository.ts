import type { DataSource } from 'typeorm';
import {
  TERMINAL_JOB_STATES,
  type EndAssignmentInput,
  type EndedAssignmentState,
  type FinishJobInput,
  type JobState,
  type LedgerWriteResult,
} from '@mlis/contracts';
import { JobFinishedNotices } from './job-finished-feed';
import { JobNotFoundError } from './jobs.repository';
import { preparedOnPool, type PreparedQuery } from './prepared';
import { updateReturning } from './sql';

/** An attempt a node confirmed it started: what its admission-wait observation needs. */
export interface StartedAttempt {
  group: string;
  tenantId: string;
  /** Seconds from submission, when this is the job's first attempt to run; null for a later one. */
  admissionWaitSeconds: number | null;
}

/**
 * Who reports an attempt started: the node incarnation running it, with how long it has run (ADR 0030), or (before
 * ADR 0018) the job's workflow.
 */
export type StartedBy = { assignmentId: string; nodeId: string; incarnation: number; runningForMs: number } | { jobId: string; attempt: number };

/** An attempt a ledger write ended: what its run-duration, lease-loss and preemption observations need. */
export interface EndedAttempt {
  group: string;
  tenantId: string;
  taskType: string;
  /** Seconds it ran; null when it ended before it started (PLACED). */
  runSeconds: number | null;
  /** GPUs it held. */
  gpus: number;
  /** Seconds from submission, when this write gave the job's first attempt to run its start (ADR 0030); else null. */
  admissionWaitSeconds: number | null;
}

/** The row `mlis_end_attempt` answers: the job's state after the call (null: no such job) and the attempt it ended. */
interface EndAttemptRow {
  job_state: JobState | null;
  ended_count: number;
  ended_group: string | null;
  ended_task_type: string | null;
  /** The job's tenant, read beside the function's answer (its row as the statement began: a tenant never changes). */
  job_tenant_id: string | null;
  /** The GPUs of the attempt named by the call, read beside the function's answer too; null when the call named none. */
  attempt_gpus: number | null;
  run_seconds: number | null;
  admission_wait_seconds: number | null;
}

/**
 * The assignment lifecycle: an attempt a cycle placed starts, ends (giving its reservation back) and moves its job on.
 * Each method is one transaction and idempotent, keyed by (job id, attempt), because Temporal may run an activity more than once.
 */
export class AssignmentsRepository {
  /** This process's end writes under way: how its next one notifies the long-polls. */
  private endWritesInFlight = 0;
  private readonly prepared: PreparedQuery;

  constructor(
    private readonly dataSource: DataSource,
    /** Wakes the API's long-polls on the jobs that concurrent end writes made final, after their commits (ADR 0043). */
    private readonly finished: Pick<JobFinishedNotices, 'send'> = new JobFinishedNotices(dataSource),
  ) {
    this.prepared = preparedOnPool(dataSource);
  }

  /**
   * The attempt started: PLACED → RUNNING, once. Keyed by the node incarnation that runs it (the node reports
   * through the API; the same fence as its artifact calls: placed on this incarnation or an earlier one of the
   * node, which is still the node's current one), or by job and attempt for a workflow started before the
   * ledger-in-workflow-task patch (ADR 0018). Null when it was not PLACED under that key.
   */
  async markAssignmentRunning(started: StartedBy): Promise<StartedAttempt | null> {
    const [where, params] =
      'assignmentId' in started
        ? [
            `a.id = $1 AND a.node_id = $2 AND a.node_incarnation <= $3
             AND EXISTS (SELECT 1 FROM nodes n WHERE n.id = a.node_id AND n.incarnation = $3)`,
            [started.assignmentId, started.nodeId, started.incarnation],
          ]
        : ['a.job_id = $1 AND a.attempt = $2', [started.jobId, started.attempt]];
    const runningForMs = 'runningForMs' in started ? started.runningForMs : 0;
    // Back-dated by how long the attempt has run (the node reports after a delay), never before it was placed.
    const rows = await updateReturning<StartedAttempt>(
      this.dataSource,
      `UPDATE job_assignments a SET state = 'RUNNING', started_at = GREATEST(a.created_at, now() - make_interval(secs => $${params.length + 1}::float8 / 1000))
       FROM jobs j
       WHERE ${where} AND a.state = 'PLACED' AND j.id = a.job_id
       RETURNING a.group_name AS "group", j.tenant_id AS "tenantId",
                 CASE WHEN NOT EXISTS (SELECT 1 FROM job_assignments p WHERE p.job_id = a.job_id AND p.attempt <> a.attempt AND p.started_at IS NOT NULL)
                      THEN extract(epoch FROM a.started_at - j.created_at)::float8 END AS "admissionWaitSeconds"`,
      [...params, runningForMs],
    );
    return rows[0] ?? null;
  }

  /**
   * Ends an attempt: sets its final state, gives its reservation back (only the first time),
   * and moves the job to its next state. Returns the attempt this call ended (capacity was freed), or null.
   * Idempotent for the workflow that retries it: a re-queue answers QUEUED even when its first try committed and a
   * cycle has placed the next attempt since (which the fence keeps this write from touching).
   */
  async endAssignment(input: EndAssignmentInput): Promise<LedgerWriteResult & { ended: EndedAttempt | null }> {
    const row = await this.endAttempt(input.jobId, {
      attempt: input.attempt,
      state: input.state,
      reason: input.reason ?? null,
      jobState: input.jobState,
      result: input.result,
      error: input.error,
      resultArtifactId: input.resultArtifactId,
      ranMs: input.ranMs,
      // Fencing: the outcome of a superseded attempt never moves the job.
      fenceAttempt: input.attempt,
    });
    const ended =
      row.ended_count > 0
        ? {
            group: row.ended_group!,
            tenantId: row.job_tenant_id!,
            taskType: row.ended_task_type!,
            runSeconds: row.run_seconds,
            gpus: row.attempt_gpus ?? 0,
            admissionWaitSeconds: row.admission_wait_seconds,
          }
        : null;
    // Only this attempt's own re-queue lets a cycle place a later one, so a re-queue that finds the job alive and
    // past its fence had already landed.
    const requeued = input.jobState === 'QUEUED' && !TERMINAL_JOB_STATES.includes(row.job_state);
    return { jobState: requeued ? 'QUEUED' : row.job_state, ended };
  }

  /**
   * Ends a job that its workflow holds no placement for (cancelled while waiting, or out of attempts).
   * A cycle may have placed it meanwhile: that reservation is given back too.
   */
  async finishJob(input: FinishJobInput): Promise<LedgerWriteResult & { released: boolean }> {
    const row = await this.endAttempt(input.jobId, {
      attempt: null,
      state: input.state,
      reason: input.reason ?? `job ${input.state.toLowerCase()} before it started`,
      jobState: input.state,
      error: input.error,
      fenceAttempt: null,
    });
    return { jobState: row.job_state, released: row.ended_count > 0 };
  }

  /**
   * One call of `mlis_end_attempt` (migrations 1765000000000, 1765100000000 and 1767000000000; ADRs 0028, 0030 and
   * 0043), one transaction: takes the job's row lock before anything else (a cycle placing the job holds it until its
   * assignment is committed, so the release sees that assignment instead of looking past it; lock order everywhere:
   * job, then node, then tenant usage), ends the job's live assignment of this attempt (or any), returns its resources
   * to the node and the tenant, and moves the job on unless it is final already or on a later attempt than
   * `fenceAttempt`. An attempt whose start the node did not report gets one `ranMs` before its end.
   *
   * The API's long-polls hear of a final state once it has committed (ADR 0043). A lone end write notifies in its own
   * transaction, which costs no commit of its own. While others of this process are under way, Postgres's one-at-a-time
   * commits of notifying transactions would make them take turns: those leave it to `JobFinishedNotices`, which sends
   * it after their commits, several to a statement, for every call that finds the job final (a retry's too: a waiter
   * woken twice reads twice). So does a lone call that ended no attempt and finds the job final: most likely the retry
   * of a write that committed without notifying (its process died before the notice), which the function, moving
   * nothing, would not notify either, leaving the waiters to their re-read timer. A lone call that made a job with no
   * live attempt final (a cancel while it waited) notifies twice.
   */
  private async endAttempt(
    jobId: string,
    end: {
      attempt: number | null;
      state: EndedAssignmentState;
      reason: string | null;
      jobState: JobState;
      result?: unknown;
      error?: EndAssignmentInput['error'];
      resultArtifactId?: string;
      ranMs?: number;
      fenceAttempt: number | null;
    },
  ): Promise<EndAttemptRow & { job_state: JobState }> {
    const notifyInTransaction = this.endWritesInFlight === 0;
    this.endWritesInFlight += 1;
    // A prepared statement, planned about once per connection instead of at every call (0.32 ms a time). Its columns
    // are named, not `e.*`: a prepared statement fails once the function's result columns change under it.
    const [row] = await this.prepared<EndAttemptRow>(
      'mlis_end_attempt_call',
      `SELECT e.job_state, e.ended_count, e.ended_group, e.ended_task_type, e.run_seconds, e.admission_wait_seconds,
         (SELECT tenant_id FROM jobs WHERE id = $1) AS job_tenant_id,
         (SELECT cardinality(gpu_ids) FROM job_assignments WHERE job_id = $1 AND attempt = $2) AS attempt_gpus
       FROM mlis_end_attempt($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, p_notify => $11) e`,
      [
        jobId,
        end.attempt,
        end.state,
        end.reason,
        end.jobState,
        end.result === undefined ? null : JSON.stringify(end.result),
        end.error ? JSON.stringify(end.error) : null,
        end.resultArtifactId ?? null,
        end.fenceAttempt,
        end.ranMs ?? null,
        notifyInTransaction,
      ],
    ).finally(() => (this.endWritesInFlight -= 1));
    if (row.job_state === null) throw new JobNotFoundError(`job ${jobId} not found`);
    if (TERMINAL_JOB_STATES.includes(row.job_state) && (!notifyInTransaction || row.ended_count === 0)) this.finished.send(jobId);
    return { ...row, job_state: row.job_state };
  }
}
