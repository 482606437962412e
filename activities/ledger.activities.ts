import { ApplicationFailure, log } from '@temporalio/activity';
import {
  FailureCode,
  type EndAssignmentInput,
  type FinishJobInput,
  type LedgerWriteResult,
  type AwaitPlacementInput,
  type AwaitPlacementResult,
} from '@mlis/contracts';
import { JobNotFoundError, type AssignmentsRepository, type CycleOutcome, type CycleReason, type EndedAttempt, type SchedulingStore } from '@mlis/db';
import { countTenantRunTime, leaseLosses, observeAdmissionWait, preemptions, runDuration } from '@mlis/metrics';

export interface LedgerActivityDeps {
  scheduling: SchedulingStore;
  assignments: AssignmentsRepository;
  /** Runs a scheduling cycle that starts after the call (shared with concurrent callers). */
  requestCycle: (reason: CycleReason) => Promise<CycleOutcome>;
  /** How many jobs of each lane a cycle looks at: a job deeper than that waits its turn. */
  laneWindow: number;
}

// Observed only by the write that made the transition, so a retried activity never counts twice.
function observeEnded(ended: EndedAttempt, { state: outcome, lossCause }: EndAssignmentInput): void {
  if (ended.runSeconds !== null) {
    runDuration.observe({ task_type: ended.taskType, outcome }, ended.runSeconds);
    countTenantRunTime(ended.tenantId, ended.runSeconds, ended.gpus);
  }
  // An attempt that ended before its node reported its start (ADR 0030): the API never saw it begin.
  if (ended.admissionWaitSeconds !== null) observeAdmissionWait(ended.group, ended.tenantId, ended.admissionWaitSeconds);
  // 'unknown': written by a workflow that started before the cause was recorded.
  if (outcome === 'LOST') leaseLosses.inc({ group: ended.group, cause: lossCause ?? 'unknown' });
  if (outcome === 'PREEMPTED') preemptions.inc({ group: ended.group });
}

function jobNotFound(error: unknown): never {
  if (error instanceof JobNotFoundError) {
    throw ApplicationFailure.create({ type: FailureCode.JobNotFound, message: error.message, nonRetryable: true });
  }
  throw error;
}

/** Ledger activities run on the control queue; each is one idempotent transaction keyed by (job, attempt). */
export function createLedgerActivities({ scheduling, assignments, requestCycle, laneWindow }: LedgerActivityDeps) {
  // A cycle after a write that freed capacity or put the job back in the queue is an optimisation (the control
  // process also runs one on a timer), so the write neither waits for it (the job's workflow task would stay open
  // for a whole cycle) nor fails with it.
  const cycleAfterWrite = (reason: CycleReason): void => {
    requestCycle(reason).catch((error: unknown) => log.warn('scheduling cycle after a ledger write failed', { error: String(error) }));
  };

  /**
   * The placement a scheduling cycle made for this attempt, or why the job waits. Only a job no
   * cycle has looked at yet (new, or just re-queued) asks for a cycle; a job already waiting for a
   * known reason is woken by a signal when a cycle places it, so its safety-net retries cost one read.
   */
  const awaitPlacement = async ({ jobId, attempt }: AwaitPlacementInput): Promise<AwaitPlacementResult> => {
    try {
      // The workflow starts after its job's row has committed (ADR 0027): a missing row is a job that does not exist.
      const known = await scheduling.placementOf(jobId, attempt);
      if (known.placed || known.examined) return known;
      await requestCycle('job');
      const after = await scheduling.placementOf(jobId, attempt);
      if (!after.placed && !after.examined) {
        await scheduling.markWaitingTurn(jobId, laneWindow);
        return scheduling.placementOf(jobId, attempt);
      }
      return after;
    } catch (error) {
      return jobNotFound(error);
    }
  };

  return {
    awaitPlacement,
    /** awaitPlacement's name in workflows started before the ledger-in-workflow-task patch (ADR 0018). */
    placeJob: awaitPlacement,

    /** Only workflows started before the ledger-in-workflow-task patch call this: a node now marks RUNNING through the API. */
    async markAssignmentRunning(input: { jobId: string; attempt: number }): Promise<void> {
      const started = await assignments.markAssignmentRunning(input);
      if (started?.admissionWaitSeconds != null) observeAdmissionWait(started.group, started.tenantId, started.admissionWaitSeconds);
    },

    async endAssignment(input: EndAssignmentInput): Promise<LedgerWriteResult> {
      const { jobState, ended } = await assignments.endAssignment(input).catch(jobNotFound);
      if (ended) observeEnded(ended, input);
      // A re-queued job needs a cycle, even when nothing was released (the release already happened).
      if (jobState === 'QUEUED') cycleAfterWrite('job');
      else if (ended) cycleAfterWrite('capacity');
      return { jobState };
    },

    async finishJob(input: FinishJobInput): Promise<LedgerWriteResult> {
      const { jobState, released } = await assignments.finishJob(input).catch(jobNotFound);
      if (released) cycleAfterWrite('capacity');
      return { jobState };
    },
  };
}

export type LedgerActivities = ReturnType<typeof createLedgerActivities>;
