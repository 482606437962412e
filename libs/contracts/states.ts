export const JOB_STATES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const TERMINAL_JOB_STATES: readonly JobState[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

export const ASSIGNMENT_STATES = ['PLACED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'LOST', 'CANCELLED'] as const;
export type AssignmentState = (typeof ASSIGNMENT_STATES)[number];
export type LiveAssignmentState = Extract<AssignmentState, 'PLACED' | 'RUNNING'>;
export type EndedAssignmentState = Exclude<AssignmentState, LiveAssignmentState>;

export const NODE_STATUSES = ['ACTIVE', 'DRAINING', 'DEAD'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

/** Why a job is waiting; shown to users as `pending_reason`. */
export const PENDING_REASONS = [
  'no_nodes_registered',
  'insufficient_capacity',
  'no_live_node',
  'all_nodes_draining',
] as const;
export type PendingReason = (typeof PENDING_REASONS)[number];
