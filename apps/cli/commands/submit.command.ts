import { extname } from 'node:path';
import { artifactRef } from '@mlis/contracts/artifact-refs';
import type { CreateJobRequest } from '../api-types';
import { buildParams, readParamsFile, UsageError, type ParamAssignment } from '../arguments';
import { ExitCode, printJson, type CliContext } from '../cli-context';
import { uploadFile } from './artifacts.command';
import { followJob } from './job-waiter';

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

// What the runner is told the input is; anything else is bytes.
const INPUT_CONTENT_TYPES: Record<string, string> = { '.json': 'application/json', '.txt': 'text/plain' };

/**
 * --input FILE: uploads it (streamed, checksummed) and references it as params.input. The upload carries the job's
 * Idempotency-Key too, so a rerun finds the same artifact and the job's params compare equal.
 */
async function withInput(context: CliContext, request: CreateJobRequest, file: string, idempotencyKey: string | undefined): Promise<CreateJobRequest> {
  if (request.params !== undefined && 'input' in request.params) throw new UsageError('give --input or an "input" param, not both');
  const artifact = await uploadFile(context, file, { contentType: INPUT_CONTENT_TYPES[extname(file).toLowerCase()], idempotencyKey });
  context.err(`uploaded ${file} as artifact ${artifact.id} (${artifact.size_bytes} bytes)`);
  return { ...request, params: { ...request.params, input: artifactRef(artifact.id) } };
}

/** POST /v1/jobs (with --input, after uploading the file), then with --wait follow it (long-poll) until it ends or the wait times out. */
export async function submitCommand(context: CliContext, taskType: string, options: SubmitOptions): Promise<ExitCode> {
  const built = createJobRequest(taskType, options);
  const request = options.input === undefined ? built : await withInput(context, built, options.input, options.idempotencyKey);
  const submitted = await context.client.createJob(request, options.idempotencyKey);
  if (!options.wait) {
    if (context.json) printJson(context, submitted);
    else context.out(`${submitted.id} ${submitted.state}`);
    return ExitCode.Ok;
  }
  if (!context.json) context.out(`${submitted.id} ${submitted.state}`);
  return followJob(context, submitted, options.waitTimeout);
}
