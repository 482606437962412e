import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import {
  ApplicationFailure,
  CancelledFailure,
  WorkflowFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundle } from '@temporalio/worker';
import { jobWorkflow } from '../../workflows';
import {
  capacityAvailableSignal,
  CONTROL_TASK_QUEUE,
  FailureCode,
  getJobStatusQuery,
  JOB_WORKFLOW_VERSION,
  jobWorkflowId,
  nodeGoneSignal,
  preemptAssignmentSignal,
  SEARCH_ATTRIBUTES,
  type JobWorkflowInput,
  type JobWorkflowMemo,
} from '@mlis/contracts';
import { startSearchAttributes } from '@mlis/temporal';
import { createTimeSkippingEnv } from '../support/time-skipping';
import { waitFor } from '../support/wait-for';
import { FakeLedger, type FakeNode } from './support/fake-ledger';
import {
  hangsAfterOneHeartbeat,
  heartbeatsUntilCancelled,
  RunnerLog,
  shutsDownWhenCancelled,
  succeeds,
  throws,
  uploadsResult,
  type FakeRunner,
} from './support/fake-runners';
import {
  bundleJobWorkflows,
  createControlWorker,
  createNodeWorker,
  ExportedSpans,
  installQuietRuntime,
  runWithWorkers,
} from './support/workers';

const NODE_A: FakeNode = { nodeId: 'node-a', group: 'cpu' };
const NODE_B: FakeNode = { nodeId: 'node-b', group: 'cpu' };
/** In the ledger's node list, but no worker ever polls its queue. */
const NODE_GONE: FakeNode = { nodeId: 'node-gone', group: 'cpu' };

// The Java test server never skips time while an activity is scheduled or running, so lease and
// schedule-to-start timeouts pass in real time: tests that lose a lease take that long.
const TEST_TIMEOUT_MS = 70_000;
/** Below the jest timeout, so a stuck test stops its workers before the next test starts. */
const BODY_DEADLINE_MS = 60_000;
const WAIT_MS = 15_000;

function jobInput(overrides: Partial<JobWorkflowInput> = {}): JobWorkflowInput {
  return {
    jobId: randomUUID(),
    tenantId: 'tenant-test',
    taskType: 'sleep',
    params: { seconds: 1 },
    maxAttempts: 3,
    timeoutSeconds: 600,
    // The test server does not skip time while an activity is in flight, so lease and
    // schedule-to-start timeouts elapse in real time: keep them short.
    leaseSeconds: 2,
    scheduleToStartSeconds: 3,
    capacityRetrySeconds: 60,
    workflowVersion: JOB_WORKFLOW_VERSION,
    ...overrides,
  };
}

/** The error a workflow handle's result() rejected with; fails the test if it resolved. */
async function failureOf(handle: WorkflowHandle): Promise<WorkflowFailedError> {
  const outcome = await handle.result().then(
    (value: unknown) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`workflow succeeded with ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(WorkflowFailedError);
  return outcome.error as WorkflowFailedError;
}

/** Whether the workflow has completed a workflow task since the client's cancel request reached it. */
async function cancelSeenByWorkflow(handle: WorkflowHandle): Promise<boolean> {
  const events = (await handle.fetchHistory()).events ?? [];
  const requested = events.findIndex((event) => event.workflowExecutionCancelRequestedEventAttributes);
  return requested >= 0 && events.slice(requested).some((event) => event.workflowTaskCompletedEventAttributes);
}

/** Whether the workflow has completed a workflow task since the named signal last reached it. */
async function signalSeenByWorkflow(handle: WorkflowHandle, signalName: string): Promise<boolean> {
  const events = (await handle.fetchHistory()).events ?? [];
  const signalled = events.map((event) => event.workflowExecutionSignaledEventAttributes?.signalName).lastIndexOf(signalName);
  return signalled >= 0 && events.slice(signalled).some((event) => event.workflowTaskCompletedEventAttributes);
}

/** The names of a history's markers, in order (core_patch, core_local_activity). */
function markerNames(events: { markerRecordedEventAttributes?: { markerName?: string | null } | null }[]): string[] {
  return events.flatMap((event) => event.markerRecordedEventAttributes?.markerName ?? []);
}

describe('jobWorkflow', () => {
  let env: TestWorkflowEnvironment;
  let workflowBundle: WorkflowBundle;
  const started: WorkflowHandle[] = [];

  beforeAll(async () => {
    installQuietRuntime();
    [env, workflowBundle] = await Promise.all([createTimeSkippingEnv(), bundleJobWorkflows()]);
  }, 60_000);

  // A test that failed half-way must not leave its workflow running into the next test's workers.
  afterEach(async () => {
    for (const handle of started.splice(0)) {
      const { status } = await handle.describe();
      if (status.name === 'RUNNING') await handle.terminate('test finished');
    }
  });

  afterAll(async () => {
    await env?.teardown();
  });

  // Started the way the API starts it: workflow id job-<id>, tenant/task type/state attributes, the memo.
  async function startJob(input: JobWorkflowInput, memo: JobWorkflowMemo = { request_id: `request-${input.jobId}`, tenant: input.tenantId }) {
    const handle = await env.client.workflow.start(jobWorkflow, {
      taskQueue: CONTROL_TASK_QUEUE,
      workflowId: jobWorkflowId(input.jobId),
      args: [input],
      memo: { ...memo },
      typedSearchAttributes: startSearchAttributes(input, input.placement),
    });
    started.push(handle);
    return handle;
  }

  /** Runs the control worker (fake ledger) and one worker per listed node until `body` settles. */
  async function withWorkers<T>(
    ledger: FakeLedger,
    runs: RunnerLog,
    nodes: [FakeNode, FakeRunner][],
    body: () => Promise<T>,
    spans?: ExportedSpans,
  ): Promise<T> {
    const workers = await Promise.all([
      createControlWorker(env, workflowBundle, ledger, spans),
      ...nodes.map(([node, runner]) => createNodeWorker(env, node, runner, runs)),
    ]);
    return runWithWorkers(workers, BODY_DEADLINE_MS, body);
  }

  it('runs the job on the placed node and publishes its final state as search attributes', async () => {
    const ledger = new FakeLedger([NODE_A]);
    const runs = new RunnerLog();
    const input = jobInput();

    const { result, description } = await withWorkers(ledger, runs, [[NODE_A, succeeds]], async () => {
      const handle = await startJob(input);
      return { result: await handle.result(), description: await handle.describe() };
    });

    expect(result).toEqual({ state: 'SUCCEEDED', attempts: 1 });
    expect(runs.started).toEqual([
      {
        nodeId: 'node-a',
        jobId: input.jobId,
        assignmentId: `assignment-${input.jobId}-1`,
        attempt: 1,
        taskType: 'sleep',
        params: { seconds: 1 },
        gpuIds: [],
      },
    ]);
    expect(ledger.calls).toEqual(['awaitPlacement', 'endAssignment']);
    expect(ledger.endAssignmentCalls).toEqual([
      { jobId: input.jobId, attempt: 1, state: 'SUCCEEDED', jobState: 'SUCCEEDED', result: { slept: 1 } },
    ]);
    expect(description.status.name).toBe('COMPLETED');
    const attributes = description.typedSearchAttributes;
    expect(attributes.get(SEARCH_ATTRIBUTES.state)).toBe('SUCCEEDED');
    expect(attributes.get(SEARCH_ATTRIBUTES.node)).toBe('node-a');
    expect(attributes.get(SEARCH_ATTRIBUTES.workerGroup)).toBe('cpu');
    expect(attributes.get(SEARCH_ATTRIBUTES.tenant)).toBe('tenant-test');
    expect(attributes.get(SEARCH_ATTRIBUTES.taskType)).toBe('sleep');
  }, TEST_TIMEOUT_MS);

  it.each([
    ['its workflow placed the first attempt', false],
    // Only attempt 1 comes in the input: the next is placed through the ledger.
    ['the first attempt was placed before the workflow started (ADR 0031)', true],
  ])('marks an attempt LOST when its node stops heartbeating and succeeds on another node: %s', async (_how, placedAtStart) => {
    const ledger = new FakeLedger([NODE_A, NODE_B]);
    const runs = new RunnerLog();
    const input = jobInput();
    if (placedAtStart) input.placement = ledger.placeBeforeStart(input.jobId);

    const result = await withWorkers(
      ledger,
      runs,
      [
        [NODE_A, hangsAfterOneHeartbeat],
        [NODE_B, succeeds],
      ],
      async () => (await startJob(input)).result(),
    );

    expect(result).toEqual({ state: 'SUCCEEDED', attempts: 2 });
    expect(ledger.placementCalls).toEqual([...(placedAtStart ? [] : [{ jobId: input.jobId, attempt: 1 }]), { jobId: input.jobId, attempt: 2 }]);
    expect(runs.started.map((run) => [run.nodeId, run.attempt])).toEqual([
      ['node-a', 1],
      ['node-b', 2],
    ]);
    // One release per attempt: the lost one goes back to QUEUED, the second ends the job.
    expect(ledger.endAssignmentCalls).toEqual([
      {
        jobId: input.jobId,
        attempt: 1,
        state: 'LOST',
        reason: 'lease lost on node node-a: HEARTBEAT timeout',
        lossCause: 'heartbeat_timeout',
        jobState: 'QUEUED',
      },
      { jobId: input.jobId, attempt: 2, state: 'SUCCEEDED', jobState: 'SUCCEEDED', result: { slept: 1 } },
    ]);
    expect(ledger.finishJobCalls).toEqual([]);
  }, TEST_TIMEOUT_MS);

  it('marks an attempt LOST when no worker picks it up before the schedule-to-start timeout', async () => {
    const ledger = new FakeLedger([NODE_GONE, NODE_B]);
    const runs = new RunnerLog();
    const input = jobInput();

    const result = await withWorkers(ledger, runs, [[NODE_B, succeeds]], async () => (await startJob(input)).result());

    expect(result).toEqual({ state: 'SUCCEEDED', attempts: 2 });
    expect(ledger.placementCalls).toEqual([
      { jobId: input.jobId, attempt: 1 },
      { jobId: input.jobId, attempt: 2 },
    ]);
    expect(ledger.endAssignmentCalls).toHaveLength(2);
    expect(ledger.endAssignmentCalls[0]).toEqual({
      jobId: input.jobId,
      attempt: 1,
      state: 'LOST',
      reason: expect.stringContaining('SCHEDULE_TO_START'),
      lossCause: 'schedule_to_start_timeout',
      jobState: 'QUEUED',
    });
    expect(ledger.endAssignmentCalls[1]).toMatchObject({ attempt: 2, state: 'SUCCEEDED', jobState: 'SUCCEEDED' });
    expect(runs.started.map((run) => [run.nodeId, run.attempt])).toEqual([['node-b', 2]]);
  }, TEST_TIMEOUT_MS);

  it.each([
    [FailureCode.NodeShutdown, 'the node shut down during the attempt', 'node shut down', 'node_shutdown'],
    [FailureCode.AssignmentNotLive, 'HTTP 409 assignment_not_live', 'assignment no longer live on the node', 'assignment_not_live'],
  ])('re-places at once when the node hands the attempt back with %s', async (type, message, lost, lossCause) => {
    const ledger = new FakeLedger([NODE_A, NODE_B]);
    const runs = new RunnerLog();
    const input = jobInput();
    const handedBack = ApplicationFailure.create({ type, message, nonRetryable: true });

    const result = await withWorkers(
      ledger,
      runs,
      [
        [NODE_A, throws(handedBack)],
        [NODE_B, succeeds],
      ],
      async () => (await startJob(input)).result(),
    );

    expect(result).toEqual({ state: 'SUCCEEDED', attempts: 2 });
    expect(ledger.placedNodes(input.jobId)).toEqual(['node-a', 'node-b']);
    expect(ledger.endAssignmentCalls.map(({ attempt, state, reason, lossCause, jobState }) => ({ attempt, state, reason, lossCause, jobState }))).toEqual([
      { attempt: 1, state: 'LOST', reason: `lease lost on node node-a: ${lost}`, lossCause, jobState: 'QUEUED' },
      { attempt: 2, state: 'SUCCEEDED', reason: undefined, lossCause: undefined, jobState: 'SUCCEEDED' },
    ]);
  }, TEST_TIMEOUT_MS);

  it('fails the job with MaxAttemptsExhausted when every attempt loses its lease', async () => {
    const ledger = new FakeLedger([NODE_A, NODE_B]);
    const runs = new RunnerLog();
    const input = jobInput({ maxAttempts: 2 });

    const error = await withWorkers(
      ledger,
      runs,
      [
        [NODE_A, hangsAfterOneHeartbeat],
        [NODE_B, hangsAfterOneHeartbeat],
      ],
      async () => failureOf(await startJob(input)),
    );

    expect(error.cause).toBeInstanceOf(ApplicationFailure);
    expect(error.cause).toMatchObject({ type: 'MaxAttemptsExhausted', nonRetryable: true });
    expect(ledger.placementCalls).toEqual([
      { jobId: input.jobId, attempt: 1 },
      { jobId: input.jobId, attempt: 2 },
    ]);
    expect(ledger.endAssignmentCalls.map(({ attempt, state, jobState }) => ({ attempt, state, jobState }))).toEqual([
      { attempt: 1, state: 'LOST', jobState: 'QUEUED' },
      { attempt: 2, state: 'LOST', jobState: 'FAILED' },
    ]);
    expect(ledger.endAssignmentCalls[1]?.error).toEqual({
      code: 'MaxAttemptsExhausted',
      message: 'lease lost on node node-b: HEARTBEAT timeout; all 2 attempts used',
    });
  }, TEST_TIMEOUT_MS);

  it('fails the job without re-placing it when the runner fails', async () => {
    const ledger = new FakeLedger([NODE_A, NODE_B]);
    const runs = new RunnerLog();
    const input = jobInput();
    const runnerError = ApplicationFailure.create({
      type: FailureCode.RunnerError,
      message: 'the model ran out of memory',
      nonRetryable: true,
    });

    const error = await withWorkers(
      ledger,
      runs,
      [
        [NODE_A, throws(runnerError)],
        [NODE_B, succeeds],
      ],
      async () => failureOf(await startJob(input)),
    );

    expect(error.cause).toBeInstanceOf(ApplicationFailure);
    expect(error.cause).toMatchObject({ type: FailureCode.RunnerError, nonRetryable: true });
    expect(ledger.placementCalls).toHaveLength(1);
    expect(runs.started.map((run) => run.nodeId)).toEqual(['node-a']);
    expect(ledger.endAssignmentCalls).toEqual([
      {
        jobId: input.jobId,
        attempt: 1,
        state: 'FAILED',
        reason: 'the model ran out of memory',
        jobState: 'FAILED',
        error: { code: FailureCode.RunnerError, message: 'the model ran out of memory' },
      },
    ]);
  }, TEST_TIMEOUT_MS);

  it('cancels the running attempt and ends the job CANCELLED', async () => {
    const ledger = new FakeLedger([NODE_A]);
    const runs = new RunnerLog();
    const input = jobInput();

    const { error, description } = await withWorkers(ledger, runs, [[NODE_A, heartbeatsUntilCancelled]], async () => {
      const handle = await startJob(input);
      await waitFor(async () => runs.startedOn('node-a') === 1, { timeoutMs: WAIT_MS, description: 'the runner to start' });
      await handle.cancel();
      return { error: await failureOf(handle), description: await handle.describe() };
    });

    expect(error.cause).toBeInstanceOf(CancelledFailure);
    expect(description.status.name).toBe('CANCELLED');
    expect(description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.state)).toBe('CANCELLED');
    expect(runs.cancelled.map((run) => [run.nodeId, run.attempt])).toEqual([['node-a', 1]]);
    expect(ledger.placementCalls).toHaveLength(1);
    expect(ledger.endAssignmentCalls).toEqual([
      { jobId: input.jobId, attempt: 1, state: 'CANCELLED', reason: 'cancelled by request', jobState: 'CANCELLED' },
    ]);
    expect(ledger.finishJobCalls).toEqual([]);
  }, TEST_TIMEOUT_MS);

  it('gives a preempted attempt back once when asked twice, re-queues the job with a new attempt, and does not count it against max attempts', async () => {
    const ledger = new FakeLedger([NODE_A]);
    const runs = new RunnerLog();
    const input = jobInput({ maxAttempts: 1 });
    const preemptedOnce: FakeRunner = (nodeId, log) => async (assignment) =>
      assignment.attempt === 1 ? heartbeatsUntilCancelled(nodeId, log)(assignment) : succeeds(nodeId, log)(assignment);

    const { result, status } = await withWorkers(ledger, runs, [[NODE_A, preemptedOnce]], async () => {
      const handle = await startJob(input);
      await waitFor(async () => runs.startedOn('node-a') === 1, { timeoutMs: WAIT_MS, description: 'the first attempt to start' });
      await handle.signal(preemptAssignmentSignal, { attempt: 1 });
      // Control's periodic tick sends a request again while the attempt still holds its place.
      await handle.signal(preemptAssignmentSignal, { attempt: 1 });
      const outcome = await handle.result();
      return { result: outcome, status: await handle.query(getJobStatusQuery) };
    });

    expect(result).toEqual({ state: 'SUCCEEDED', attempts: 2 });
    expect(status.preemptedAttempts).toBe(1);
    expect(runs.cancelled.map((run) => run.attempt)).toEqual([1]);
    expect(ledger.endAssignmentCalls.map(({ attempt, state, jobState }) => ({ attempt, state, jobState }))).toEqual([
      { attempt: 1, state: 'PREEMPTED', jobState: 'QUEUED' },
      { attempt: 2, state: 'SUCCEEDED', jobState: 'SUCCEEDED' },
    ]);
    expect(ledger.placementCalls.map((call) => call.attempt)).toEqual([1, 2]);
  }, TEST_TIMEOUT_MS);

  it('ends a job CANCELLED when its cancel meets the loss of its node, even on its last attempt', async () => {
    const ledger = new FakeLedger([NODE_A, NODE_B]);
    const runs = new RunnerLog();
    const input = jobInput({ maxAttempts: 1 });

    const { error, history } = await withWorkers(ledger, runs, [[NODE_A, shutsDownWhenCancelled]], async () => {
      const handle = await startJob(input);
      await waitFor(async () => runs.startedOn('node-a') === 1, { timeoutMs: WAIT_MS, description: 'the runner to start' });
      await handle.cancel();
      return { error: await failureOf(handle), history: (await handle.fetchHistory()).events ?? [] };
    });

    expect(error.cause).toBeInstanceOf(CancelledFailure);
    expect(ledger.endAssignmentCalls.map(({ attempt, state, jobState }) => ({ attempt, state, jobState }))).toEqual([
      { attempt: 1, state: 'CANCELLED', jobState: 'CANCELLED' },
    ]);
    expect(ledger.placementCalls).toHaveLength(1);
    expect(markerNames(history)).toContain('core_patch');
  }, TEST_TIMEOUT_MS);

  it('re-queues a job asked to give way whose node is lost meanwhile, without counting the attempt', async () => {
    const ledger = new FakeLedger([NODE_A]);
    const runs = new RunnerLog();
    const input = jobInput({ maxAttempts: 1 });
    const preemptedOnce: FakeRunner = (nodeId, log) => async (assignment) =>
      assignment.attempt === 1 ? shutsDownWhenCancelled(nodeId, log)(assignment) : succeeds(nodeId, log)(assignment);

    const result = await withWorkers(ledger, runs, [[NODE_A, preemptedOnce]], async () => {
      const handle = await startJob(input);
      await waitFor(async () => runs.startedOn('node-a') === 1, { timeoutMs: WAIT_MS, description: 'the first attempt to start' });
      await handle.signal(preemptAssignmentSignal, { attempt: 1 });
      return handle.result();
    });

    expect(result).toEqual({ state: 'SUCCEEDED', attempts: 2 });
    expect(ledger.endAssignmentCalls.map(({ attempt, state, jobState }) => ({ attempt, state, jobState }))).toEqual([
      { attempt: 1, state: 'PREEMPTED', jobState: 'QUEUED' },
      { attempt: 2, state: 'SUCCEEDED', jobState: 'SUCCEEDED' },
    ]);
  }, TEST_TIMEOUT_MS);

  it('ignores a preemption request for an attempt that is not the current one', async () => {
    const ledger = new FakeLedger([NODE_A]);
    const runs = new RunnerLog();
    const input = jobInput();
    let finish = false;
    // Runs until the test has seen the workflow process the stray signal, then succeeds.
    const runsUntilTold: FakeRunner = (nodeId, log) => async (assignment) => {
      log.started.push({ ...assignment, nodeId });
      const context = Context.current();
      while (!finish) {
        context.heartbeat();
        await context.sleep(100);
      }
      return { result: { slept: assignment.params.seconds } };
    };

    const result = await withWorkers(ledger, runs, [[NODE_A, runsUntilTold]], async () => {
      const handle = await startJob(input);
      await waitFor(async () => runs.startedOn('node-a') === 1, { timeoutMs: WAIT_MS, description: 'the attempt to start' });
      await handle.signal(preemptAssignmentSignal, { attempt: 7 });
      await waitFor(async () => signalSeenByWorkflow(handle, 'preemptAssignment'), { timeoutMs: WAIT_MS, description: 'the signal to be handled' });
      finish = true;
      return handle.result();
    });

    expect(result).toEqual({ state: 'SUCCEEDED', attempts: 1 });
    expect(runs.cancelled).toEqual([]);
    expect(ledger.endAssignmentCalls.map(({ state }) => state)).toEqual(['SUCCEEDED']);
  }, TEST_TIMEOUT_MS);

  // The Java test server never times out an activity whose cancellation was requested, so the wider
  // window (a dead node holding the lease when the cancel comes) cannot be staged here; the same branch
  // runs when the cancel lands while the workflow records the lost lease.
  it('does not place the job again when it is cancelled while a lost lease is being recorded', async () => {
    const ledger = new FakeLedger([NODE_A, NODE_B]);
    const runs = new RunnerLog();
    const input = jobInput();

    const error = await withWorkers(
      ledger,
      runs,
      [
        [NODE_A, hangsAfterOneHeartbeat],
        [NODE_B, succeeds],
      ],
      async () => {
        const release = ledger.holdEndAssignments();
        const handle = await startJob(input);
        await waitFor(async () => ledger.endAssignmentCalls.length === 1, {
          timeoutMs: WAIT_MS + input.leaseSeconds * 1000,
          description: 'the lost lease to be recorded',
        });
        await handle.cancel();
        await waitFor(async () => cancelSeenByWorkflow(handle), { timeoutMs: WAIT_MS, description: 'the workflow to see the cancel' });
        release();
        return failureOf(handle);
      },
    );

    expect(error.cause).toBeInstanceOf(CancelledFailure);
    expect(ledger.endAssignmentCalls[0]).toMatchObject({ attempt: 1, state: 'LOST', jobState: 'QUEUED' });
    expect(ledger.placementCalls).toEqual([{ jobId: input.jobId, attempt: 1 }]);
    expect(runs.startedOn('node-b')).toBe(0);
    // The cancelled job must end CANCELLED without a second attempt.
    expect(ledger.endAssignmentCalls.map(({ attempt, jobState }) => ({ attempt, jobState }))).toEqual([
      { attempt: 1, jobState: 'QUEUED' },
    ]);
    expect(ledger.finishJobCalls).toEqual([{ jobId: input.jobId, state: 'CANCELLED' }]);
  }, TEST_TIMEOUT_MS);

  it('finishes a job cancelled while it waits for capacity without ending any assignment', async () => {
    const ledger = new FakeLedger([NODE_A]);
    ledger.withholdCapacity();
    const runs = new RunnerLog();
    const input = jobInput();

    const error = await withWorkers(ledger, runs, [[NODE_A, succeeds]], async () => {
      const handle = await startJob(input);
      await waitFor(async () => (await handle.query(getJobStatusQuery)).pendingReason !== null, {
        timeoutMs: WAIT_MS,
        description: 'the job to wait for capacity',
      });
      await handle.cancel();
      return failureOf(handle);
    });

    expect(error.cause).toBeInstanceOf(CancelledFailure);
    expect(ledger.placementCalls).toHaveLength(1);
    expect(ledger.finishJobCalls).toEqual([{ jobId: input.jobId, state: 'CANCELLED' }]);
    expect(ledger.endAssignmentCalls).toEqual([]);
    expect(runs.started).toEqual([]);
  }, TEST_TIMEOUT_MS);

  it('waits for capacity, reports why, and places the job when capacity is signalled', async () => {
    const ledger = new FakeLedger([NODE_A]);
    ledger.withholdCapacity();
    const runs = new RunnerLog();
    const input = jobInput();

    const result = await withWorkers(ledger, runs, [[NODE_A, succeeds]], async () => {
      const handle = await startJob(input);
      const waiting = await waitFor(
        async () => {
          const status = await handle.query(getJobStatusQuery);
          return status.pendingReason ? status : undefined;
        },
        { timeoutMs: WAIT_MS, description: 'the job to report a pending reason' },
      );
      expect(waiting).toEqual({
        state: 'QUEUED',
        attempt: 1,
        pendingReason: 'insufficient_capacity',
        queuePosition: 1,
        placement: null,
        lostNodeIds: [],
        preemptedAttempts: 0,
      });

      // Half the safety-net timer: without a signal the job must not try again yet.
      await env.sleep(`${input.capacityRetrySeconds / 2}s`);
      expect((await handle.query(getJobStatusQuery)).pendingReason).toBe('insufficient_capacity');
      expect(ledger.placementCalls).toHaveLength(1);
      const { events } = await handle.fetchHistory();
      expect(events?.filter((event) => event.timerFiredEventAttributes)).toEqual([]);

      ledger.releaseCapacity();
      await handle.signal(capacityAvailableSignal);
      return handle.result();
    });

    expect(result).toEqual({ state: 'SUCCEEDED', attempts: 1 });
    expect(ledger.placementCalls).toEqual([
      { jobId: input.jobId, attempt: 1 },
      { jobId: input.jobId, attempt: 1 },
    ]);
    expect(ledger.endAssignmentCalls).toHaveLength(1);
  }, TEST_TIMEOUT_MS);

  it('places a waiting job again on the safety-net timer when no capacity signal comes', async () => {
    const ledger = new FakeLedger([NODE_A]);
    ledger.withholdCapacity();
    const runs = new RunnerLog();
    const input = jobInput();

    const { result, waitedMs } = await withWorkers(ledger, runs, [[NODE_A, succeeds]], async () => {
      const handle = await startJob(input);
      await waitFor(async () => (await handle.query(getJobStatusQuery)).pendingReason !== null, {
        timeoutMs: WAIT_MS,
        description: 'the job to wait for capacity',
      });
      const before = await env.currentTimeMs();
      ledger.releaseCapacity();
      // Awaiting the result lets the test server skip ahead to the timer.
      const outcome = await handle.result();
      return { result: outcome, waitedMs: (await env.currentTimeMs()) - before };
    });

    expect(result).toEqual({ state: 'SUCCEEDED', attempts: 1 });
    expect(ledger.placementCalls).toHaveLength(2);
    expect(waitedMs).toBeGreaterThanOrEqual(input.capacityRetrySeconds * 1000 - 1000);
  }, TEST_TIMEOUT_MS);

  it('hands the node the params artifact and carries only the result artifact id to the ledger', async () => {
    const ledger = new FakeLedger([NODE_A]);
    const runs = new RunnerLog();
    const paramsArtifactId = randomUUID();
    const resultArtifactId = randomUUID();
    const input = jobInput({ params: {}, paramsArtifactId });

    const result = await withWorkers(ledger, runs, [[NODE_A, uploadsResult(resultArtifactId)]], async () => (await startJob(input)).result());

    expect(result).toEqual({ state: 'SUCCEEDED', attempts: 1 });
    expect(runs.started).toHaveLength(1);
    expect(runs.started[0].params).toEqual({});
    expect(runs.started[0].paramsArtifactId).toBe(paramsArtifactId);
    expect(ledger.endAssignmentCalls).toEqual([
      { jobId: input.jobId, attempt: 1, state: 'SUCCEEDED', jobState: 'SUCCEEDED', resultArtifactId },
    ]);
  }, TEST_TIMEOUT_MS);

  // The Java test server never gives back the time-skipping lock of an activity cancelled before a worker picked it up
  // (TestWorkflowMutableStateImpl.processRequestCancelActivityTask): time would stop skipping for every later test.
  describe('withdrawn from a gone node (ADR 0038), on a test server of their own', () => {
    let shared: TestWorkflowEnvironment;

    beforeAll(async () => {
      shared = env;
      env = await createTimeSkippingEnv();
    }, 60_000);

    afterAll(async () => {
      await env.teardown();
      env = shared;
    });

    it('withdraws an attempt its gone node never picked up when control says so, and places the job again at once (ADR 0038)', async () => {
      const ledger = new FakeLedger([NODE_GONE, NODE_B]);
      const runs = new RunnerLog();
      // Without the withdrawal the attempt would wait out schedule-to-start, which the test server does not skip.
      const input = jobInput({ scheduleToStartSeconds: 600 });

      const { result, status } = await withWorkers(ledger, runs, [[NODE_B, succeeds]], async () => {
        const handle = await startJob(input);
        await waitFor(async () => (await handle.query(getJobStatusQuery)).placement?.nodeId === NODE_GONE.nodeId, {
          timeoutMs: WAIT_MS,
          description: 'attempt 1 to be dispatched to the gone node',
        });
        // Control sends it at every pass while the attempt stays PLACED: a repeat changes nothing.
        await handle.signal(nodeGoneSignal, { attempt: 1 });
        await handle.signal(nodeGoneSignal, { attempt: 1 });
        const outcome = await handle.result();
        return { result: outcome, status: await handle.query(getJobStatusQuery) };
      });

      expect(result).toEqual({ state: 'SUCCEEDED', attempts: 2 });
      expect(status.lostNodeIds).toEqual([NODE_GONE.nodeId]);
      expect(ledger.endAssignmentCalls.map(({ attempt, state, reason, lossCause, jobState }) => ({ attempt, state, reason, lossCause, jobState }))).toEqual([
        { attempt: 1, state: 'LOST', reason: 'lease lost on node node-gone: the node was gone before it started the attempt', lossCause: 'node_gone', jobState: 'QUEUED' },
        { attempt: 2, state: 'SUCCEEDED', reason: undefined, lossCause: undefined, jobState: 'SUCCEEDED' },
      ]);
      expect(runs.started.map((run) => [run.nodeId, run.attempt])).toEqual([['node-b', 2]]);
    }, TEST_TIMEOUT_MS);

    it('withdraws an attempt placed before the start in the task that would dispatch it, and ignores a withdrawal of another attempt', async () => {
      const ledger = new FakeLedger([NODE_GONE, NODE_B]);
      const runs = new RunnerLog();
      const input = jobInput({ scheduleToStartSeconds: 600 });
      input.placement = ledger.placeBeforeStart(input.jobId);

      const result = await withWorkers(ledger, runs, [[NODE_B, heartbeatsUntilCancelled]], async () => {
        // The signal comes with the start, as when control's pass finds the placement before the workflow's first task.
        const handle = await env.client.workflow.signalWithStart(jobWorkflow, {
          taskQueue: CONTROL_TASK_QUEUE,
          workflowId: jobWorkflowId(input.jobId),
          args: [input],
          memo: { request_id: `request-${input.jobId}`, tenant: input.tenantId },
          typedSearchAttributes: startSearchAttributes(input, input.placement),
          signal: nodeGoneSignal,
          signalArgs: [{ attempt: 1 }],
        });
        started.push(handle);
        await waitFor(async () => runs.startedOn('node-b') === 1, { timeoutMs: WAIT_MS, description: 'attempt 2 to start on node-b' });
        // A late repeat for attempt 1 must not touch attempt 2.
        await handle.signal(nodeGoneSignal, { attempt: 1 });
        await waitFor(async () => signalSeenByWorkflow(handle, 'nodeGone'), { timeoutMs: WAIT_MS, description: 'the repeat to be seen' });
        expect(runs.cancelled).toEqual([]);
        await handle.cancel();
        return failureOf(handle);
      });

      expect(result.cause).toBeInstanceOf(CancelledFailure);
      expect(ledger.endAssignmentCalls.map(({ attempt, state, lossCause, jobState }) => ({ attempt, state, lossCause, jobState }))).toEqual([
        { attempt: 1, state: 'LOST', lossCause: 'node_gone', jobState: 'QUEUED' },
        { attempt: 2, state: 'CANCELLED', lossCause: undefined, jobState: 'CANCELLED' },
      ]);
      expect(runs.started.map((run) => [run.nodeId, run.attempt])).toEqual([['node-b', 2]]);
    }, TEST_TIMEOUT_MS);

    it('ends a job CANCELLED when its cancel meets the withdrawal of its attempt', async () => {
      const ledger = new FakeLedger([NODE_GONE, NODE_B]);
      const runs = new RunnerLog();
      const input = jobInput({ scheduleToStartSeconds: 600 });
      input.placement = ledger.placeBeforeStart(input.jobId);

      const error = await withWorkers(ledger, runs, [], async () => {
        const handle = await startJob(input);
        await waitFor(async () => (await handle.query(getJobStatusQuery)).state === 'RUNNING', { timeoutMs: WAIT_MS, description: 'attempt 1 to be dispatched' });
        await handle.cancel();
        await handle.signal(nodeGoneSignal, { attempt: 1 });
        return failureOf(handle);
      });

      expect(error.cause).toBeInstanceOf(CancelledFailure);
      expect(ledger.endAssignmentCalls.map(({ attempt, state, jobState }) => ({ attempt, state, jobState }))).toEqual([
        { attempt: 1, state: 'CANCELLED', jobState: 'CANCELLED' },
      ]);
      expect(ledger.placementCalls).toEqual([]);
    }, TEST_TIMEOUT_MS);
  });

  it('keeps a job that succeeds first time to 20 history events: ledger calls are markers, not tasks', async () => {
    const ledger = new FakeLedger([NODE_A]);
    const runs = new RunnerLog();
    const input = jobInput();

    const events = await withWorkers(ledger, runs, [[NODE_A, succeeds]], async () => {
      const handle = await startJob(input);
      await handle.result();
      return (await handle.fetchHistory()).events ?? [];
    });

    expect(ledger.calls).toEqual(['awaitPlacement', 'endAssignment']);
    const scheduled = events.flatMap((event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    expect(scheduled).toEqual(['runAssignment']);
    // One marker per ledger call; the workflow version in the input stands in for a patch marker (ADR 0029).
    expect(markerNames(events)).toEqual(['core_local_activity', 'core_local_activity']);
    expect(events.length).toBe(15);
  }, TEST_TIMEOUT_MS);

  it('dispatches attempt 1 in its first task when the input carries its placement: one ledger call, 13 history events (ADR 0031)', async () => {
    const ledger = new FakeLedger([NODE_A]);
    const runs = new RunnerLog();
    const input = jobInput();
    input.placement = ledger.placeBeforeStart(input.jobId);

    const { status, result, events, description } = await withWorkers(ledger, runs, [[NODE_A, succeeds]], async () => {
      const handle = await startJob(input);
      const result = await handle.result();
      const status = await handle.query(getJobStatusQuery);
      return { status, result, events: (await handle.fetchHistory()).events ?? [], description: await handle.describe() };
    });

    expect(status).toMatchObject({ state: 'SUCCEEDED', attempt: 1, placement: input.placement, pendingReason: null });
    expect(result).toEqual({ state: 'SUCCEEDED', attempts: 1 });
    expect(runs.started.map((run) => [run.nodeId, run.assignmentId, run.attempt])).toEqual([['node-a', `assignment-${input.jobId}-1`, 1]]);
    expect(ledger.calls).toEqual(['endAssignment']);
    // The first workflow task schedules the attempt and nothing else: no marker, no search-attribute upsert (the start
    // set RUNNING, the group and the node).
    const scheduledAt = events.findIndex((event) => event.activityTaskScheduledEventAttributes);
    const beforeDispatch = events.slice(0, scheduledAt);
    expect(beforeDispatch.filter((event) => event.markerRecordedEventAttributes || event.upsertWorkflowSearchAttributesEventAttributes)).toEqual([]);
    expect(markerNames(events)).toEqual(['core_local_activity']);
    expect(events.length).toBe(13);
    const attributes = description.typedSearchAttributes;
    expect([attributes.get(SEARCH_ATTRIBUTES.state), attributes.get(SEARCH_ATTRIBUTES.workerGroup), attributes.get(SEARCH_ATTRIBUTES.node)]).toEqual(['SUCCEEDED', 'cpu', 'node-a']);
  }, TEST_TIMEOUT_MS);

  it('ends a job cancelled before its first placement was dispatched CANCELLED, releasing that placement', async () => {
    const ledger = new FakeLedger([NODE_GONE]);
    const runs = new RunnerLog();
    const input = jobInput();
    input.placement = ledger.placeBeforeStart(input.jobId);

    // No worker polls the placed node's queue, so the attempt never starts.
    const { error } = await withWorkers(ledger, runs, [], async () => {
      const handle = await startJob(input);
      await handle.cancel();
      return { error: await failureOf(handle) };
    });

    expect(error.cause).toBeInstanceOf(CancelledFailure);
    expect(runs.started).toEqual([]);
    expect(ledger.placementCalls).toEqual([]);
    // Whether the cancel reached the workflow before or after it dispatched the attempt, the placement is released once.
    const releases = [
      ...ledger.endAssignmentCalls.map((end) => `endAssignment ${end.attempt} ${end.state} ${end.jobState}`),
      ...ledger.finishJobCalls.map((finish) => `finishJob ${finish.state}`),
    ];
    expect(releases).toHaveLength(1);
    expect(['endAssignment 1 CANCELLED CANCELLED', 'finishJob CANCELLED']).toContain(releases[0]);
  }, TEST_TIMEOUT_MS);

  it('asks the ledger-in-workflow-task patch in a workflow started without a version (before ADR 0029), and runs the same shape', async () => {
    const ledger = new FakeLedger([NODE_A]);
    const runs = new RunnerLog();
    const input = jobInput({ workflowVersion: undefined });

    const events = await withWorkers(ledger, runs, [[NODE_A, succeeds]], async () => {
      const handle = await startJob(input);
      await handle.result();
      return (await handle.fetchHistory()).events ?? [];
    });

    expect(ledger.calls).toEqual(['awaitPlacement', 'endAssignment']);
    expect(markerNames(events)).toEqual(['core_patch', 'core_local_activity', 'core_local_activity']);
    expect(events.length).toBe(17);
  }, TEST_TIMEOUT_MS);

  it('leaves a workflow of a newer version than it knows to a newer worker: its task fails, nothing runs (ADR 0052)', async () => {
    const ledger = new FakeLedger([NODE_A]);
    const runs = new RunnerLog();
    const input = jobInput({ workflowVersion: JOB_WORKFLOW_VERSION + 1 });
    input.placement = ledger.placeBeforeStart(input.jobId);

    const { failure, status } = await withWorkers(ledger, runs, [[NODE_A, succeeds]], async () => {
      const handle = await startJob(input);
      const failed = await waitFor(
        async () => {
          const events = (await handle.fetchHistory()).events ?? [];
          return events.find((event) => event.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes ?? undefined;
        },
        { timeoutMs: WAIT_MS, description: 'a failed workflow task' },
      );
      return { failure: failed.failure?.message, status: (await handle.describe()).status.name };
    });

    expect(failure).toBe(`job workflow version ${JOB_WORKFLOW_VERSION + 1} is newer than this worker's ${JOB_WORKFLOW_VERSION}: left to a newer worker`);
    expect(status).toBe('RUNNING');
    expect(runs.started).toEqual([]);
    expect(ledger.calls).toEqual([]);
  }, TEST_TIMEOUT_MS);

  it('runs the tracing interceptors only in a workflow whose submission was traced (its memo says so)', async () => {
    const ledger = new FakeLedger([NODE_A]);
    const runs = new RunnerLog();
    const spans = new ExportedSpans();
    const untraced = jobInput();
    const traced = jobInput();

    await withWorkers(
      ledger,
      runs,
      [[NODE_A, succeeds]],
      async () => {
        await (await startJob(untraced)).result();
        expect(spans.names).toEqual([]);
        await (await startJob(traced, { tenant: traced.tenantId, traced: true })).result();
      },
      spans,
    );

    expect(runs.started.map((run) => run.jobId)).toEqual([untraced.jobId, traced.jobId]);
    expect(spans.names).toEqual(
      expect.arrayContaining(['RunWorkflow:jobWorkflow', 'StartActivity:awaitPlacement', 'StartActivity:runAssignment', 'StartActivity:endAssignment']),
    );
  }, TEST_TIMEOUT_MS);
});
