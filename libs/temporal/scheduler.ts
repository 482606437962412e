import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  capacityAvailableSignal,
  JOB_WORKFLOW_TYPE,
  jobIdOfWorkflow,
  jobWorkflowId,
  nodeGoneSignal,
  preemptAssignmentSignal,
  TERMINAL_JOB_STATES,
  type JobState,
  type Placement,
} from '@mlis/contracts';
import type { SchedulingConfig } from '@mlis/config';
import type { AssignmentsRepository, CycleOptions, CycleOutcome, CycleReason, JobsRepository, SchedulingStore } from '@mlis/db';
import { schedulerCycleChecks, schedulerCycleDuration } from '@mlis/metrics';
import type { JobWorkflowStarter } from './job-workflow-starter';

/** The cycle settings every process that schedules (control, API) takes from the same configuration. */
export function cycleOptions(scheduling: SchedulingConfig): CycleOptions {
  return {
    liveWithinSeconds: scheduling.nodeDeadAfterSeconds,
    agingSeconds: scheduling.agingSeconds,
    laneWindow: scheduling.laneWindow,
    holdDepth: scheduling.holdDepth,
  };
}

// Stale placements nudged, stale preemption requests sent again and jobs of closed workflows ended, per periodic tick;
// more wait for the next one.
const NUDGE_BATCH = 100;
// Closed workflow runs checked against the ledger per tick at most, and listed at most (those settled by an earlier
// tick are listed again until they leave the lookback window, but not checked).
const CLOSED_WORKFLOWS_CHECKED = 1_000;
const CLOSED_WORKFLOWS_LISTED = 50_000;

/** A signal for a job's workflow; `placed` when the job holds a placement its workflow must pick up. */
interface WorkflowSignal {
  jobId: string;
  name: string;
  placed: boolean;
  send: (handle: WorkflowHandle) => Promise<void>;
}

function placedSignal(jobId: string): WorkflowSignal {
  return { jobId, name: capacityAvailableSignal.name, placed: true, send: (handle) => handle.signal(capacityAvailableSignal) };
}

function preemptSignal({ jobId, attempt }: { jobId: string; attempt: number }): WorkflowSignal {
  return { jobId, name: preemptAssignmentSignal.name, placed: false, send: (handle) => handle.signal(preemptAssignmentSignal, { attempt }) };
}

function withdrawSignal({ jobId, attempt }: { jobId: string; attempt: number }): WorkflowSignal {
  return { jobId, name: nodeGoneSignal.name, placed: false, send: (handle) => handle.signal(nodeGoneSignal, { attempt }) };
}

/** The cycle that starts once the one under way ends, and what the requests that share it need. */
interface FollowUpCycle {
  outcome: Promise<CycleOutcome>;
  /** A request that shares it needs it in full (a waiting job's, the timer's): no check first. */
  full: boolean;
  /** A request that shares it needs it whatever the cycle under way decides. */
  needed: boolean;
  /** New jobs whose requests share it: the cycle under way answers them if it placed them. */
  newJobs: string[];
}

/** How `placeNewJob` (and the API's start of a new job's workflow) learns where the job's row came from. */
export interface NewJobOptions {
  /** The caller inserted the row just now (a new submission, not a replay): no read before the cycle (ADR 0047). */
  insertedJustNow?: boolean;
}

/**
 * Runs scheduling cycles for this process and tells the affected workflows: placed jobs that had been
 * waiting get `capacityAvailable` (they pick their placement up; a job placed at its first look gets it in
 * its workflow's input or reads it in its own awaitPlacement), preempted ones get `preemptAssignment`.
 * Requests that arrive while a cycle runs share the next one, so a burst of events (a hundred
 * jobs finishing at once) costs two cycles, not a hundred; a next one asked for only by new jobs that the cycle under
 * way placed is not run (ADR 0047). Cycles of different processes are serialised by the ledger's advisory lock. A
 * cycle asked for only because capacity freed ends after one read when no job waits (ADR 0046).
 */
export class Scheduler {
  private running: Promise<CycleOutcome> | null = null;
  private next: FollowUpCycle | null = null;
  // Closed job workflow runs (`workflowId/runId`) with nothing left to do, by close time, while in the lookback window.
  private readonly settledClosedRuns = new Map<string, number>();

  constructor(
    private readonly store: SchedulingStore,
    private readonly assignments: AssignmentsRepository,
    private readonly jobs: Pick<JobsRepository, 'findById'>,
    private readonly client: Client,
    private readonly starter: Pick<JobWorkflowStarter, 'signalPlaced'>,
    private readonly options: CycleOptions,
    private readonly warn: (message: string) => void,
  ) {}

  /**
   * Resolves with a cycle that started after this call. One asked for only because capacity freed first reads whether
   * any job waits, and when none does ends there with nothing decided.
   */
  requestCycle(reason: CycleReason): Promise<CycleOutcome> {
    return this.request(reason !== 'capacity');
  }

  /**
   * For a job whose row has committed: its first placement, so its workflow can start with it (ADR 0031). A job no
   * cycle has looked at yet gets a cycle that starts after this call, unless the cycle under way placed it (its row
   * committed before that cycle read the queue, ADR 0047); one that a cycle (of any process) has placed already is
   * read back. Undefined when the job waits: its workflow then waits for it as any waiting job does.
   * A job whose row the caller inserted just now is not read first: only another process's cycle can have looked at it
   * in between, which is rare, and the read after the cycle finds what that cycle did (ADR 0047).
   */
  async placeNewJob(jobId: string, { insertedJustNow = false }: NewJobOptions = {}): Promise<Placement | undefined> {
    if (!insertedJustNow) {
      const known = await this.store.placementOf(jobId, 1);
      if (known.placed) return known.placement;
      if (known.examined) return undefined;
    }
    const underWay = this.running?.catch(() => undefined);
    const { placed } = await this.request(true, jobId);
    const ours = placed.find((p) => p.jobId === jobId) ?? (await underWay)?.placed.find((p) => p.jobId === jobId);
    if (ours) return ours.placement;
    const after = await this.store.placementOf(jobId, 1);
    return after.placed ? after.placement : undefined;
  }

  /**
   * A cycle that starts after this call; for a new job's request (`newJobId`), the cycle under way instead when it
   * placed that job and answers every other request that would share the next cycle so too.
   */
  private request(full: boolean, newJobId?: string): Promise<CycleOutcome> {
    // The follow-up is checked first: between the end of the cycle under way and the follow-up's start, running is null.
    if (!this.next && !this.running) return this.start(full);
    const next = (this.next ??= this.followUp(this.running!));
    next.full ||= full;
    if (newJobId === undefined) next.needed = true;
    else next.newJobs.push(newJobId);
    return next.outcome;
  }

  private followUp(underWay: Promise<CycleOutcome>): FollowUpCycle {
    const requests = { full: false, needed: false, newJobs: [] as string[] };
    const outcome = underWay
      .catch(() => undefined)
      .then((previous) => {
        this.next = null;
        const answered = previous !== undefined && !requests.needed && requests.newJobs.every((jobId) => previous.placed.some((p) => p.jobId === jobId));
        return answered ? previous : this.start(requests.full);
      });
    return Object.assign(requests, { outcome });
  }

  private start(full: boolean): Promise<CycleOutcome> {
    const cycle = this.cycle(full).finally(() => {
      if (this.running === cycle) this.running = null;
    });
    this.running = cycle;
    return cycle;
  }

  private async cycle(full: boolean): Promise<CycleOutcome> {
    // With no job waiting a cycle would only read the ledger and write an empty queue order: a transaction and a
    // commit's WAL flush after every release of a platform whose jobs are placed as they come.
    if (!full) {
      const waits = await this.store.anyJobWaits();
      schedulerCycleChecks.inc({ result: waits ? 'job_waits' : 'nothing_waits' });
      if (!waits) return { placed: [], preempted: [], waiting: 0 };
    }
    const endTimer = schedulerCycleDuration.startTimer();
    const outcome = await this.store.runCycle(this.options).finally(endTimer);
    await this.signalAll([...outcome.placed.filter(({ waited }) => waited).map(({ jobId }) => placedSignal(jobId)), ...outcome.preempted.map(preemptSignal)]);
    return outcome;
  }

  /**
   * Signals again the jobs placed more than `olderThanSeconds` ago that never started: their workflow missed
   * the first signal (Temporal briefly unreachable, say), or never started (its API died after the commit).
   * Returns how many were nudged.
   */
  async nudgeStalePlacements(olderThanSeconds: number): Promise<number> {
    const jobIds = await this.store.stalePlacements(olderThanSeconds, NUDGE_BATCH);
    await this.signalAll(jobIds.map(placedSignal));
    return jobIds.length;
  }

  /**
   * Asks again the attempts a cycle asked to give way more than `olderThanSeconds` ago that still hold their place: the
   * first request found no workflow (the job was placed but its workflow not started yet, ADR 0031) or could not reach
   * Temporal. A workflow that has the request already ignores the repeat. A request whose preemptor no longer waits
   * is withdrawn instead. Returns how many were asked.
   */
  async resendStalePreemptions(olderThanSeconds: number): Promise<number> {
    await this.store.withdrawStalePreemptions(olderThanSeconds);
    const attempts = await this.store.stalePreemptions(olderThanSeconds, NUDGE_BATCH);
    await this.signalAll(attempts.map(preemptSignal));
    return attempts.length;
  }

  /**
   * Tells the workflows of attempts placed on nodes that are gone (DEAD, or left) for over `settledSeconds`, and never
   * started there, to withdraw them (ADR 0038): their jobs are placed again now, not after schedule-to-start. Sent
   * again at every call while the attempt stays PLACED; a workflow not started yet gets it from a later call. Returns
   * how many were told.
   */
  async withdrawPlacementsOnGoneNodes(settledSeconds: number): Promise<number> {
    const attempts = await this.store.placementsOnGoneNodes(settledSeconds, NUDGE_BATCH);
    await this.signalAll(attempts.map(withdrawSignal));
    return attempts.length;
  }

  /**
   * Ends FAILED (WorkflowGone) the jobs whose workflow closed in the last `withinSeconds` without ending them: terminated
   * by an operator (Terminate in the Temporal Web UI or CLI) or timed out. Nothing else would end them soon: their
   * attempts would hold their capacity until the job's own timeout ran out and the stale-placement nudge found them
   * (ADR 0042). One visibility query a call; a workflow reset by an operator runs again under the same id, so a job
   * whose workflow is running again is left to it. Returns how many jobs it ended.
   */
  async releaseClosedWorkflows(withinSeconds: number): Promise<number> {
    const sinceMs = Date.now() - withinSeconds * 1000;
    for (const [run, closedAtMs] of this.settledClosedRuns) if (closedAtMs < sinceMs) this.settledClosedRuns.delete(run);
    const query =
      `WorkflowType = '${JOB_WORKFLOW_TYPE}' AND (ExecutionStatus = 'Terminated' OR ExecutionStatus = 'TimedOut') ` +
      `AND CloseTime >= '${new Date(sinceMs).toISOString()}'`;
    let ended = 0;
    let checked = 0;
    let listed = 0;
    // Newest first. Runs this process has settled are passed over without a ledger read, so after a mass termination
    // later calls reach the older runs instead of reading the same newest ones again.
    for await (const execution of this.client.workflow.list({ query, pageSize: CLOSED_WORKFLOWS_CHECKED })) {
      if (ended >= NUDGE_BATCH || ++listed > CLOSED_WORKFLOWS_LISTED) break;
      const run = `${execution.workflowId}/${execution.runId}`;
      if (this.settledClosedRuns.has(run)) continue;
      if (++checked > CLOSED_WORKFLOWS_CHECKED) break;
      const settled = await this.settleClosedRun(execution.workflowId);
      if (settled === undefined) continue;
      this.settledClosedRuns.set(run, execution.closeTime?.getTime() ?? Date.now());
      if (settled === 'ended') ended += 1;
    }
    return ended;
  }

  /**
   * What a closed job workflow's run leaves to do: `ended` when its job was live and is FAILED now, `settled` when
   * nothing is left (not a job, a finished job, a workflow running again after a reset), undefined when the release
   * failed and a later call should try again.
   */
  private async settleClosedRun(workflowId: string): Promise<'ended' | 'settled' | undefined> {
    const jobId = jobIdOfWorkflow(workflowId);
    if (jobId === undefined) return 'settled';
    const record = await this.jobs.findById(null, jobId);
    if (!record || TERMINAL_JOB_STATES.includes(record.job.state)) return 'settled';
    const { status } = await this.client.workflow.getHandle(jobWorkflowId(jobId)).describe();
    if (status.name === 'RUNNING') return 'settled';
    const jobState = await this.releaseOrphan(jobId);
    if (jobState === undefined) return undefined;
    return jobState === 'FAILED' ? 'ended' : 'settled';
  }

  private async signalAll(signals: WorkflowSignal[]): Promise<void> {
    const results = await Promise.all(
      signals.map(({ jobId, name, placed, send }) =>
        send(this.client.workflow.getHandle(jobWorkflowId(jobId))).then(
          () => ({ jobId, name, placed, error: undefined }),
          (error: unknown) => ({ jobId, name, placed, error }),
        ),
      ),
    );
    for (const { jobId, name, placed, error } of results) {
      if (error === undefined) continue;
      if (error instanceof WorkflowNotFoundError) {
        // A preemption request or a withdrawal for a workflow not started yet is sent again by a later call.
        if (placed) await this.startOrRelease(jobId);
        continue;
      }
      // The ledger already holds the decision; a periodic pass signals it again. Worth a warning, not a failed cycle.
      this.warn(`signal ${name} to job ${jobId} failed (sent again by a later pass): ${String(error)}`);
    }
  }

  /**
   * A placed job whose workflow is not running: one that never started (its API died between the commit and the
   * start, ADR 0027) starts now with the placement signal; one that has closed (terminated by an operator) would
   * hold its placement forever, so it ends FAILED and its placement is released.
   */
  private async startOrRelease(jobId: string): Promise<void> {
    try {
      const record = await this.jobs.findById(null, jobId);
      if (record && (await this.starter.signalPlaced(record.job))) {
        this.warn(`job ${jobId} was placed before its workflow had started: started it with the placement signal`);
        return;
      }
    } catch (error) {
      // The ledger still holds the placement: the next nudge tries again.
      this.warn(`starting the workflow of placed job ${jobId} failed: ${String(error)}`);
      return;
    }
    await this.releaseOrphan(jobId);
  }

  /**
   * Says what the release did, and answers the job's state now (FAILED, unless a workflow that closed after a cancel,
   * racing the cycle that placed its job, has ended the job CANCELLED and given the placement back itself: there it
   * stays CANCELLED and nothing is released), or undefined when the release failed.
   */
  private async releaseOrphan(jobId: string): Promise<JobState | undefined> {
    try {
      const { jobState, released } = await this.assignments.finishJob({
        jobId,
        state: 'FAILED',
        error: { code: 'WorkflowGone', message: 'the job workflow is no longer running; its placement was released' },
        // The attempt may have been running: not the default "before it started".
        reason: 'its job workflow closed without ending it (terminated or timed out)',
      });
      const outcome = jobState === 'FAILED' ? 'the job ended FAILED (WorkflowGone)' : `the job is ${jobState}`;
      this.warn(`job ${jobId}'s workflow is gone: ${outcome}, ${released ? 'its placement released' : 'no placement left to release'}`);
      return jobState;
    } catch (error) {
      this.warn(`releasing the placement of job ${jobId}, whose workflow is gone, failed: ${String(error)}`);
      return undefined;
    }
  }
}
