import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  Min,
  ValidateBy,
  ValidateNested,
  type ValidationOptions,
} from 'class-validator';
import { LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN, NAME_PATTERN, NODE_STATUSES, type NodeStatus } from '@mlis/contracts';
import { IsLabelMap, MAX_LABELS } from '../common/label-map';
import { IsPlainText, PLAIN_TEXT_PATTERN } from '../common/plain-text';

const INT32_MAX = 2_147_483_647;
/** Node ids and group names, as the database's CHECK constraints allow them. */
const NAME_RULE = 'lowercase letters, digits and dashes, starting with a letter or digit, at most 63 characters';
export const MAX_GPUS_PER_NODE = 64;

/** GPU indices must be exactly 0..n-1, each once: they become CUDA_VISIBLE_DEVICES ids. */
function IsGpuIndexSequence(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isGpuIndexSequence',
      validator: {
        validate(value: unknown): boolean {
          if (!Array.isArray(value)) return true;
          const indices = value.map((gpu: { index?: unknown } | null) => gpu?.index);
          // Malformed entries are reported by their own validators.
          if (!indices.every((index) => Number.isInteger(index))) return true;
          return [...(indices as number[])].sort((a, b) => a - b).every((index, position) => index === position);
        },
        defaultMessage: () => 'gpus indices must be unique and numbered 0..n-1',
      },
    },
    options,
  );
}

export class GpuDeviceDto {
  @ApiProperty({ description: 'GPU index on the node (0..n-1), as CUDA numbers it.', minimum: 0 })
  @IsInt()
  @Min(0)
  @Max(MAX_GPUS_PER_NODE - 1)
  index: number;

  @ApiProperty({ description: 'GPU model name.', example: 'simulated', minLength: 1, maxLength: 200, pattern: PLAIN_TEXT_PATTERN })
  @IsPlainText()
  @Length(1, 200)
  model: string;

  @ApiProperty({ description: 'GPU memory, MiB.', minimum: 0 })
  @IsInt()
  @Min(0)
  @Max(INT32_MAX)
  memory_mb: number;
}

export class RegisterNodeDto {
  @ApiProperty({ description: `Stable node id: ${NAME_RULE}.`, example: 'cpu-1', pattern: NAME_PATTERN.source })
  @IsString()
  @Matches(NAME_PATTERN, { message: `node_id must be ${NAME_RULE}` })
  node_id: string;

  @ApiProperty({ description: 'Worker group the node serves.', example: 'cpu', pattern: NAME_PATTERN.source })
  @IsString()
  @Matches(NAME_PATTERN, { message: `group must be ${NAME_RULE}` })
  group: string;

  @ApiProperty({ description: 'Hostname of the node process.', minLength: 1, maxLength: 255, pattern: PLAIN_TEXT_PATTERN })
  @IsPlainText()
  @Length(1, 255)
  hostname: string;

  @ApiProperty({ description: 'Process id of the node process.', minimum: 1 })
  @IsInt()
  @Min(1)
  @Max(INT32_MAX)
  pid: number;

  @ApiProperty({ description: 'Assignments the node runs at once.', minimum: 1 })
  @IsInt()
  @Min(1)
  @Max(INT32_MAX)
  slots: number;

  @ApiProperty({ description: 'CPU capacity in millicores.', minimum: 1 })
  @IsInt()
  @Min(1)
  @Max(INT32_MAX)
  cpu_millis: number;

  @ApiProperty({ description: 'Memory capacity, MiB.', minimum: 1 })
  @IsInt()
  @Min(1)
  @Max(INT32_MAX)
  mem_mb: number;

  @ApiProperty({ description: 'GPUs of the node; indices unique and numbered 0..n-1.', type: [GpuDeviceDto] })
  @IsArray()
  @ArrayMaxSize(MAX_GPUS_PER_NODE)
  @ValidateNested({ each: true })
  @Type(() => GpuDeviceDto)
  @IsGpuIndexSequence()
  gpus: GpuDeviceDto[];

  @ApiPropertyOptional({
    description: `Labels jobs select the node by (node_selector): at most ${MAX_LABELS}, keys ${LABEL_KEY_PATTERN.source}, values ${LABEL_VALUE_PATTERN.source}. Default: none.`,
    type: 'object',
    additionalProperties: { type: 'string', pattern: LABEL_VALUE_PATTERN.source },
    example: { zone: 'eu-1', 'example.com/rack': 'r7' },
  })
  // The body's object as parsed: class-transformer's copy drops keys that name Object methods ("toString").
  // (Nest's pipe strips "constructor" and "prototype" keys before anything else sees the body.)
  @Transform(({ obj }: { obj: Record<string, unknown> }) => obj.labels, { toClassOnly: true })
  @IsOptional()
  @IsLabelMap()
  labels?: Record<string, string>;
}

export class RegisterNodeResponseDto {
  @ApiProperty({ description: 'The node id.' })
  node_id: string;

  @ApiProperty({ description: 'The worker group.' })
  group: string;

  @ApiProperty({ description: 'Incarnation of this registration; heartbeats must carry it.' })
  incarnation: number;

  @ApiProperty({ description: 'Temporal task queue the node polls.', example: 'mlis-node.cpu.cpu-1' })
  task_queue: string;

  @ApiProperty({ description: 'How often the node must heartbeat, seconds.' })
  heartbeat_seconds: number;

  @ApiProperty({
    description: 'Worker token for this node incarnation (typ mlis-worker+jwt, its own audience): send it as a bearer token on heartbeats.',
  })
  worker_token: string;
}

export class NodeIdParamDto {
  @ApiProperty({ description: 'Node id.', pattern: NAME_PATTERN.source })
  @IsString()
  @Matches(NAME_PATTERN, { message: `id must be ${NAME_RULE}` })
  id: string;
}

export class NodeAssignmentParamDto extends NodeIdParamDto {
  @ApiProperty({ description: 'Assignment id (from the runAssignment input).', format: 'uuid' })
  @IsUUID('all', { message: 'assignmentId must be a UUID' })
  assignmentId: string;
}

export class AssignmentStartedResponseDto {
  @ApiProperty({ format: 'uuid' })
  assignment_id: string;

  @ApiProperty({ enum: ['RUNNING'] })
  state: 'RUNNING';
}

export class HeartbeatDto {
  @ApiProperty({ description: 'Incarnation returned by registration.', minimum: 1 })
  @IsInt()
  @Min(1)
  @Max(INT32_MAX)
  incarnation: number;
}

export class AssignmentStartedDto extends HeartbeatDto {
  @ApiPropertyOptional({
    description:
      'How long the attempt has run, ms, when the node reports its start late (it waits MLIS_NODE_START_REPORT_DELAY_MS): started_at is back-dated by it, never before the placement. Default 0.',
    minimum: 0,
    maximum: INT32_MAX,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(INT32_MAX)
  running_for_ms?: number;
}

export class WorkerTokenResponseDto {
  @ApiProperty({ description: 'The node id.' })
  node_id: string;

  @ApiProperty({ description: 'The incarnation the token is bound to: the same one, unchanged by a renewal.' })
  incarnation: number;

  @ApiProperty({ description: 'A fresh worker token for this node incarnation; send it as the bearer token on heartbeats.' })
  worker_token: string;
}

export class HeartbeatResponseDto {
  @ApiProperty({ description: 'Always "ok": the node is live under this incarnation.', enum: ['ok'] })
  status: 'ok';
}

export class GpuResponseDto {
  @ApiProperty({ description: 'GPU index.' })
  index: number;

  @ApiProperty({ description: 'GPU model name.' })
  model: string;

  @ApiProperty({ description: 'GPU memory, MiB.' })
  memory_mb: number;

  @ApiProperty({ description: 'free; held: reserved for a placed attempt whose start its node has not reported yet (it reports after MLIS_NODE_START_REPORT_DELAY_MS); used: its attempt runs.', enum: ['free', 'held', 'used'] })
  use: 'free' | 'held' | 'used';

  @ApiProperty({ description: 'The job it is reserved for.', type: String, format: 'uuid', nullable: true })
  job_id: string | null;
}

export class NodeResponseDto {
  @ApiProperty({ description: 'Node id.' })
  node_id: string;

  @ApiProperty({ description: 'Worker group.' })
  group: string;

  @ApiProperty({ description: 'Liveness status.', enum: NODE_STATUSES })
  status: NodeStatus;

  @ApiProperty({ description: 'Hostname of the current registration.' })
  hostname: string;

  @ApiProperty({ description: 'Process id of the current registration.' })
  pid: number;

  @ApiProperty({ description: 'Number of the current registration: every (re-)registration of any node gets a higher one; attempts and worker tokens are bound to it.' })
  incarnation: number;

  @ApiProperty({ description: 'Concurrent assignment slots.' })
  slots: number;

  @ApiProperty({ description: 'Slots in use.' })
  used_slots: number;

  @ApiProperty({ description: 'CPU cores.' })
  cpu: number;

  @ApiProperty({ description: 'CPU cores reserved (may be fractional).' })
  used_cpu: number;

  @ApiProperty({ description: 'Memory, MiB.' })
  mem_mb: number;

  @ApiProperty({ description: 'Memory reserved, MiB.' })
  used_mem_mb: number;

  @ApiProperty({ description: 'Number of GPUs.' })
  gpu_count: number;

  @ApiProperty({ description: 'GPUs reserved.' })
  used_gpus: number;

  @ApiProperty({ description: 'GPU inventory: index, model and memory of each GPU.', type: [GpuResponseDto] })
  gpus: GpuResponseDto[];

  @ApiProperty({ description: 'Labels the node registered with.', type: 'object', additionalProperties: { type: 'string' }, example: { zone: 'eu-1' } })
  labels: Record<string, string>;

  @ApiProperty({ description: 'Last heartbeat.', format: 'date-time' })
  last_seen_at: string;

  @ApiProperty({ description: 'Last (re-)registration.', format: 'date-time' })
  registered_at: string;

  @ApiProperty({
    description: 'When this registration told the API it was stopping (SIGTERM), or null. A DEAD node with it left on purpose; one without it went silent.',
    format: 'date-time',
    type: String,
    nullable: true,
  })
  left_at: string | null;
}

export class NodeListResponseDto {
  @ApiProperty({ description: 'Every node, by group then id; a DEAD one until it has been DEAD for MLIS_NODE_RETENTION_SECONDS (24 h).', type: [NodeResponseDto] })
  items: NodeResponseDto[];
}

export class GroupNodeCountsDto {
  @ApiProperty({ description: 'Nodes whose status is ACTIVE (including any whose heartbeat is overdue but not yet declared DEAD).' })
  active: number;

  @ApiProperty({ description: 'Nodes being drained: no new placements.' })
  draining: number;

  @ApiProperty({ description: 'Nodes declared dead; they must register again.' })
  dead: number;
}

export class WorkerGroupResponseDto {
  @ApiProperty({ description: 'Group name, as nodes register into it and jobs select it.', example: 'gpu' })
  name: string;

  @ApiProperty({ description: 'Free-form description of the group.' })
  description: string;

  @ApiProperty({ description: 'Registered nodes of the group by status.', type: GroupNodeCountsDto })
  nodes: GroupNodeCountsDto;

  @ApiProperty({ description: 'ACTIVE nodes with a recent heartbeat: the ones jobs can be placed on, and that the totals below cover.' })
  live_nodes: number;

  @ApiProperty({ description: 'Slots of the live nodes.' })
  slots: number;

  @ApiProperty({ description: 'Slots in use on the live nodes.' })
  used_slots: number;

  @ApiProperty({ description: 'CPU cores of the live nodes.' })
  cpu: number;

  @ApiProperty({ description: 'CPU cores reserved on the live nodes (may be fractional).' })
  used_cpu: number;

  @ApiProperty({ description: 'Memory of the live nodes, MiB.' })
  mem_mb: number;

  @ApiProperty({ description: 'Memory reserved on the live nodes, MiB.' })
  used_mem_mb: number;

  @ApiProperty({ description: 'GPUs of the live nodes.' })
  gpu_count: number;

  @ApiProperty({ description: 'GPUs reserved on the live nodes.' })
  used_gpus: number;

  @ApiProperty({ description: 'Distinct GPU models of the live nodes, sorted.', type: [String], example: ['NVIDIA H100 80GB HBM3'] })
  gpu_models: string[];
}

export class WorkerGroupListResponseDto {
  @ApiProperty({ description: 'Every configured worker group, by name.', type: [WorkerGroupResponseDto] })
  items: WorkerGroupResponseDto[];
}
