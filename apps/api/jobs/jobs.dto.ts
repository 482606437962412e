import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsObject, IsOptional, IsString, Length, Matches, Max, MaxLength, Min, ValidateBy, ValidateIf, type ValidationOptions } from 'class-validator';
import { JOB_CURSOR_PATTERN } from './jobs-cursor';
import { IsInstant, UTC_INSTANT_PATTERN } from '../common/date-time-pattern';
import { IsPlainText, PLAIN_TEXT_PATTERN } from '../common/plain-text';
import {
  ASSIGNMENT_STATES,
  JOB_STATES,
  LABEL_KEY_PATTERN,
  LABEL_VALUE_PATTERN,
  NAME_PATTERN,
  PENDING_REASONS,
  type AssignmentState,
  type JobState,
  type PendingReason,
} from '@mlis/contracts';
import { DEFAULT_PRIORITY } from '@mlis/config';
import { TASK_TYPES } from '@mlis/runners';
import { IsLabelMap } from '../common/label-map';
import { IntegerQuery } from '../common/validation';

const INT32_MAX = 2_147_483_647;
// cpu is stored in millicores in a 32-bit column.
const MAX_CPU_CORES = Math.floor(INT32_MAX / 1000);
export const MAX_ATTEMPTS_LIMIT = 20;
export const MAX_TIMEOUT_SECONDS = 604_800;
export const DEFAULT_CPU = 1;
export const DEFAULT_MEM_MB = 256;
export const DEFAULT_GPU = 0;
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
/** A selector names a few labels; a node may carry more. */
export const MAX_SELECTOR_LABELS = 16;
export const MAX_GPU_MODEL_LENGTH = 100;
// Worker group and priority class names, as the configuration (and the worker_groups table's CHECK) allows them.

/** An object with at most `max` keys; other shapes are left to the property's other validators. */
function HasAtMostEntries(max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'hasAtMostEntries',
      constraints: [max],
      validator: {
        validate: (value: unknown): boolean => typeof value !== 'object' || value === null || Object.keys(value).length <= max,
        defaultMessage: (args) => `${args?.property ?? 'value'} must have at most ${max} entries`,
      },
    },
    options,
  );
}

// A submission's optional fields are absent or a value: null is refused, not taken for the default.
const present = (_: object, value: unknown): boolean => value !== undefined;

/**
 * Rules across CreateJobDto's fields that a property cannot state, for the OpenAPI document (JSON Schema):
 * gpu_model and gpu_memory_mb need gpu >= 1; priority and priority_class exclude each other.
 */
export const CREATE_JOB_CROSS_FIELD_RULES = [
  ...['gpu_model', 'gpu_memory_mb'].map((field) => ({
    anyOf: [{ not: { required: [field] } }, { required: ['gpu'], properties: { gpu: { minimum: 1 } } }],
  })),
  { not: { required: ['priority', 'priority_class'] } },
];

/** The same rules as JSON Schema `dependencies` (the field on the left needs the schema on the right), which fuzzers read. */
export const CREATE_JOB_DEPENDENCIES = {
  gpu_model: { required: ['gpu'], properties: { gpu: { minimum: 1 } } },
  gpu_memory_mb: { required: ['gpu'], properties: { gpu: { minimum: 1 } } },
  priority_class: { not: { required: ['priority'] } },
};

export class CreateJobDto {
  @ApiProperty({ description: `The task to run; one of ${TASK_TYPES.join(', ')}.`, example: 'sleep', enum: TASK_TYPES })
  @IsString()
  @Length(1, 100)
  task_type: string;

  @ApiPropertyOptional({
    description: "Parameters for the task type's runner, checked at submission.",
    type: 'object',
    additionalProperties: true,
    default: {},
    example: { seconds: 1 },
  })
  @ValidateIf(present)
  @IsObject()
  // Kept exactly as parsed: the runner, not class-transformer, decides what params mean.
  @Transform(({ obj }: { obj: Record<string, unknown> }) => obj.params, { toClassOnly: true })
  params?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'Whole CPU cores to reserve.', type: 'integer', minimum: 0, maximum: MAX_CPU_CORES, default: DEFAULT_CPU })
  @ValidateIf(present)
  @IsInt()
  @Min(0)
  @Max(MAX_CPU_CORES)
  cpu?: number;

  @ApiPropertyOptional({ description: 'Memory to reserve, in MiB.', type: 'integer', minimum: 0, maximum: INT32_MAX, default: DEFAULT_MEM_MB })
  @ValidateIf(present)
  @IsInt()
  @Min(0)
  @Max(INT32_MAX)
  mem_mb?: number;

  @ApiPropertyOptional({ description: 'Number of GPUs to reserve on one node.', type: 'integer', minimum: 0, maximum: 1024, default: DEFAULT_GPU })
  @ValidateIf(present)
  @IsInt()
  @Min(0)
  @Max(1024)
  gpu?: number;

  @ApiPropertyOptional({
    description:
      'Higher runs first among waiting jobs. From the lowest of 0 and the configured priority classes to just below the first ' +
      'preempting class (the bounds here are this deployment\'s); outside them, 400. Give this or priority_class, not both.',
    type: 'integer',
    minimum: -INT32_MAX,
    maximum: INT32_MAX,
    default: DEFAULT_PRIORITY,
  })
  @ValidateIf(present)
  @IsInt()
  @Min(-INT32_MAX)
  @Max(INT32_MAX)
  priority?: number;

  @ApiPropertyOptional({
    description:
      'A configured priority class (MLIS_PRIORITY_CLASSES, default low, normal, high, urgent): sets the priority, and lets the job evict lower-priority running jobs if the class is preempting (urgent by default). A name this deployment does not configure is a 422 unknown_priority_class that lists the classes.',
    example: 'high',
    pattern: NAME_PATTERN.source,
  })
  // The classes are the deployment's, not the document's (the console's types are generated from it once).
  @ValidateIf(present)
  @IsString()
  @Matches(NAME_PATTERN, { message: 'priority_class must be lowercase letters, digits and dashes (1-63), starting with a letter or digit' })
  priority_class?: string;

  @ApiPropertyOptional({
    description: 'Run only on nodes of this worker group; a group this deployment does not configure is a 422 unschedulable.',
    example: 'gpu',
    pattern: NAME_PATTERN.source,
  })
  @ValidateIf(present)
  @IsString()
  @Matches(NAME_PATTERN, { message: 'worker_group must be lowercase letters, digits and dashes (1-63), starting with a letter or digit' })
  worker_group?: string;

  @ApiPropertyOptional({
    description: `Run only on nodes carrying every one of these labels (at most ${MAX_SELECTOR_LABELS}; keys ${LABEL_KEY_PATTERN.source}, values ${LABEL_VALUE_PATTERN.source}).`,
    type: 'object',
    maxProperties: MAX_SELECTOR_LABELS,
    // Keys by patternProperties: OpenAPI 3.0 schemas are JSON Schema draft 4, which has no propertyNames.
    patternProperties: { [LABEL_KEY_PATTERN.source]: { type: 'string', pattern: LABEL_VALUE_PATTERN.source } },
    additionalProperties: false,
    example: { zone: 'eu-1' },
  })
  // The body's object as parsed: class-transformer's copy drops keys that name Object methods.
  @Transform(({ obj }: { obj: Record<string, unknown> }) => obj.node_selector, { toClassOnly: true })
  @ValidateIf(present)
  @IsLabelMap()
  @HasAtMostEntries(MAX_SELECTOR_LABELS)
  node_selector?: Record<string, string>;

  @ApiPropertyOptional({ description: `GPUs it gets must be of this model, exactly as nvidia-smi names it (at most ${MAX_GPU_MODEL_LENGTH} characters). Needs gpu > 0.`, example: 'NVIDIA A100-SXM4-80GB', minLength: 1, maxLength: MAX_GPU_MODEL_LENGTH, pattern: PLAIN_TEXT_PATTERN })
  @ValidateIf(present)
  @IsPlainText()
  @Length(1, MAX_GPU_MODEL_LENGTH)
  gpu_model?: string;

  @ApiPropertyOptional({ description: 'GPUs it gets must each have at least this much memory, MiB (0: any). Needs gpu > 0.', type: 'integer', minimum: 0, maximum: INT32_MAX })
  @ValidateIf(present)
  @IsInt()
  @Min(0)
  @Max(INT32_MAX)
  gpu_memory_mb?: number;

  @ApiPropertyOptional({
    description: 'Attempts allowed when nodes are lost (default from MLIS_DEFAULT_MAX_ATTEMPTS).',
    type: 'integer',
    minimum: 1,
    maximum: MAX_ATTEMPTS_LIMIT,
  })
  @ValidateIf(present)
  @IsInt()
  @Min(1)
  @Max(MAX_ATTEMPTS_LIMIT)
  max_attempts?: number;

  @ApiPropertyOptional({
    description: 'Run time limit of one attempt, in seconds (default from MLIS_DEFAULT_TIMEOUT_SECONDS).',
    type: 'integer',
    minimum: 1,
    maximum: MAX_TIMEOUT_SECONDS,
  })
  @ValidateIf(present)
  @IsInt()
  @Min(1)
  @Max(MAX_TIMEOUT_SECONDS)
  timeout_seconds?: number;
}

/** The longest a GET /v1/jobs/:id?wait= holds the request, in seconds. */
export const MAX_JOB_WAIT_SECONDS = 60;

export class JobWaitQueryDto {
  @ApiPropertyOptional({
    description:
      'Long-poll: answer as soon as the job is SUCCEEDED, FAILED or CANCELLED, or after this many seconds with the job as it is then (200 either way). 0 (the default) answers at once.',
    minimum: 0,
    maximum: MAX_JOB_WAIT_SECONDS,
    default: 0,
    type: 'integer',
  })
  @IsOptional()
  @IntegerQuery()
  @IsInt()
  @Min(0)
  @Max(MAX_JOB_WAIT_SECONDS)
  wait?: number;
}

export class JobListQueryDto {
  @ApiPropertyOptional({ description: 'Page size.', type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })
  @IsOptional()
  @IntegerQuery()
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({ description: 'Only jobs in this state.', enum: JOB_STATES })
  @IsOptional()
  @IsIn(JOB_STATES)
  state?: JobState;

  @ApiPropertyOptional({
    description: "next_cursor of the previous page: the last job's created_at (UTC, up to microseconds) and id, joined by _.",
    pattern: JOB_CURSOR_PATTERN,
    example: '2026-12-01T21:45:16.302123Z_0b9e2a8e-55d5-4c55-9f57-7a3f0d9d2f10',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({
    description: "Only this tenant's jobs; another tenant than the caller's needs the cross-tenant capability (else the page is empty).",
    pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)
  tenant?: string;

  @ApiPropertyOptional({ description: 'Only jobs of this task type.', maxLength: 100, pattern: PLAIN_TEXT_PATTERN, example: 'sleep' })
  @IsOptional()
  @IsPlainText()
  @MaxLength(100)
  task_type?: string;

  @ApiPropertyOptional({ description: 'Only jobs that asked for this worker group.', maxLength: 100, pattern: PLAIN_TEXT_PATTERN, example: 'gpu' })
  @IsOptional()
  @IsPlainText()
  @MaxLength(100)
  worker_group?: string;

  @ApiPropertyOptional({ description: 'Only jobs with an attempt on this node.', maxLength: 200, pattern: PLAIN_TEXT_PATTERN })
  @IsOptional()
  @IsPlainText()
  @MaxLength(200)
  node?: string;

  @ApiPropertyOptional({ description: 'Only jobs submitted by this subject.', maxLength: 200, pattern: PLAIN_TEXT_PATTERN })
  @IsOptional()
  @IsPlainText()
  @MaxLength(200)
  submitted_by?: string;

  @ApiPropertyOptional({ description: 'Only jobs submitted at or after this instant (ISO 8601, UTC).', format: 'date-time', pattern: UTC_INSTANT_PATTERN })
  @IsOptional()
  @IsInstant()
  created_after?: string;

  @ApiPropertyOptional({ description: 'Only jobs submitted before this instant (ISO 8601, UTC).', format: 'date-time', pattern: UTC_INSTANT_PATTERN })
  @IsOptional()
  @IsInstant()
  created_before?: string;
}

export class JobErrorDto {
  @ApiProperty({ description: 'Failure type code (e.g. RunnerError, MaxAttemptsExhausted).' })
  code: string;

  @ApiProperty({ description: 'What went wrong.' })
  message: string;
}

export class AssignmentResponseDto {
  @ApiProperty({ description: 'Assignment id.', format: 'uuid' })
  id: string;

  @ApiProperty({ description: 'Attempt number, from 1.' })
  attempt: number;

  @ApiProperty({ description: 'Assignment state.', enum: ASSIGNMENT_STATES })
  state: AssignmentState;

  @ApiProperty({ description: 'Node the attempt was placed on.' })
  node_id: string;

  @ApiProperty({ description: 'Worker identity; the node id (the seed called it worker uid).' })
  worker_uid: string;

  @ApiProperty({ description: 'Incarnation of the node when the attempt was placed.' })
  node_incarnation: number;

  @ApiProperty({ description: 'Hostname of the node process the attempt was placed on (null for attempts placed before this was recorded).', type: String, nullable: true })
  hostname: string | null;

  @ApiProperty({ description: 'Process id of the node process the attempt was placed on (null for attempts placed before this was recorded).', type: Number, nullable: true })
  pid: number | null;

  @ApiProperty({ description: 'Worker group of the node.' })
  group: string;

  @ApiProperty({ description: 'GPU ids reserved for this attempt.', type: [Number] })
  gpu_ids: number[];

  @ApiProperty({ description: 'CUDA_VISIBLE_DEVICES the runner got ("0,1"; "" for none).' })
  cuda_visible_devices: string;

  @ApiProperty({ description: 'Why the attempt ended as it did.', type: String, nullable: true })
  reason: string | null;

  @ApiProperty({ description: 'When it was placed.', format: 'date-time' })
  created_at: string;

  @ApiProperty({ description: 'When the node started it.', type: String, format: 'date-time', nullable: true })
  started_at: string | null;

  @ApiProperty({ description: 'When it ended.', type: String, format: 'date-time', nullable: true })
  ended_at: string | null;

  @ApiProperty({ description: "The higher-priority job this attempt was asked to give way to; null when that job is another tenant's.", type: String, format: 'uuid', nullable: true })
  preempted_by: string | null;
}

export class JobResponseDto {
  @ApiProperty({ description: 'Job id.', format: 'uuid' })
  id: string;

  @ApiProperty({ description: 'Owning tenant.' })
  tenant_id: string;

  @ApiProperty({ description: 'Subject that submitted the job.' })
  submitted_by: string;

  @ApiProperty({ description: 'Task type.' })
  task_type: string;

  @ApiProperty({
    description: 'Params as submitted; null when they were larger than MLIS_INLINE_PAYLOAD_MAX_BYTES as JSON and stored as the artifact params_artifact.',
    type: 'object',
    additionalProperties: true,
    nullable: true,
  })
  params: Record<string, unknown> | null;

  @ApiProperty({
    description: 'The artifact holding the params (their JSON, keys sorted) when they were too large to keep inline; GET /v1/artifacts/{id} reads it.',
    type: String,
    format: 'uuid',
    nullable: true,
  })
  params_artifact: string | null;

  @ApiProperty({ description: 'CPU cores reserved.' })
  cpu: number;

  @ApiProperty({ description: 'Memory reserved, MiB.' })
  mem_mb: number;

  @ApiProperty({ description: 'GPUs reserved.' })
  gpu: number;

  @ApiProperty({ description: 'Priority among waiting jobs.' })
  priority: number;

  @ApiProperty({ description: 'The priority class it was submitted with.', type: String, nullable: true })
  priority_class: string | null;

  @ApiProperty({ description: 'Whether it may evict lower-priority running jobs (its class is preempting).' })
  may_preempt: boolean;

  @ApiProperty({ description: 'Worker group it must run in.', type: String, nullable: true })
  worker_group: string | null;

  @ApiProperty({ description: 'Labels its node must carry.', type: 'object', additionalProperties: { type: 'string' } })
  node_selector: Record<string, string>;

  @ApiProperty({ description: 'GPU model it must get.', type: String, nullable: true })
  gpu_model: string | null;

  @ApiProperty({ description: 'Memory each of its GPUs must have, MiB.', type: Number, nullable: true })
  gpu_memory_mb: number | null;

  @ApiProperty({ description: 'Job state.', enum: JOB_STATES })
  state: JobState;

  @ApiProperty({ description: 'Why a QUEUED job is waiting.', enum: PENDING_REASONS, nullable: true })
  pending_reason: PendingReason | null;

  @ApiProperty({ description: 'Which resource is short, or which job holds the capacity, for a waiting job.', type: String, nullable: true })
  pending_detail: string | null;

  @ApiProperty({
    description: "A waiting job's place in the last scheduling cycle's order (1 = next); null when not waiting or deeper than that cycle looked.",
    type: Number,
    nullable: true,
  })
  queue_position: number | null;

  @ApiProperty({ description: 'Attempts started so far.' })
  attempts: number;

  @ApiProperty({ description: 'Attempts allowed.' })
  max_attempts: number;

  @ApiProperty({ description: 'Run time limit of one attempt, seconds.' })
  timeout_seconds: number;

  @ApiProperty({
    description: "The runner's result once SUCCEEDED; null when it was larger than MLIS_INLINE_PAYLOAD_MAX_BYTES as JSON and stored as result_artifact. GET /v1/jobs/{id}/result returns it either way.",
    nullable: true,
    type: 'object',
    additionalProperties: true,
  })
  result: unknown;

  @ApiProperty({ description: 'The artifact holding the result when it was too large to keep inline, else null.', type: String, format: 'uuid', nullable: true })
  result_artifact: string | null;

  @ApiProperty({ description: 'Why the job FAILED.', type: JobErrorDto, nullable: true })
  error: JobErrorDto | null;

  @ApiProperty({ description: 'Submission time.', format: 'date-time' })
  created_at: string;

  @ApiProperty({ description: 'Last change.', format: 'date-time' })
  updated_at: string;

  @ApiProperty({ description: 'First placement.', type: String, format: 'date-time', nullable: true })
  started_at: string | null;

  @ApiProperty({ description: 'When it reached a terminal state.', type: String, format: 'date-time', nullable: true })
  finished_at: string | null;

  @ApiProperty({ description: 'The latest attempt.', type: AssignmentResponseDto, nullable: true })
  latest_assignment: AssignmentResponseDto | null;

  @ApiProperty({ description: 'Every attempt, attempt ascending.', type: [AssignmentResponseDto] })
  assignments: AssignmentResponseDto[];
}

export class JobListResponseDto {
  @ApiProperty({ description: 'Jobs, newest first.', type: [JobResponseDto] })
  items: JobResponseDto[];

  @ApiProperty({ description: 'Cursor for the next page; null on the last page.', type: String, nullable: true })
  next_cursor: string | null;
}
