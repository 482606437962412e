import type { EndedAssignmentState, JobState, PendingReason } from './states';

/** What a job asks for. cpu is in millicores so fractional cores stay exact. */
export interface ResourceRequest {
  cpuMillis: number;
  memMb: number;
  gpu: number;
}

/** Where a job may run, beyond how much it needs. Every field is optional; an empty selector matches every node. */
export interface NodeSelector {
  workerGroup?: string | null;
  /** Every label must be present on the node with exactly this value. */
  labels?: Record<string, string>;
  /** The GPUs it gets must all be of this model. */
  gpuModel?: string | null;
  /** The GPUs it gets must each have at least this much memory. */
  gpuMemoryMb?: number | null;
}

export interface JobWorkflowInput {
  jobId: string;
  tenantId: string;
  taskType: string;
  /** Already validated runner params; `{}` when they were too large to travel inline (see paramsArtifactId). */
  params: Record<string, unknown>;
  /** The artifact holding the params' JSON when it exceeded the inline threshold; the node reads it. */
  paramsArtifactId?: string | null;
  maxAttempts: number;
  timeoutSeconds: number;
  /** Heartbeat timeout of the dispatched assignment: the lease. */
  leaseSeconds: number;
  /** How long a placed assignment may wait for its node to pick it up. */
  scheduleToStartSeconds: number;
  /** Safety-net wait before a waiting job tries to place again without a capacity signal. */
  capacityRetrySeconds: number;
  /**
   * The workflow shape the starter asks for (JOB_WORKFLOW_VERSION, ADR 0029). Absent in workflows started before
   * ADR 0029: those learn their shape from `patched()`, as they always did.
   */
  workflowVersion?: number;
  /**
   * Attempt 1's placement, when a scheduling cycle placed the job before its workflow started (version 3, ADR 0031).
   * The workflow then dispatches the attempt in its first task, without reading the ledger.
   */
  placement?: Placement;
}

/**
 * The job workflow's shape, carried in its input. 2: ADR 0018's, ledger calls in the workflow task; such a workflow
 * runs it without `patched('ledger-in-workflow-task')` and the marker and search-attribute upsert that call records.
 * 3: the input may carry attempt 1's placement (ADR 0031).
 */
export const JOB_WORKFLOW_VERSION = 3;

export interface AwaitPlacementInput {
  jobId: string;
  attempt: number;
}

export interface Placement {
  assignmentId: string;
  attempt: number;
  nodeId: string;
  group: string;
  taskQueue: string;
  gpuIds: number[];
}

export type AwaitPlacementResult =
  | { placed: true; placement: Placement }
  | { placed: false; pendingReason: PendingReason; detail: string; queuePosition: number | null };

export interface JobError {
  code: string;
  message: string;
}

/**
 * Why a node lost an attempt: it stopped heartbeating, never picked the attempt up, handed it back while shutting
 * down, was fenced off it by the API, or went DEAD or left before it started it (the attempt was withdrawn).
 */
export type LossCause = 'heartbeat_timeout' | 'schedule_to_start_timeout' | 'node_shutdown' | 'assignment_not_live' | 'node_gone';

export interface EndAssignmentInput {
  jobId: string;
  attempt: number;
  state: EndedAssignmentState;
  reason?: string;
  /** With state LOST: why (the lease-loss metric's `cause`). */
  lossCause?: LossCause;
  /** The job's next state: QUEUED after a lost lease with attempts left, else terminal. */
  jobState: JobState;
  result?: unknown;
  /** Set instead of result when the node uploaded the result as an artifact (larger than the inline threshold). */
  resultArtifactId?: string;
  error?: JobError;
  /**
   * How long the attempt ran on its node, ms, when the node's start report did not reach the ledger (it ended within
   * the report's delay, ADR 0030): the write back-dates the attempt's started_at by it.
   */
  ranMs?: number;
}

/** The job's state after a ledger write: another writer may have ended it first. */
export interface LedgerWriteResult {
  jobState: JobState;
}

export interface FinishJobInput {
  jobId: string;
  state: Extract<JobState, 'FAILED' | 'CANCELLED'>;
  error?: JobError;
  /** Why a live attempt this ends ended; by default the job ended before the attempt started. */
  reason?: string;
}

export interface RunAssignmentInput {
  jobId: string;
  assignmentId: string;
  attempt: number;
  taskType: string;
  params: Record<string, unknown>;
  /** See JobWorkflowInput.paramsArtifactId. */
  paramsArtifactId?: string | null;
  gpuIds: number[];
}

/** Room kept for what travels with params or a result in one Temporal payload (ids, states, timeouts, GPU ids). */
export const PAYLOAD_ENVELOPE_BYTES = 1024;

/**
 * Whether params or a result of `jsonBytes` bytes of JSON travel as an artifact: so that no Temporal payload (the
 * value plus its envelope) and no job row carries more than `maxPayloadBytes` (MLIS_INLINE_PAYLOAD_MAX_BYTES).
 */
export function travelsAsArtifact(jsonBytes: number, maxPayloadBytes: number): boolean {
  return jsonBytes > maxPayloadBytes - PAYLOAD_ENVELOPE_BYTES;
}

/**
 * What a node returns for a successful attempt: the runner's result inline, or the artifact it uploaded the
 * result to because its JSON exceeded the inline threshold; and how long it ran when its start was not reported.
 * Its keys are EndAssignmentInput's.
 */
export type AssignmentOutput = ({ result: unknown } | { resultArtifactId: string }) & Pick<EndAssignmentInput, 'ranMs'>;

/** Live status returned by the workflow's query handler. */
export interface JobWorkflowStatus {
  state: JobState;
  attempt: number;
  pendingReason: PendingReason | null;
  /** 1 = next to be placed, as of the last scheduling cycle that looked at the job. */
  queuePosition: number | null;
  placement: Placement | null;
  lostNodeIds: string[];
  /** Attempts given back to a higher-priority job; they do not count against maxAttempts. */
  preemptedAttempts: number;
}
