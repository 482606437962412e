import { plainPriorityRange, type PriorityClass } from '@mlis/config';
import { ApiErrorCode } from '@mlis/contracts';
// The file, not the barrel: that would load the runner implementations into the API, control and migrations.
import { InvalidParamsError, type TaskSpec } from '@mlis/runners/runner';
import { matchesSelector, usableGpuIndices, type NodeCapacity } from './placement';

/** One problem with one field of a submission. */
export interface FieldProblem {
  field: string;
  problem: string;
}

/** Why a submission is refused: an API error code with its message and the fields to blame. */
export class AdmissionRefused extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details: FieldProblem[],
  ) {
    super(message);
    this.name = 'AdmissionRefused';
  }
}

/** A submission as the client wrote it (the API's CreateJobDto, already checked field by field). */
export interface Submission {
  task_type: string;
  params?: Record<string, unknown>;
  cpu?: number;
  mem_mb?: number;
  gpu?: number;
  priority?: number;
  priority_class?: string;
  worker_group?: string;
  node_selector?: Record<string, string>;
  gpu_model?: string;
  gpu_memory_mb?: number;
  max_attempts?: number;
  timeout_seconds?: number;
}

/** What admission applies to every submission: the runners' params checks, the configured classes and the defaults. */
export interface AdmissionPolicy {
  taskSpec(taskType: string): TaskSpec | undefined;
  priorityClasses: readonly PriorityClass[];
  defaults: { cpu: number; memMb: number; gpu: number; priority: number; maxAttempts: number; timeoutSeconds: number };
}

/** The part of a submission that decides what runs; an idempotent replay must match it exactly. */
export interface JobSpec {
  taskType: string;
  params: Record<string, unknown>;
  cpuMillis: number;
  memMb: number;
  gpu: number;
  priority: number;
  priorityClass: string | null;
  mayPreempt: boolean;
  workerGroup: string | null;
  nodeSelector: Record<string, string>;
  gpuModel: string | null;
  gpuMemoryMb: number | null;
  maxAttempts: number;
  timeoutSeconds: number;
}

/** The spec of a stored job, to compare a replayed submission with. */
export function specOf(job: JobSpec): JobSpec {
  return {
    taskType: job.taskType,
    params: job.params,
    cpuMillis: job.cpuMillis,
    memMb: job.memMb,
    gpu: job.gpu,
    priority: job.priority,
    priorityClass: job.priorityClass,
    mayPreempt: job.mayPreempt,
    workerGroup: job.workerGroup,
    nodeSelector: job.nodeSelector,
    gpuModel: job.gpuModel,
    gpuMemoryMb: job.gpuMemoryMb,
    maxAttempts: job.maxAttempts,
    timeoutSeconds: job.timeoutSeconds,
  };
}

/**
 * The job a submission asks for, or AdmissionRefused: its task type and params, checked by the same runner code
 * the node runs, its priority class and its GPU selectors. The params are kept as the user sent them: the node
 * validates them again, and a runner's parsed form is not its input format.
 */
export function admit(submission: Submission, policy: AdmissionPolicy): JobSpec {
  const task = policy.taskSpec(submission.task_type);
  if (!task) {
    throw new AdmissionRefused(ApiErrorCode.UnknownTaskType, `unknown task type "${submission.task_type}"`, [
      { field: 'task_type', problem: 'no runner for this task type' },
    ]);
  }
  const params = submission.params ?? {};
  try {
    task.validate(params);
  } catch (error) {
    if (error instanceof InvalidParamsError) throw new AdmissionRefused(ApiErrorCode.InvalidParams, error.message, error.details);
    throw error;
  }
  const { defaults } = policy;
  const gpu = submission.gpu ?? defaults.gpu;
  // A GPU selector on a job without GPUs selects nothing: most likely --gpu was forgotten.
  const gpuSelectors = (['gpu_model', 'gpu_memory_mb'] as const).filter((field) => submission[field] !== undefined);
  if (gpu === 0 && gpuSelectors.length > 0) {
    throw new AdmissionRefused(
      ApiErrorCode.ValidationFailed,
      `${gpuSelectors.join(' and ')} need gpu > 0`,
      gpuSelectors.map((field) => ({ field, problem: 'only meaningful with gpu > 0' })),
    );
  }
  const priorityClass = priorityClassOf(submission, policy.priorityClasses);
  if (submission.priority !== undefined) checkPlainPriority(submission.priority, policy.priorityClasses);
  return {
    taskType: submission.task_type,
    params,
    cpuMillis: (submission.cpu ?? defaults.cpu) * 1000,
    memMb: submission.mem_mb ?? defaults.memMb,
    gpu,
    priority: priorityClass?.priority ?? submission.priority ?? defaults.priority,
    priorityClass: priorityClass?.name ?? null,
    mayPreempt: priorityClass?.preempting ?? false,
    workerGroup: submission.worker_group ?? null,
    nodeSelector: submission.node_selector ?? {},
    gpuModel: submission.gpu_model ?? null,
    gpuMemoryMb: submission.gpu_memory_mb ?? null,
    maxAttempts: submission.max_attempts ?? defaults.maxAttempts,
    timeoutSeconds: submission.timeout_seconds ?? defaults.timeoutSeconds,
  };
}

/** A plain priority in the configured range (plainPriorityRange), else 400. */
function checkPlainPriority(priority: number, classes: readonly PriorityClass[]): void {
  const { min, max } = plainPriorityRange(classes);
  if (priority < min || priority > max) {
    throw new AdmissionRefused(
      ApiErrorCode.ValidationFailed,
      `priority ${priority} is outside ${min}..${max}: a plain priority stays below the first preempting class; use priority_class for more`,
      [{ field: 'priority', problem: `must be between ${min} and ${max}` }],
    );
  }
}

/** The configured class a submission names; a priority and a class together are two answers to one question. */
function priorityClassOf(submission: Submission, classes: readonly PriorityClass[]): PriorityClass | null {
  if (submission.priority_class === undefined) return null;
  if (submission.priority !== undefined) {
    throw new AdmissionRefused(ApiErrorCode.ValidationFailed, 'give priority or priority_class, not both', [
      { field: 'priority_class', problem: 'cannot be combined with priority' },
    ]);
  }
  const found = classes.find((candidate) => candidate.name === submission.priority_class);
  if (!found) {
    const names = classes.map((c) => c.name).join(', ');
    throw new AdmissionRefused(ApiErrorCode.UnknownPriorityClass, `unknown priority_class "${submission.priority_class}"; the classes are ${names}`, [
      { field: 'priority_class', problem: `one of ${names}` },
    ]);
  }
  return found;
}

/** A registered node's shape, whatever its status: what it could run when empty. */
export type NodeShape = Pick<NodeCapacity, 'group' | 'labels' | 'cpuMillis' | 'memMb' | 'gpus'>;

/** What a submission asks for: its size and where it may run. */
export type JobRequirements = Pick<JobSpec, 'cpuMillis' | 'memMb' | 'gpu' | 'workerGroup' | 'nodeSelector' | 'gpuModel' | 'gpuMemoryMb'>;

/** The cluster as admission sees it. */
export interface ClusterShape {
  nodes: NodeShape[];
  /** Configured worker group names. */
  workerGroups: string[];
  /** The submitting tenant's max_gpus; null for no limit. */
  tenantMaxGpus: number | null;
}

export interface Unschedulable {
  message: string;
  details: FieldProblem[];
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function formatSelector(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`)
    .join(',');
}

// Matching is the scheduler's own (placement.ts), so admission and placement can never disagree.
function hasLabels(node: NodeShape, wanted: Record<string, string>): boolean {
  return matchesSelector(node, { labels: wanted });
}

/** GPUs of the node the job could be given: of its model (if it names one) with at least its memory each. */
function usableGpus(node: NodeShape, model: string | null, memoryMb: number | null): number {
  return usableGpuIndices(node, { gpuModel: model, gpuMemoryMb: memoryMb }).length;
}

function gpuPhrase(job: JobRequirements): string {
  let phrase = plural(job.gpu, 'GPU');
  if (job.gpuModel !== null) phrase += ` of model ${job.gpuModel}`;
  if (job.gpuMemoryMb) phrase += ` with at least ${job.gpuMemoryMb} MiB each`;
  return phrase;
}

// Which field to blame when no node has enough usable GPUs: the count itself when no node has that many
// GPUs of any kind, else the model, else the memory.
function gpuField(job: JobRequirements, nodes: NodeShape[]): string {
  const enough = (model: string | null, memoryMb: number | null): boolean => nodes.some((node) => usableGpus(node, model, memoryMb) >= job.gpu);
  if (!enough(null, null)) return 'gpu';
  if (job.gpuModel !== null && !enough(job.gpuModel, null)) return 'gpu_model';
  return 'gpu_memory_mb';
}

/**
 * Why no registered node could ever run the job, even empty, or null when one could. The nodes are
 * narrowed one constraint at a time (group, labels, GPUs, cpu, memory), and the first constraint that
 * leaves none is the answer, phrased with the ones before it ("no node in group gpu with labels
 * zone=eu-1 has 2 GPUs of model A100"). With no node registered at all, or none yet in a configured
 * group, the cluster's shape is unknown and the job is accepted to wait. A job asking for more GPUs
 * than the tenant's max_gpus could never start either.
 */
export function whyUnschedulable(job: JobRequirements, cluster: ClusterShape): Unschedulable | null {
  if (job.workerGroup !== null && !cluster.workerGroups.includes(job.workerGroup)) {
    const known = cluster.workerGroups.length > 0 ? `the groups are ${cluster.workerGroups.join(', ')}` : 'no group is configured';
    return {
      message: `no worker group "${job.workerGroup}"; ${known}`,
      details: [{ field: 'worker_group', problem: 'no such worker group' }],
    };
  }
  if (cluster.tenantMaxGpus !== null && job.gpu > cluster.tenantMaxGpus) {
    return {
      message: `the tenant's max_gpus is ${cluster.tenantMaxGpus}: a job asking for ${plural(job.gpu, 'GPU')} could never start`,
      details: [{ field: 'gpu', problem: `exceeds the tenant's max_gpus ${cluster.tenantMaxGpus}` }],
    };
  }

  let candidates = job.workerGroup === null ? cluster.nodes : cluster.nodes.filter((node) => node.group === job.workerGroup);
  if (candidates.length === 0) return null;
  const scope = [job.workerGroup === null ? 'registered' : `in group ${job.workerGroup}`];
  const refuse = (field: string, lacking: string): Unschedulable => {
    const message = `no node ${scope.join(' ')} has ${lacking}`;
    return { message, details: [{ field, problem: message }] };
  };

  if (Object.keys(job.nodeSelector).length > 0) {
    const labels = formatSelector(job.nodeSelector);
    candidates = candidates.filter((node) => hasLabels(node, job.nodeSelector));
    if (candidates.length === 0) return refuse('node_selector', `the labels ${labels}`);
    scope.push(`with labels ${labels}`);
  }

  if (job.gpu > 0) {
    const fitting = candidates.filter((node) => usableGpus(node, job.gpuModel, job.gpuMemoryMb) >= job.gpu);
    if (fitting.length === 0) {
      const most = Math.max(...candidates.map((node) => usableGpus(node, job.gpuModel, job.gpuMemoryMb)));
      return refuse(gpuField(job, candidates), `${gpuPhrase(job)} (the most any has: ${most})`);
    }
    candidates = fitting;
    scope.push(`with ${gpuPhrase(job)}`);
  }

  const cpus = job.cpuMillis / 1000;
  const withCpu = candidates.filter((node) => node.cpuMillis >= job.cpuMillis);
  if (withCpu.length === 0) {
    const most = Math.max(...candidates.map((node) => node.cpuMillis)) / 1000;
    return refuse('cpu', `${plural(cpus, 'CPU')} (the most any has: ${most})`);
  }
  // Name the cpu only when it narrowed the nodes: otherwise it explains nothing.
  if (withCpu.length < candidates.length) scope.push(`with ${plural(cpus, 'CPU')}`);

  if (!withCpu.some((node) => node.memMb >= job.memMb)) {
    const most = Math.max(...withCpu.map((node) => node.memMb));
    return refuse('mem_mb', `${job.memMb} MiB of memory (the most any has: ${most})`);
  }
  return null;
}
