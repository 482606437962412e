import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { TimeoutType, type RetryPolicy } from '@temporalio/common';
import type { ExecutionActivities } from '../activities/execution.activities';
import type { LedgerActivities } from '../activities/ledger.activities';
import {
  assignmentStartedSignal,
  capacityAvailableSignal,
  CONTROL_TASK_QUEUE,
  FailureCode,
  getJobStatusQuery,
  JOB_WORKFLOW_VERSION,
  nodeGoneSignal,
  preemptAssignmentSignal,
  SEARCH_ATTRIBUTES,
  TERMINAL_JOB_STATES,
  type EndAssignmentInput,
  type JobError,
  type JobState,
  type JobWorkflowInput,
  type JobWorkflowStatus,
  type LossCause,
  type PendingReason,
  type Placement,
} from '@mlis/contracts';

// Ledger calls are short idempotent transactions: retry them until the database answers.
const LEDGER_RETRY: RetryPolicy = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' };
/** A ledger call as its own task on the control queue: the workflow task ends while it runs (ADR 0004). */
const ledgerTask = proxyActivities<LedgerActivities>({ taskQueue: CONTROL_TASK_QUEUE, startToCloseTimeout: '30s', retry: LEDGER_RETRY });
/** A ledger call inside the workflow task that needs it: one marker event, no task round trip (ADR 0018). */
const ledgerLocal = proxyLocalActivities<LedgerActivities>({ startToCloseTimeout: '30s', retry: LEDGER_RETRY });

/**
 * Workflows started before this patch replay ADR 0004's shape: every ledger call a task on the control queue,
 * and RUNNING marked by markAssignmentRunning when the node signals assignmentStarted. Replace with
 * deprecatePatch once no such workflow is open (docs/runbooks/upgrades.md).
 */
export const LEDGER_IN_WORKFLOW_TASK_PATCH = 'ledger-in-workflow-task';

/**
 * A cancel or a preemption request that meets a lost lease or a node shutting down decides the attempt's outcome:
 * before this patch the loss did (a cancelled job could end FAILED, a preempted one use up an attempt).
 */
export const REQUEST_BEFORE_LOSS_PATCH = 'request-before-loss';

/**
 * Whether this workflow runs ADR 0018's shape. A workflow whose input carries a version knows it from there (ADR 0029);
 * one started before that asks the patch.
 */
function ledgerInWorkflowTask(input: JobWorkflowInput): boolean {
  if (input.workflowVersion === undefined) return patched(LEDGER_IN_WORKFLOW_TASK_PATCH);
  // A control from before ADR 0029 that ran this workflow's first task recorded the patch's marker anyway: a replay
  // must match it. While replaying, patched() matches a marker that is there and records none that is not.
  if (workflowInfo().unsafe.isReplaying) patched(LEDGER_IN_WORKFLOW_TASK_PATCH);
  return true;
}

/** What the job's workflow returns; the full result lives in the ledger. */
export interface JobWorkflowResult {
  state: JobState;
  attempts: number;
}

/** Temporal durations given as numbers are milliseconds. */
function seconds(value: number): number {
  return value * 1000;
}

/**
 * Why the node lost the attempt, when it did: it stopped heartbeating, never picked the assignment
 * up, handed it back while shutting down, or was told by the API that it had been fenced off the
 * assignment. Anything else is the job's own outcome.
 */
function lostAttempt(error: unknown): { cause: LossCause; text: string } | undefined {
  if (!(error instanceof ActivityFailure)) return undefined;
  const cause = error.cause;
  if (cause instanceof TimeoutFailure && cause.timeoutType === TimeoutType.HEARTBEAT) return { cause: 'heartbeat_timeout', text: 'HEARTBEAT timeout' };
  if (cause instanceof TimeoutFailure && cause.timeoutType === TimeoutType.SCHEDULE_TO_START) {
    return { cause: 'schedule_to_start_timeout', text: 'SCHEDULE_TO_START timeout' };
  }
  if (cause instanceof ApplicationFailure && cause.type === FailureCode.NodeShutdown) return { cause: 'node_shutdown', text: 'node shut down' };
  if (cause instanceof ApplicationFailure && cause.type === FailureCode.AssignmentNotLive) {
    return { cause: 'assignment_not_live', text: 'assignment no longer live on the node' };
  }
  return undefined;
}

function describeFailure(error: unknown): JobError {
  if (error instanceof ActivityFailure) {
    const cause = error.cause;
    if (cause instanceof ApplicationFailure) return { code: cause.type ?? 'RunnerError', message: cause.message };
    if (cause instanceof TimeoutFailure) {
      return { code: 'Timeout', message: `job exceeded its timeout (${cause.timeoutType ?? 'unknown'})` };
    }
    if (cause) return { code: cause.name, message: cause.message };
  }
  return { code: 'InternalError', message: error instanceof Error ? error.message : String(error) };
}

/**
 * One job, from placement to a final state. Places the job on the capacity ledger, dispatches
 * the attempt to the chosen node's queue with the heartbeat timeout as its lease, and re-places
 * it elsewhere when the lease is lost. The only writer of the job's state after submission.
 */
export async function jobWorkflow(input: JobWorkflowInput): Promise<JobWorkflowResult> {
  // A worker of an older release, an API or a control not yet rolled (ADR 0052), must not run a newer shape in the one
  // it knows: an error that is not a Temporal failure fails the workflow task, which Temporal retries until a worker
  // that knows the version takes it.
  if (input.workflowVersion !== undefined && input.workflowVersion > JOB_WORKFLOW_VERSION) {
    throw new Error(`job workflow version ${input.workflowVersion} is newer than this worker's ${JOB_WORKFLOW_VERSION}: left to a newer worker`);
  }
  let state: JobState = 'QUEUED';
  let attempt = 1;
  let pendingReason: PendingReason | null = null;
  let queuePosition: number | null = null;
  let placement: Placement | null = null;
  const lostNodeIds: string[] = [];
  // Preempted attempts are not the job's fault: they do not count against maxAttempts.
  let preemptedAttempts = 0;
  let capacitySignals = 0;
  const startedAttempts = new Set<number>();
  const preemptRequests = new Set<number>();
  const withdrawnAttempts = new Set<number>();

  setHandler(capacityAvailableSignal, () => {
    capacitySignals += 1;
  });
  setHandler(assignmentStartedSignal, ({ attempt: started }) => {
    startedAttempts.add(started);
  });
  // The scope of the attempt being run: a preemption cancels it without cancelling the job.
  let running: { attempt: number; execution: CancellationScope } | null = null;
  setHandler(preemptAssignmentSignal, ({ attempt: preempted }) => {
    preemptRequests.add(preempted);
    if (running?.attempt === preempted) running.execution.cancel();
  });
  // Cancelling an activity no node has picked up ends it at once, on the server; one that started after all (the node
  // was declared DEAD while alive) stops at its next heartbeat, or its lease runs out.
  setHandler(nodeGoneSignal, ({ attempt: withdrawn }) => {
    withdrawnAttempts.add(withdrawn);
    if (running?.attempt === withdrawn) running.execution.cancel();
  });
  setHandler(
    getJobStatusQuery,
    (): JobWorkflowStatus => ({ state, attempt, pendingReason, queuePosition, placement, lostNodeIds: [...lostNodeIds], preemptedAttempts }),
  );

  const publish = (next: JobState): void => {
    state = next;
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.state, value: next },
      { key: SEARCH_ATTRIBUTES.workerGroup, value: placement?.group ?? null },
      { key: SEARCH_ATTRIBUTES.node, value: placement?.nodeId ?? null },
    ]);
  };
  const inWorkflowTask = ledgerInWorkflowTask(input);
  const ledger = inWorkflowTask ? ledgerLocal : ledgerTask;
  // A ledger write must land even while the job is being cancelled, or a reservation could leak. A write
  // after which the job goes on (back to the queue) stays a task of its own: the workflow task ends with it,
  // so a cancel that came meanwhile is seen before the job is placed again.
  const endAssignment = (end: Omit<EndAssignmentInput, 'jobId' | 'attempt'>) =>
    CancellationScope.nonCancellable(() =>
      (TERMINAL_JOB_STATES.includes(end.jobState) ? ledger : ledgerTask).endAssignment({ jobId: input.jobId, attempt, ...end }),
    );
  const awaitPlacement = () =>
    CancellationScope.nonCancellable(() =>
      inWorkflowTask ? ledgerLocal.awaitPlacement({ jobId: input.jobId, attempt }) : ledgerTask.placeJob({ jobId: input.jobId, attempt }),
    );

  try {
    for (;;) {
      // Ledger writes are non-cancellable, so a cancel that arrived during one is only seen here:
      // end the job as cancelled rather than placing it again.
      if (CancellationScope.current().consideredCancelled) await CancellationScope.current().cancelRequested;
      const signalsBeforePlacing = capacitySignals;
      // Placed before the workflow started (ADR 0031): the attempt goes out in this first task, no ledger read, and the
      // start already set the RUNNING search attributes.
      const placedAtStart = attempt === 1 ? input.placement : undefined;
      const placed = placedAtStart ? { placed: true as const, placement: placedAtStart } : await awaitPlacement();
      if (!placed.placed) {
        pendingReason = placed.pendingReason;
        queuePosition = placed.queuePosition;
        // Woken by a capacity signal; the timer is only a safety net.
        await condition(() => capacitySignals > signalsBeforePlacing, seconds(input.capacityRetrySeconds));
        continue;
      }
      placement = placed.placement;
      pendingReason = null;
      queuePosition = null;
      if (placedAtStart) state = 'RUNNING';
      else publish('RUNNING');

      const node = proxyActivities<ExecutionActivities>({
        taskQueue: placement.taskQueue,
        heartbeatTimeout: seconds(input.leaseSeconds),
        scheduleToStartTimeout: seconds(input.scheduleToStartSeconds),
        startToCloseTimeout: seconds(input.timeoutSeconds),
        // The workflow, not the server, decides where a retry goes.
        retry: { maximumAttempts: 1 },
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      });
      const current = placement;
      // The node marks its attempt RUNNING through the API; only a pre-patch workflow does it on the node's signal.
      const marking = inWorkflowTask ? null : new CancellationScope();
      const markRunning = marking
        ?.run(async () => {
          await condition(() => startedAttempts.has(current.attempt));
          await ledgerTask.markAssignmentRunning({ jobId: input.jobId, attempt: current.attempt });
        })
        .catch(() => undefined);
      const execution = new CancellationScope();
      const stopWatching = async (): Promise<void> => {
        running = null;
        marking?.cancel();
        await markRunning;
      };

      try {
        // The result itself, or only the id of the artifact the node uploaded it to: never a large payload.
        const run = execution.run(() =>
          node.runAssignment({
            jobId: input.jobId,
            assignmentId: current.assignmentId,
            attempt: current.attempt,
            taskType: input.taskType,
            params: input.params,
            paramsArtifactId: input.paramsArtifactId,
            gpuIds: current.gpuIds,
          }),
        );
        running = { attempt: current.attempt, execution };
        // A preemption or a withdrawal that came before the attempt was dispatched.
        if (preemptRequests.has(current.attempt) || withdrawnAttempts.has(current.attempt)) execution.cancel();
        const output = await run;
        await stopWatching();
        const written = await endAssignment({ state: 'SUCCEEDED', jobState: 'SUCCEEDED', ...output });
        publish(written.jobState);
        return { state, attempts: attempt };
      } catch (error) {
        await stopWatching();
        const jobCancelled = CancellationScope.current().consideredCancelled;
        // The node died or shut down before it acknowledged the request: the attempt is gone either way.
        const requested = jobCancelled || preemptRequests.has(current.attempt);
        // Withdrawn from a node that is gone: lost like one that timed out waiting for it, only sooner.
        const withdrawn = !requested && isCancellation(error) && withdrawnAttempts.has(current.attempt);
        const lost = withdrawn ? { cause: 'node_gone' as const, text: 'the node was gone before it started the attempt' } : lostAttempt(error);
        const endsAsRequested = (isCancellation(error) && !withdrawn) || (lost !== undefined && requested && patched(REQUEST_BEFORE_LOSS_PATCH));
        if (endsAsRequested && preemptRequests.has(current.attempt) && !jobCancelled) {
          // Evicted for a higher-priority job: back to the queue with a new attempt, never FAILED.
          const written = await endAssignment({ state: 'PREEMPTED', reason: 'preempted by a higher-priority job', jobState: 'QUEUED' });
          placement = null;
          publish(written.jobState);
          if (written.jobState !== 'QUEUED') return { state, attempts: attempt };
          preemptedAttempts += 1;
          attempt += 1;
          continue;
        }
        if (endsAsRequested && isCancellation(error)) throw error;
        // The outer handler ends the job CANCELLED with this attempt.
        if (endsAsRequested) throw new CancelledFailure(`cancelled by request; the attempt was lost meanwhile (${lost?.text})`);

        if (!lost) {
          const failure = describeFailure(error);
          const written = await endAssignment({ state: 'FAILED', reason: failure.message, jobState: 'FAILED', error: failure });
          publish(written.jobState);
          throw ApplicationFailure.create({ type: failure.code, message: failure.message, nonRetryable: true });
        }

        lostNodeIds.push(current.nodeId);
        const reason = `lease lost on node ${current.nodeId}: ${lost.text}`;
        const exhausted = attempt - preemptedAttempts >= input.maxAttempts;
        const error_: JobError | undefined = exhausted
          ? { code: 'MaxAttemptsExhausted', message: `${reason}; all ${input.maxAttempts} attempts used` }
          : undefined;
        const written = await endAssignment({
          state: 'LOST',
          reason,
          lossCause: lost.cause,
          jobState: exhausted ? 'FAILED' : 'QUEUED',
          error: error_,
        });
        placement = null;
        publish(written.jobState);
        if (exhausted || written.jobState !== 'QUEUED') {
          throw ApplicationFailure.create({ type: 'MaxAttemptsExhausted', message: error_?.message ?? reason, nonRetryable: true });
        }
        attempt += 1;
      }
    }
  } catch (error) {
    if (isCancellation(error)) {
      const written = await (placement
        ? endAssignment({ state: 'CANCELLED', reason: 'cancelled by request', jobState: 'CANCELLED' })
        : CancellationScope.nonCancellable(() => ledger.finishJob({ jobId: input.jobId, state: 'CANCELLED' })));
      publish(written.jobState);
    }
    throw error;
  }
}
