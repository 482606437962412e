export const JOB_STATES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const TERMINAL_JOB_STATES: readonly JobState[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/** PREEMPTED: evicted for a higher-priority job; the job goes back to QUEUED with a new attempt. */
export const ASSIGNMENT_STATES = ['PLACED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'LOST', 'CANCELLED', 'PREEMPTED'] as const;
export type AssignmentState = (typeof ASSIGNMENT_STATES)[number];
export type LiveAssignmentState = Extract<AssignmentState, 'PLACED' | 'RUNNING'>;
export type EndedAssignmentState = Exclude<AssignmentState, LiveAssignmentState>;

export const NODE_STATUSES = ['ACTIVE', 'DRAINING', 'DEAD'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

/** Why a job is waiting; shown to users as `pending_reason`. */
export const PENDING_REASONS = [
  /** Waiting its turn: not examined by a scheduling cycle yet, or behind the jobs of its lane that each cycle looks at. */
  'queued',
  'no_nodes_registered',
  /** Some live node could run it when empty; the detail names the short resource or the job holding it. */
  'insufficient_capacity',
  /** The tenant's max_running_jobs or max_gpus would be exceeded. */
  'quota_exceeded',
  /** No registered node matches its worker_group, node_selector, gpu_model or gpu_memory_mb. */
  'no_matching_group',
  'no_live_node',
  'all_nodes_draining',
  /** Lower-priority jobs are being evicted to make room for it. */
  'preempting',
] as const;
export type PendingReason = (typeof PENDING_REASONS)[number];
