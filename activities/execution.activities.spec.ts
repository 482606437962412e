import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { FailureCode, PAYLOAD_ENVELOPE_BYTES, type AssignmentOutput, type RunAssignmentInput } from '@mlis/contracts';
import { loadModelConfig } from '@mlis/config';
import { ModelHost } from '@mlis/models';
import { AssignmentNotLiveError, createRunners, type ArtifactReader, type LocalArtifact, type RunContext, type Runner } from '@mlis/runners';
import { createExecutionActivities, StartReportRefusedError, type NodeArtifactAccess } from './execution.activities';

const INLINE_MAX_BYTES = 4096;

/** Artifacts as the node would see them through the API: files by id, and the uploads it made. */
class FakeNodeArtifacts implements NodeArtifactAccess {
  readonly files = new Map<string, LocalArtifact>();
  readonly uploads: { assignmentId: string; body: string; contentType: string; name: string }[] = [];
  readonly readers: string[] = [];
  /** The API answers every read and upload with 409 assignment_not_live, as to a node fenced off its assignment. */
  fenced = false;
  /** The API cannot be reached: a read keeps asking until its signal aborts, as NodeArtifacts' reads do. */
  unreachable = false;

  reader(assignmentId: string): ArtifactReader {
    this.readers.push(assignmentId);
    return {
      open: async (ref, signal) => {
        if (this.unreachable) {
          return new Promise<never>((_resolve, reject) => signal?.addEventListener('abort', () => reject(new Error(`${ref}: fetch failed: aborted`))));
        }
        if (this.fenced) throw new AssignmentNotLiveError(`${ref}: HTTP 409 assignment_not_live`);
        const found = this.files.get(ref);
        if (!found) throw new Error(`${ref}: HTTP 404 artifact_not_found`);
        return found;
      },
    };
  }

  async upload(assignmentId: string, body: Buffer, contentType: string, name: string): Promise<string> {
    if (this.fenced) throw new AssignmentNotLiveError(`uploading ${name}: HTTP 409 assignment_not_live`);
    this.uploads.push({ assignmentId, body: body.toString('utf8'), contentType, name });
    return '33333333-3333-4333-8333-333333333333';
  }
}

const RUNNERS = createRunners({ models: new ModelHost(loadModelConfig()) });

function assignment(overrides: Partial<RunAssignmentInput> = {}): RunAssignmentInput {
  return {
    jobId: '11111111-1111-4111-8111-111111111111',
    assignmentId: '22222222-2222-4222-8222-222222222222',
    attempt: 1,
    taskType: 'sleep',
    params: { seconds: 0.05 },
    gpuIds: [],
    ...overrides,
  };
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
}

/** Every start reported at once unless a test gives the report a delay (ADR 0030). */
function setup(runners: ReadonlyMap<string, Runner> = RUNNERS, reportStarted = jest.fn(async () => undefined), startReportDelayMs = 0) {
  // Quiet: the SDK logs every failed activity, and failing is what half of these tests do.
  const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (details: unknown) => heartbeats.push(details));
  const lines: string[] = [];
  const artifacts = new FakeNodeArtifacts();
  const completions: unknown[] = [];
  const activities = createExecutionActivities({
    runners,
    artifacts,
    inlinePayloadMaxBytes: INLINE_MAX_BYTES,
    reportStarted,
    startReportDelayMs,
    log: (line) => lines.push(line),
    recordCompletion: (done) => completions.push(done),
  });
  const run = (input: RunAssignmentInput) => env.run(activities.runAssignment, input);
  return { env, heartbeats, lines, reportStarted, run, artifacts, completions };
}

/** A runner whose run() is supplied by the test. */
function fakeRunner(run: Runner['run']): ReadonlyMap<string, Runner> {
  return new Map([['fake', { taskType: 'fake', description: 'test', validate: (p: unknown) => p, run }]]);
}

describe('createExecutionActivities', () => {
  it('runs the runner and signals the start; an attempt that ends within the first beat sends no heartbeat (ADR 0045)', async () => {
    const { run, heartbeats, reportStarted, lines, completions } = setup();
    await expect(run(assignment())).resolves.toEqual({ result: { slept: 0.05 } });
    expect(heartbeats).toEqual([]);
    // One record per completed execution, for tests that count effects.
    expect(completions).toEqual([{ jobId: assignment().jobId, attempt: 1, assignmentId: assignment().assignmentId }]);
    expect(reportStarted).toHaveBeenCalledWith({ assignmentId: assignment().assignmentId, runningForMs: expect.any(Number) });
    expect(lines[0]).toMatch(/^job 1111.* attempt 1 \(sleep\) started/);
    expect(lines[1]).toMatch(/succeeded/);
  });

  it('passes the assigned GPU ids to the runner', async () => {
    const { run } = setup();
    const result = await run(assignment({ taskType: 'gpu_demo', params: { seconds: 0, matrix_size: 4 }, gpuIds: [1] }));
    expect(result).toMatchObject({ result: { gpu_ids: [1], cuda_visible_devices: '1' } });
  });

  it('still runs when reporting the start fails, and hands its run time to the end write instead', async () => {
    const { run, lines } = setup(RUNNERS, jest.fn(async () => Promise.reject(new Error('api down'))));
    const output = (await run(assignment())) as AssignmentOutput;
    expect(output).toEqual({ result: { slept: 0.05 }, ranMs: expect.any(Number) });
    expect(output.ranMs).toBeGreaterThanOrEqual(45);
    expect(lines.some((line) => line.includes('could not report the start, sending it again until it is taken: api down'))).toBe(true);
  });

  describe('with the start report delayed (ADR 0030)', () => {
    it('reports no start for an attempt that succeeds within the delay, and hands back its run time', async () => {
      const { run, reportStarted } = setup(RUNNERS, undefined, 60_000);
      const output = (await run(assignment())) as AssignmentOutput;
      expect(output).toEqual({ result: { slept: 0.05 }, ranMs: expect.any(Number) });
      expect(output.ranMs).toBeGreaterThanOrEqual(45);
      expect(reportStarted).not.toHaveBeenCalled();
    });

    it('reports the start of an attempt that outlives the delay, with how long it has run, and no run time after', async () => {
      const { run, reportStarted } = setup(RUNNERS, undefined, 20);
      await expect(run(assignment({ params: { seconds: 0.2 } }))).resolves.toEqual({ result: { slept: 0.2 } });
      expect(reportStarted).toHaveBeenCalledTimes(1);
      const [[report]] = reportStarted.mock.calls as unknown as [[{ assignmentId: string; runningForMs: number }]];
      expect(report.assignmentId).toBe(assignment().assignmentId);
      // Node's timers run on libuv's millisecond loop clock: a 20 ms timer can fire 19.x ms later by performance.now().
      expect(report.runningForMs).toBeGreaterThanOrEqual(19);
      expect(report.runningForMs).toBeLessThan(200);
    });

    it('waits for a report in flight when the attempt succeeds, so the start is on record before the end', async () => {
      let accept: () => void = () => undefined;
      const reportStarted = jest.fn(() => new Promise<undefined>((resolve) => (accept = () => resolve(undefined))));
      const { run, completions } = setup(RUNNERS, reportStarted, 10);
      let settled = false;
      const running = run(assignment()).finally(() => (settled = true));
      await until('the start report', () => (reportStarted.mock.calls.length > 0 ? true : undefined));
      await until('the runner to complete', () => (completions.length > 0 ? true : undefined));
      await new Promise((resolve) => setImmediate(resolve));
      expect(settled).toBe(false);
      accept();
      await expect(running).resolves.toEqual({ result: { slept: 0.05 } });
    });

    it('sends a report the API could not take again until it is taken, so the attempt does not look undispatched', async () => {
      const reportStarted = jest.fn().mockRejectedValueOnce(new Error('api restarting')).mockResolvedValue(undefined);
      const { run } = setup(RUNNERS, reportStarted, 10);
      // Past the first retry (1 s): the second report is taken, so the end write needs no run time.
      await expect(run(assignment({ params: { seconds: 1.3 } }))).resolves.toEqual({ result: { slept: 1.3 } });
      expect(reportStarted).toHaveBeenCalledTimes(2);
    });

    it('sends a report the API could not take once more before an attempt that failed ends, never one it refused', async () => {
      const failing = fakeRunner(async (_params, context) => {
        await context.sleep(50);
        throw new Error('model exploded');
      });
      const unreachable = jest.fn(async () => Promise.reject(new Error('api down')));
      const down = setup(failing, unreachable, 10);
      expect((await failureOf(down.run(assignment({ taskType: 'fake' })))).message).toBe('model exploded');
      expect(unreachable).toHaveBeenCalledTimes(2);

      const refusing = jest.fn(async () => Promise.reject(new StartReportRefusedError('HTTP 409 assignment_not_live')));
      const refused = setup(failing, refusing, 10);
      expect((await failureOf(refused.run(assignment({ taskType: 'fake' })))).message).toBe('model exploded');
      expect(refusing).toHaveBeenCalledTimes(1);
      expect(refused.lines.some((line) => line.includes('start report refused: HTTP 409 assignment_not_live'))).toBe(true);
    });

    it('reports the start of an attempt that fails within the delay before failing it', async () => {
      const { run, reportStarted } = setup(fakeRunner(async () => Promise.reject(new Error('model exploded'))), undefined, 60_000);
      expect((await failureOf(run(assignment({ taskType: 'fake' })))).message).toBe('model exploded');
      expect(reportStarted).toHaveBeenCalledTimes(1);
    });
  });

  it('returns a result that fits a payload with its envelope inline and uploads a larger one, returning only its artifact id', async () => {
    // JSON.stringify of a string adds its two quotes.
    const atLimit = 'x'.repeat(INLINE_MAX_BYTES - PAYLOAD_ENVELOPE_BYTES - 2);
    const small = setup(fakeRunner(async () => atLimit));
    await expect(small.run(assignment({ taskType: 'fake' }))).resolves.toEqual({ result: atLimit });
    expect(small.artifacts.uploads).toEqual([]);

    const overLimit = setup(fakeRunner(async () => `${atLimit}x`));
    await expect(overLimit.run(assignment({ taskType: 'fake' }))).resolves.toEqual({ resultArtifactId: '33333333-3333-4333-8333-333333333333' });

    const large = { rows: Array.from({ length: 400 }, (_, i) => ({ i, text: 'embedding' })) };
    const big = setup(fakeRunner(async () => large));
    await expect(big.run(assignment({ taskType: 'fake' }))).resolves.toEqual({ resultArtifactId: '33333333-3333-4333-8333-333333333333' });
    expect(big.artifacts.uploads).toEqual([
      {
        assignmentId: assignment().assignmentId,
        body: JSON.stringify(large),
        contentType: 'application/json',
        name: `result-${assignment().jobId}.json`,
      },
    ]);
    expect(big.lines[1]).toMatch(/succeeded .* \(result in artifact 3333/);
  });

  it('reads offloaded params from their artifact and gives the runner a reader for its own assignment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlis-exec-'));
    try {
      const paramsArtifactId = '44444444-4444-4444-8444-444444444444';
      const path = join(dir, 'params.json');
      writeFileSync(path, JSON.stringify({ seconds: 0.01, note: 'y'.repeat(2000) }));
      let seen: unknown;
      let opened: LocalArtifact | undefined;
      const { run, artifacts } = setup(
        fakeRunner(async (params, context) => {
          seen = params;
          opened = await context.artifacts.open(`artifact://${paramsArtifactId}`);
          return 'done';
        }),
      );
      const local: LocalArtifact = { id: paramsArtifactId, path, sha256: 'a'.repeat(64), sizeBytes: 2030, contentType: 'application/json' };
      artifacts.files.set(`artifact://${paramsArtifactId}`, local);

      await expect(run(assignment({ taskType: 'fake', params: {}, paramsArtifactId }))).resolves.toEqual({ result: 'done' });
      expect(seen).toEqual({ seconds: 0.01, note: 'y'.repeat(2000) });
      expect(opened).toEqual(local);
      expect(artifacts.readers).toEqual([assignment().assignmentId]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails the attempt as a RunnerError when its params artifact cannot be read', async () => {
    const { run, reportStarted } = setup();
    const failure = await failureOf(run(assignment({ params: {}, paramsArtifactId: '55555555-5555-4555-8555-555555555555' })));
    expect(failure.type).toBe(FailureCode.RunnerError);
    expect(failure.message).toMatch(/artifact_not_found/);
    expect(reportStarted).not.toHaveBeenCalled();
  });

  describe('while it reads offloaded params from an API it cannot reach', () => {
    const waitingForParams = () => {
      const waiting = setup();
      waiting.artifacts.unreachable = true;
      const running = waiting.run(assignment({ params: {}, paramsArtifactId: '55555555-5555-4555-8555-555555555555' }));
      return { ...waiting, running };
    };

    it('keeps the lease with heartbeats, and a cancellation (the job\'s, or the lease\'s timeout) ends it as cancelled', async () => {
      const { env, heartbeats, lines, running, reportStarted } = waitingForParams();
      await until('a heartbeat while the params are read', () => (heartbeats.length > 0 ? true : undefined));
      env.cancel('TIMED_OUT');
      await expect(running).rejects.toBeInstanceOf(CancelledFailure);
      expect(lines).toEqual([expect.stringMatching(/attempt 1 \(sleep\) cancelled \(TIMED_OUT\)/)]);
      expect(reportStarted).not.toHaveBeenCalled();
    });

    it('hands the attempt back with NodeShutdown when the node shuts down, instead of failing the job', async () => {
      const { env, heartbeats, lines, running } = waitingForParams();
      await until('a heartbeat while the params are read', () => (heartbeats.length > 0 ? true : undefined));
      env.cancel('WORKER_SHUTDOWN');
      await expect(running).rejects.toMatchObject({ type: FailureCode.NodeShutdown, nonRetryable: true });
      expect(lines).toEqual([expect.stringMatching(/attempt 1 \(sleep\) handed back: node shutting down/)]);
    });
  });

  it('gives the attempt up as AssignmentNotLive when the API says the node was fenced off it, wherever it reads or writes', async () => {
    // Reading offloaded params, before the runner starts.
    const beforeRun = setup();
    beforeRun.artifacts.fenced = true;
    const params = await failureOf(beforeRun.run(assignment({ params: {}, paramsArtifactId: '55555555-5555-4555-8555-555555555555' })));
    expect(params).toMatchObject({ type: FailureCode.AssignmentNotLive, nonRetryable: true, message: expect.stringContaining('assignment_not_live') });
    expect(beforeRun.lines).toEqual([expect.stringMatching(/attempt 1 \(sleep\) given up: .*assignment_not_live/)]);

    // A runner reading an input while it runs.
    const reading = setup(fakeRunner(async (_params, context) => context.artifacts.open('artifact://66666666-6666-4666-8666-666666666666')));
    reading.artifacts.fenced = true;
    expect(await failureOf(reading.run(assignment({ taskType: 'fake' })))).toMatchObject({ type: FailureCode.AssignmentNotLive });

    // Uploading a result too large to travel inline.
    const uploading = setup(fakeRunner(async () => 'z'.repeat(2 * INLINE_MAX_BYTES)));
    uploading.artifacts.fenced = true;
    expect(await failureOf(uploading.run(assignment({ taskType: 'fake' })))).toMatchObject({ type: FailureCode.AssignmentNotLive });
    expect(uploading.lines.at(-1)).toMatch(/given up: uploading result-.*assignment_not_live/);
  });

  it('fails unknown task types and invalid params as non-retryable, with their type codes', async () => {
    const { run, reportStarted } = setup();
    const unknown = await failureOf(run(assignment({ taskType: 'nope' })));
    expect(unknown).toMatchObject({ type: FailureCode.UnknownTaskType, nonRetryable: true });

    const invalid = await failureOf(run(assignment({ params: { seconds: 'soon' } })));
    expect(invalid).toMatchObject({ type: FailureCode.InvalidParams, nonRetryable: true });
    expect(invalid.details).toEqual([[{ field: 'params.seconds', problem: 'must be a number' }]]);
    expect(reportStarted).not.toHaveBeenCalled();
  });

  it('turns a runner error into a non-retryable RunnerError carrying its message', async () => {
    const { run, completions } = setup(fakeRunner(async () => Promise.reject(new Error('model exploded'))));
    const failure = await failureOf(run(assignment({ taskType: 'fake' })));
    expect(failure).toMatchObject({ type: FailureCode.RunnerError, nonRetryable: true, message: 'model exploded' });
    expect(completions).toEqual([]);
  });

  it('heartbeats every second while a runner is busy, with the details the runner gave last', async () => {
    let resolveRun: (value: string) => void = () => undefined;
    let context: RunContext | undefined;
    const { run, heartbeats } = setup(
      fakeRunner((_params, runContext) => {
        context = runContext;
        return new Promise((resolve) => (resolveRun = resolve));
      }),
    );
    const startedAt = Date.now();
    const running = run(assignment({ taskType: 'fake' }));
    await until('the first beat', () => (heartbeats.length >= 1 ? true : undefined), 3000);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(900);
    expect(heartbeats).toEqual([{ phase: 'started' }]);
    // A runner's heartbeat is not sent by itself: the next beat carries it.
    context!.heartbeat({ step: 1 });
    expect(heartbeats).toHaveLength(1);
    await until('the second beat', () => (heartbeats.length >= 2 ? true : undefined), 3000);
    expect(heartbeats[1]).toEqual({ step: 1 });
    resolveRun('done');
    await expect(running).resolves.toEqual({ result: 'done' });
  });

  it('propagates cancellation as CancelledFailure promptly', async () => {
    const { env, run, heartbeats } = setup();
    const running = run(assignment({ params: { seconds: 60 } }));
    await until('the first heartbeat', () => (heartbeats.length > 0 ? true : undefined));
    const cancelledAt = Date.now();
    env.cancel();
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    expect(Date.now() - cancelledAt).toBeLessThan(1000);
  });

  it('ends the attempt on cancellation even when the runner ignores its signal', async () => {
    let started = false;
    const { env, run } = setup(
      fakeRunner(() => {
        started = true;
        return new Promise(() => undefined);
      }),
    );
    const running = run(assignment({ taskType: 'fake' }));
    await until('the runner to start', () => (started ? true : undefined));
    env.cancel();
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
  });

  it('hands the attempt back with NodeShutdown when the node shuts down, so the job is placed elsewhere at once', async () => {
    let started = false;
    let aborted = false;
    const runner = fakeRunner(
      (_params, context) =>
        new Promise((_resolve, reject) => {
          started = true;
          context.signal.addEventListener('abort', () => {
            aborted = true;
            reject(context.signal.reason);
          });
        }),
    );
    const { env, run, lines } = setup(runner);
    const running = run(assignment({ taskType: 'fake' }));
    await until('the runner to start', () => (started ? true : undefined));
    env.cancel('WORKER_SHUTDOWN');
    await expect(running).rejects.toMatchObject({ type: FailureCode.NodeShutdown, nonRetryable: true });
    expect(aborted).toBe(true);
    expect(lines.some((line) => line.includes('handed back: node shutting down'))).toBe(true);
  });
});
