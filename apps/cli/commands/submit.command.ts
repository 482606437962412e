import { setTimeout as sleep } from 'node:timers/promises';
import { TERMINAL_JOB_STATES } from '../../../libs/contracts/states';
import { extname } from 'node:path';
import { artifactRef } from '../../../libs/contracts/artifact-refs';
import { ApiError, ApiUnreachableError } from '../api-client';
import type { CreateJobRequest, Job } from '../api-types';
import { buildParams, readParamsFile, UsageError, type ParamAssignment } from '../arguments';
import { ExitCode, printJson, type CliContext } from '../cli-context';
import { formatJob } from '../format';
import { uploadFile } from './artifacts.command';

export interface SubmitOptions {
  seconds?: number;
  /** A file to upload first; the job gets `params.input = "artifact://<id>"`. */
  input?: string;
  param?: ParamAssignment[];
  paramsFile?: string;
  cpu?: number;
  memMb?: number;
  gpu?: number;
  priority?: number;
  priorityClass?: string;
  workerGroup?: string;
  selector?: Record<string, string>;
  gpuModel?: string;
  gpuMemoryMb?: number;
  maxAttempts?: number;
  timeoutSeconds?: number;
  idempotencyKey?: string;
  wait?: boolean;
  /** Seconds. */
  waitTimeout: number;
}

export const DEFAULT_WAIT_TIMEOUT_SECONDS = 600;
const DEFAULT_POLL_INTERVAL_MS = 500;

export function createJobRequest(taskType: string, options: SubmitOptions): CreateJobRequest {
  const fileParams = options.paramsFile === undefined ? undefined : readParamsFile(options.paramsFile);
  // The API checks the task type against the ones it runs; the CLI passes it through.
  const request: CreateJobRequest = { task_type: taskType as CreateJobRequest['task_type'], params: buildParams(fileParams, options.param ?? [], options.seconds) };
  // Only what was given: the API owns the defaults.
  if (options.cpu !== undefined) request.cpu = options.cpu;
  if (options.memMb !== undefined) request.mem_mb = options.memMb;
  if (options.gpu !== undefined) request.gpu = options.gpu;
  if (options.priority !== undefined) request.priority = options.priority;
  if (options.priorityClass !== undefined) request.priority_class = options.priorityClass;
  if (options.workerGroup !== undefined) request.worker_group = options.workerGroup;
  if (options.selector !== undefined) request.node_selector = options.selector;
  if (options.gpuModel !== undefined) request.gpu_model = options.gpuModel;
  if (options.gpuMemoryMb !== undefined) request.gpu_memory_mb = options.gpuMemoryMb;
  if (options.maxAttempts !== undefined) request.max_attempts = options.maxAttempts;
  if (options.timeoutSeconds !== undefined) request.timeout_seconds = options.timeoutSeconds;
  return request;
}

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

// An API restart or a 5xx while waiting is not the job's fate: keep polling until the deadline.
function transient(error: unknown): boolean {
  return error instanceof ApiUnreachableError || (error instanceof ApiError && error.status >= 500);
}

async function waitForJob(context: CliContext, submitted: Job, timeoutSeconds: number): Promise<{ job: Job; timedOut: boolean }> {
  const interval = context.io.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const deadline = Date.now() + timeoutSeconds * 1000;
  let job = submitted;
  let lastProgress = '';
  let warned = false;
  for (;;) {
    const progress = progressLine(job);
    if (!context.json && progress !== lastProgress) context.err(progress);
    lastProgress = progress;
    if (isTerminal(job)) return { job, timedOut: false };
    const remaining = deadline - Date.now();
    if (remaining <= 0) return { job, timedOut: true };
    await sleep(Math.min(interval, remaining));
    try {
      job = await context.client.getJob(job.id);
      warned = false;
    } catch (error) {
      if (!transient(error)) throw error;
      if (!warned) context.err(`still waiting: ${(error as Error).message}`);
      warned = true;
    }
  }
}

// What the runner is told the input is; anything else is bytes.
const INPUT_CONTENT_TYPES: Record<string, string> = { '.json': 'application/json', '.txt': 'text/plain' };

/** --input FILE: uploads it (streamed, checksummed) and references it as params.input. */
async function withInput(context: CliContext, request: CreateJobRequest, file: string): Promise<CreateJobRequest> {
  if (request.params !== undefined && 'input' in request.params) throw new UsageError('give --input or an "input" param, not both');
  const artifact = await uploadFile(context, file, { contentType: INPUT_CONTENT_TYPES[extname(file).toLowerCase()] });
  context.err(`uploaded ${file} as artifact ${artifact.id} (${artifact.size_bytes} bytes)`);
  return { ...request, params: { ...request.params, input: artifactRef(artifact.id) } };
}

/** POST /v1/jobs (with --input, after uploading the file), then with --wait poll until the job ends or the wait times out. */
export async function submitCommand(context: CliContext, taskType: string, options: SubmitOptions): Promise<ExitCode> {
  const built = createJobRequest(taskType, options);
  const request = options.input === undefined ? built : await withInput(context, built, options.input);
  const submitted = await context.client.createJob(request, options.idempotencyKey);
  if (!options.wait) {
    if (context.json) printJson(context, submitted);
    else context.out(`${submitted.id} ${submitted.state}`);
    return ExitCode.Ok;
  }
  if (!context.json) context.out(`${submitted.id} ${submitted.state}`);
  const { job, timedOut } = await waitForJob(context, submitted, options.waitTimeout);
  if (context.json) printJson(context, job);
  else context.out(`\n${formatJob(job)}`);
  if (timedOut) {
    context.err(`error: job ${job.id} is still ${job.state} after ${options.waitTimeout} s (--wait-timeout)`);
    return ExitCode.WaitTimeout;
  }
  return exitCodeFor(job);
}
