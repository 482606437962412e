import { setTimeout as sleep } from 'node:timers/promises';
import { TERMINAL_JOB_STATES } from '@mlis/contracts/states';
import { isTransient } from '../api-client';
import type { Job } from '../api-types';
import { ExitCode, printJson, type CliContext } from '../cli-context';
import { formatJob } from '../format';

export const DEFAULT_WAIT_TIMEOUT_SECONDS = 600;
// One long-poll (GET /v1/jobs/:id?wait=) lasts at most this long, so a progress line still shows now and then.
const LONG_POLL_SECONDS = 10;
// The pause after a failed call (or an answer that came back early without news) before the next one.
const DEFAULT_RETRY_INTERVAL_MS = 500;

function isTerminal(job: Job): boolean {
  return TERMINAL_JOB_STATES.includes(job.state);
}

function exitCodeFor(job: Job): ExitCode {
  return job.state === 'SUCCEEDED' ? ExitCode.Ok : ExitCode.JobNotSucceeded;
}

// One line per visible change while waiting, on stderr so stdout stays the final answer.
function progressLine(job: Job): string {
  const attempt = `attempt ${job.attempts}/${job.max_attempts}`;
  if (job.state === 'RUNNING' && job.latest_assignment) return `RUNNING on ${job.latest_assignment.node_id} (${attempt})`;
  if (job.state === 'QUEUED' && job.pending_reason) {
    const position = job.queue_position === null ? '' : `, position ${job.queue_position}`;
    return `QUEUED: ${job.pending_reason}${job.pending_detail ? ` (${job.pending_detail})` : ''}${position}`;
  }
  return `${job.state} (${attempt})`;
}

async function waitForJob(context: CliContext, first: Job, timeoutSeconds: number): Promise<{ job: Job; timedOut: boolean }> {
  const retryMs = context.io.pollIntervalMs ?? DEFAULT_RETRY_INTERVAL_MS;
  const deadline = Date.now() + timeoutSeconds * 1000;
  let job = first;
  let lastProgress = '';
  let warned = false;
  for (;;) {
    const progress = progressLine(job);
    if (!context.json && progress !== lastProgress) context.err(progress);
    lastProgress = progress;
    if (isTerminal(job)) return { job, timedOut: false };
    const remaining = deadline - Date.now();
    if (remaining <= 0) return { job, timedOut: true };
    const wait = Math.min(LONG_POLL_SECONDS, Math.floor(remaining / 1000));
    const asked = Date.now();
    try {
      // The API answers when the job is final or `wait` seconds have passed; under a second left, one last plain read.
      if (wait === 0) await sleep(remaining);
      job = await context.client.getJob(job.id, wait, { retry: false });
      warned = false;
      if (!isTerminal(job) && Date.now() - asked < wait * 1000) await sleep(Math.min(retryMs, Math.max(0, deadline - Date.now())));
    } catch (error) {
      // An API restart or a 5xx while waiting is not the job's fate: keep waiting until the deadline.
      if (!isTransient(error)) throw error;
      if (!warned) context.err(`still waiting: ${(error as Error).message}`);
      warned = true;
      await sleep(Math.min(retryMs, Math.max(0, deadline - Date.now())));
    }
  }
}

/**
 * Follows a job until it is final or `timeoutSeconds` pass, then prints it. Exit 0 SUCCEEDED, 1 FAILED or CANCELLED,
 * 3 when the wait timed out (used by `submit --wait` and `status --wait`).
 */
export async function followJob(context: CliContext, first: Job, timeoutSeconds: number): Promise<ExitCode> {
  const { job, timedOut } = await waitForJob(context, first, timeoutSeconds);
  if (context.json) printJson(context, job);
  else context.out(`\n${formatJob(job)}`);
  if (timedOut) {
    context.err(`error: job ${job.id} is still ${job.state} after ${timeoutSeconds} s (--wait-timeout)`);
    return ExitCode.WaitTimeout;
  }
  return exitCodeFor(job);
}
