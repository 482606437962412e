import { readFile } from 'node:fs/promises';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { artifactRef, FailureCode, travelsAsArtifact, type AssignmentOutput, type RunAssignmentInput } from '@mlis/contracts';
import { AssignmentNotLiveError, InvalidParamsError, type ArtifactReader, type RunContext, type Runner } from '@mlis/runners';

/**
 * Below any lease we configure (>= 2 s); the SDK throttles what actually reaches the server. The only heartbeats an
 * attempt sends are this beat's: an attempt that ends within the first one sends none (ADR 0045).
 */
const HEARTBEAT_INTERVAL_MS = 1000;

/** The node's access to the artifacts API, on behalf of one assignment at a time. */
export interface NodeArtifactAccess {
  reader(assignmentId: string): ArtifactReader;
  /** Uploads bytes as an artifact linked to the assignment's job as its result; returns the artifact id. */
  upload(assignmentId: string, body: Buffer, contentType: string, name: string, signal?: AbortSignal): Promise<string>;
}

export interface ExecutionActivityDeps {
  runners: ReadonlyMap<string, Runner>;
  artifacts: NodeArtifactAccess;
  /** A result too large for a payload of this size (travelsAsArtifact) is uploaded; only its id goes back to the workflow. */
  inlinePayloadMaxBytes: number;
  /**
   * Marks this attempt RUNNING in the ledger through the API (ADR 0018), saying how long it has run; best effort: the
   * lease, not this, keeps it alive.
   */
  reportStarted: (input: { assignmentId: string; runningForMs: number }) => Promise<void>;
  /**
   * How long an attempt runs before its start is reported (ADR 0030). One that succeeds sooner is never reported: its
   * output carries its run time, and the write that ends it records its start. 0: report every start at once.
   */
  startReportDelayMs: number;
  /** One line per assignment start and end; defaults to the activity logger. */
  log?: (line: string) => void;
  /** Called once per runner execution that completed, before its result is reported (MLIS_NODE_EXECUTION_LOG). */
  recordCompletion?: (input: { jobId: string; attempt: number; assignmentId: string }) => void;
}

function invalidParams(error: InvalidParamsError): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureCode.InvalidParams,
    message: error.message,
    nonRetryable: true,
    details: [error.details],
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The API refused an attempt's start report for good: the attempt is not PLACED on this node incarnation any more. */
export class StartReportRefusedError extends Error {
  override name = 'StartReportRefusedError';
}

/** A start report the API could not take (down, restarting) is sent again, 1 s later, then twice as long each time. */
const START_REPORT_RETRY_FIRST_MS = 1000;
const START_REPORT_RETRY_MAX_MS = 30_000;

/**
 * One attempt's start report (ADR 0030): sent once the attempt has run for `delayMs`, and again until the API takes or
 * refuses it, or the attempt ends; when it ends in any way but success, once more before its end. Left unreported, a
 * running attempt looks never dispatched to control's stale-placement check. A success before the report was taken
 * hands its run time to the end write instead.
 */
function startReport(send: (runningForMs: number) => Promise<void>, delayMs: number, warn: (line: string) => void) {
  const startedAt = performance.now();
  const runningForMs = (): number => Math.round(performance.now() - startedAt);
  let answer: 'accepted' | 'refused' | undefined;
  let ended = false;
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let retryMs = START_REPORT_RETRY_FIRST_MS;
  const sendNow = (): Promise<void> =>
    (inFlight ??= send(runningForMs())
      .then(
        () => {
          answer = 'accepted';
        },
        (error: unknown) => {
          if (error instanceof StartReportRefusedError) {
            answer = 'refused';
            warn(`start report refused: ${describe(error)}`);
            return;
          }
          if (retryMs === START_REPORT_RETRY_FIRST_MS) warn(`could not report the start, sending it again until it is taken: ${describe(error)}`);
          if (ended) return;
          timer = setTimeout(() => void sendNow(), retryMs);
          retryMs = Math.min(retryMs * 2, START_REPORT_RETRY_MAX_MS);
        },
      )
      .finally(() => {
        inFlight = undefined;
      }));
  const stop = async (): Promise<void> => {
    ended = true;
    clearTimeout(timer);
    await inFlight;
  };
  if (delayMs > 0) timer = setTimeout(() => void sendNow(), delayMs);
  else void sendNow();
  return {
    runningForMs,
    /** The attempt succeeded: the run time for its end write, unless the ledger took the report (awaited if in flight). */
    async succeeded(): Promise<number | undefined> {
      await stop();
      return answer === 'accepted' ? undefined : runningForMs();
    },
    /** The attempt ended otherwise: its start goes on record before its end. */
    async endedOtherwise(): Promise<void> {
      await stop();
      if (answer === undefined) await sendNow();
    },
  };
}

/** A RunContext over the current activity: heartbeat details for the beat to send, its abort signal, a cancellable sleep. */
function runContext(context: Context, input: RunAssignmentInput, artifacts: ArtifactReader): RunContext & { lastDetails(): unknown } {
  const signal = context.cancellationSignal;
  let details: unknown;
  // runAssignment's beat sends the latest details: a runner's heartbeat is never a call to the server of its own.
  const heartbeat = (next?: unknown): void => {
    if (next !== undefined) details = next;
  };
  // The beat keeps the lease while this waits.
  const sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  return {
    jobId: input.jobId,
    attempt: input.attempt,
    gpuIds: [...input.gpuIds],
    heartbeat,
    signal,
    sleep,
    artifacts,
    lastDetails: () => details,
  };
}

/** Execution activities run on a node's own task queue; the heartbeat timeout is the assignment's lease. */
export function createExecutionActivities({
  runners,
  artifacts,
  inlinePayloadMaxBytes,
  reportStarted,
  startReportDelayMs,
  log,
  recordCompletion,
}: ExecutionActivityDeps) {
  /** Params that were too large to travel inline come from their artifact. */
  const paramsOf = async (input: RunAssignmentInput, reader: ArtifactReader, signal: AbortSignal): Promise<unknown> => {
    if (!input.paramsArtifactId) return input.params;
    const local = await reader.open(artifactRef(input.paramsArtifactId), signal);
    return JSON.parse(await readFile(local.path, 'utf8')) as unknown;
  };

  /** The result inline, or uploaded as the job's result artifact when its JSON exceeds the threshold. */
  const outputOf = async (input: RunAssignmentInput, result: unknown, signal: AbortSignal): Promise<AssignmentOutput> => {
    const json = JSON.stringify(result);
    if (json === undefined || !travelsAsArtifact(Buffer.byteLength(json), inlinePayloadMaxBytes)) return { result };
    const id = await artifacts.upload(input.assignmentId, Buffer.from(json), 'application/json', `result-${input.jobId}.json`, signal);
    return { resultArtifactId: id };
  };

  return {
    async runAssignment(input: RunAssignmentInput): Promise<AssignmentOutput> {
      const context = Context.current();
      const say = log ?? ((line: string) => context.log.info(line));
      const name = `job ${input.jobId} attempt ${input.attempt} (${input.taskType})`;

      const runner = runners.get(input.taskType);
      if (!runner) {
        say(`${name} rejected: unknown task type`);
        throw ApplicationFailure.create({
          type: FailureCode.UnknownTaskType,
          message: `this node has no runner for task type "${input.taskType}"`,
          nonRetryable: true,
        });
      }
      /**
       * What an attempt that threw ends with. A cancelled activity, whatever the work in hand threw: a node shutting
       * down hands the attempt back (not a job cancellation: the workflow re-places the job at once, as after a lost
       * lease); otherwise the job's cancellation or the lease's timeout. The API saying the node was fenced off the
       * attempt gives it up (the workflow places the job again). Anything else fails the job: `verb` says whether
       * before the runner started (rejected) or after.
       */
      const endedBy = (error: unknown, verb: 'rejected' | 'failed'): unknown => {
        if (context.cancellationSignal.aborted) {
          const reason: unknown = context.cancellationSignal.reason;
          const cancelled = reason instanceof CancelledFailure ? reason : error;
          if (cancelled instanceof CancelledFailure && cancelled.message === 'WORKER_SHUTDOWN') {
            say(`${name} handed back: node shutting down`);
            return ApplicationFailure.create({ type: FailureCode.NodeShutdown, message: 'the node shut down during the attempt', nonRetryable: true });
          }
          say(`${name} cancelled (${describe(cancelled)})`);
          return cancelled;
        }
        if (error instanceof AssignmentNotLiveError) {
          say(`${name} given up: ${error.message}`);
          return ApplicationFailure.create({ type: FailureCode.AssignmentNotLive, message: error.message, nonRetryable: true });
        }
        say(`${name} ${verb}: ${describe(error)}`);
        if (error instanceof ApplicationFailure) return error;
        if (error instanceof InvalidParamsError) return invalidParams(error);
        return ApplicationFailure.create({ type: FailureCode.RunnerError, message: describe(error), nonRetryable: true });
      };
      const reader = artifacts.reader(input.assignmentId);
      const run = runContext(context, input, reader);
      // Keeps the lease from the first second, offloaded params' read included (which waits out an API that is down),
      // and delivers cancellation meanwhile (the server answers a heartbeat with it); it also keeps it while a runner
      // computes between its own heartbeats. Not at once: an attempt that ends sooner costs the server no heartbeat.
      const beat = setInterval(() => context.heartbeat(run.lastDetails()), HEARTBEAT_INTERVAL_MS);
      try {
        let params: unknown;
        try {
          params = runner.validate(await paramsOf(input, reader, context.cancellationSignal));
        } catch (error) {
          throw endedBy(error, 'rejected');
        }

        run.heartbeat({ phase: 'started' });
        say(`${name} started on gpus [${input.gpuIds.join(',')}]`);
        const report = startReport(
          (runningForMs) => reportStarted({ assignmentId: input.assignmentId, runningForMs }),
          startReportDelayMs,
          (line) => say(`${name}: ${line}`),
        );
        try {
          // Racing `cancelled` ends the attempt promptly even if a runner ignores its signal.
          const result = await Promise.race([runner.run(params, run), context.cancelled]);
          recordCompletion?.({ jobId: input.jobId, attempt: input.attempt, assignmentId: input.assignmentId });
          const output = await outputOf(input, result, context.cancellationSignal);
          const where = 'resultArtifactId' in output ? ` (result in artifact ${output.resultArtifactId})` : '';
          say(`${name} succeeded in ${(report.runningForMs() / 1000).toFixed(2)} s${where}`);
          const ranMs = await report.succeeded();
          return ranMs === undefined ? output : { ...output, ranMs };
        } catch (error) {
          await report.endedOtherwise();
          throw endedBy(error, 'failed');
        }
      } finally {
        clearInterval(beat);
      }
    },
  };
}

export type ExecutionActivities = ReturnType<typeof createExecutionActivities>;
