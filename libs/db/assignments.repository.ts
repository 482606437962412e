import type { DataSource, EntityManager } from 'typeorm';
import {
  TERMINAL_JOB_STATES,
  type EndAssignmentInput,
  type EndedAssignmentState,
  type FinishJobInput,
  type JobState,
  type LedgerWriteResult,
} from '@mlis/contracts';
import { JOB_FINISHED_CHANNEL } from './job-finished-feed';
import { JobNotFoundError } from './jobs.repository';
import { updateReturning } from './sql';

/** An attempt a node confirmed it started: what its admission-wait observation needs. */
export interface StartedAttempt {
  group: string;
  /** Seconds from submission, when this is the job's first attempt to run; null for a later one. */
  admissionWaitSeconds: number | null;
}

/** Who reports an attempt started: the node incarnation running it, or (before ADR 0018) the job's workflow. */
export type StartedBy = { assignmentId: string; nodeId: string; incarnation: number } | { jobId: string; attempt: number };

/** An attempt a ledger write ended: what its run-duration, lease-loss and preemption observations need. */
export interface EndedAttempt {
  group: string;
  taskType: string;
  /** Seconds it ran; null when it ended before it started (PLACED). */
  runSeconds: number | null;
}

const TERMINAL = TERMINAL_JOB_STATES as readonly string[];

/**
 * The assignment lifecycle: an attempt a cycle placed starts, ends (giving its reservation back) and moves its job on.
 * Each method is one transaction and idempotent, keyed by (job id, attempt), because Temporal may run an activity more than once.
 */
export class AssignmentsRepository {
  constructor(private readonly dataSource: DataSource) {}

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
    const rows = await updateReturning<StartedAttempt>(
      this.dataSource,
      `UPDATE job_assignments a SET state = 'RUNNING', started_at = now()
       FROM jobs j
       WHERE ${where} AND a.state = 'PLACED' AND j.id = a.job_id
       RETURNING a.group_name AS "group",
                 CASE WHEN NOT EXISTS (SELECT 1 FROM job_assignments p WHERE p.job_id = a.job_id AND p.attempt <> a.attempt AND p.started_at IS NOT NULL)
                      THEN extract(epoch FROM now() - j.created_at)::float8 END AS "admissionWaitSeconds"`,
      params,
    );
    return rows[0] ?? null;
  }

  /**
   * Ends an attempt: sets its final state, gives its reservation back (only the first time),
   * and moves the job to its next state. Returns the attempt this call ended (capacity was freed), or null.
   */
  async endAssignment(input: EndAssignmentInput): Promise<LedgerWriteResult & { ended: EndedAttempt | null }> {
    return this.dataSource.transaction(async (m) => {
      await this.lockJob(m, input.jobId);
      const [ended] = await this.release(m, input.jobId, input.attempt, input.state, input.reason ?? null);
      const jobState = await this.moveJob(m, input.jobId, input.jobState, input.result, input.error, input.attempt, input.resultArtifactId);
      return { jobState, ended: ended ?? null };
    });
  }

  /**
   * Ends a job that its workflow holds no placement for (cancelled while waiting, or out of attempts).
   * A cycle may have placed it meanwhile: that reservation is given back too.
   */
  async finishJob(input: FinishJobInput): Promise<LedgerWriteResult & { released: boolean }> {
    return this.dataSource.transaction(async (m) => {
      await this.lockJob(m, input.jobId);
      const ended = await this.release(m, input.jobId, null, input.state, `job ${input.state.toLowerCase()} before it started`);
      return { jobState: await this.moveJob(m, input.jobId, input.state, undefined, input.error), released: ended.length > 0 };
    });
  }

  /**
   * Takes the job's row lock before anything else: a cycle placing the job holds it until its assignment is
   * committed, so the release below sees that assignment instead of looking past it. Lock order everywhere:
   * job, then node, then tenant usage.
   */
  private async lockJob(m: EntityManager, jobId: string): Promise<void> {
    await m.query(`SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE`, [jobId]);
  }

  /** Ends the job's live assignment (of this attempt, or any), returns its resources to the node and the tenant, and says which it ended. */
  private async release(m: EntityManager, jobId: string, attempt: number | null, state: EndedAssignmentState, reason: string | null): Promise<EndedAttempt[]> {
    const ended = await updateReturning<
      EndedAttempt & { id: string; node_id: string; slots: number; cpu_millis: number; mem_mb: number; gpu_ids: number[] }
    >(
      m,
      `UPDATE job_assignments a SET state = $3, reason = $4, ended_at = clock_timestamp()
       FROM jobs j
       WHERE a.job_id = $1 AND ($2::int IS NULL OR a.attempt = $2) AND a.state IN ('PLACED', 'RUNNING') AND j.id = a.job_id
       RETURNING a.id, a.node_id, a.slots, a.cpu_millis, a.mem_mb, a.gpu_ids, a.group_name AS "group", j.task_type AS "taskType",
                 extract(epoch FROM clock_timestamp() - a.started_at)::float8 AS "runSeconds"`,
      [jobId, attempt, state, reason],
    );
    for (const a of ended) {
      await m.query(`DELETE FROM gpu_reservations WHERE assignment_id = $1`, [a.id]);
      await m.query(
        `UPDATE nodes SET used_slots = used_slots - $2, used_cpu_millis = used_cpu_millis - $3,
                used_mem_mb = used_mem_mb - $4, used_gpus = used_gpus - $5, updated_at = now()
         WHERE id = $1`,
        [a.node_id, a.slots, a.cpu_millis, a.mem_mb, a.gpu_ids.length],
      );
      await m.query(
        `UPDATE tenant_usage SET running_jobs = running_jobs - 1, cpu_millis = cpu_millis - $2, mem_mb = mem_mb - $3, gpus = gpus - $4
         WHERE tenant_id = (SELECT tenant_id FROM jobs WHERE id = $1)`,
        [jobId, a.cpu_millis, a.mem_mb, a.gpu_ids.length],
      );
    }
    return ended.map(({ group, taskType, runSeconds }) => ({ group, taskType, runSeconds }));
  }

  private async moveJob(
    m: EntityManager,
    jobId: string,
    state: JobState,
    result: unknown,
    error: EndAssignmentInput['error'],
    attempt?: number,
    resultArtifactId?: string,
  ): Promise<JobState> {
    const terminal = TERMINAL.includes(state);
    // Fencing: the outcome of a superseded attempt never moves the job (its current attempt is jobs.attempts).
    const rows = await updateReturning<{ state: JobState }>(
      m,
      `UPDATE jobs SET state = $2, result = COALESCE($3::jsonb, result), error = COALESCE($4::jsonb, error),
              result_artifact_id = COALESCE($7::uuid, result_artifact_id), pending_reason = NULL, pending_detail = NULL, updated_at = now(),
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
        resultArtifactId ?? null,
      ],
    );
    if (rows.length > 0) {
      // Delivered at commit (dropped on rollback): wakes the API's long-polls waiting on this job (JobFinishedFeed).
      if (terminal) await m.query(`SELECT pg_notify($1, $2)`, [JOB_FINISHED_CHANNEL, jobId]);
      return rows[0].state;
    }
    const current: { state: JobState }[] = await m.query(`SELECT state FROM jobs WHERE id = $1`, [jobId]);
    if (current.length === 0) throw new JobNotFoundError(`job ${jobId} not found`);
    return current[0].state;
  }
}
