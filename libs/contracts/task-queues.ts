/** The control queue runs job workflows and ledger activities. */
export const CONTROL_TASK_QUEUE = 'mlis-control';

// One queue per node, namespaced by its worker group: the ledger picks the node, Temporal only delivers.
export function nodeTaskQueue(group: string, nodeId: string): string {
  return `mlis-node.${group}.${nodeId}`;
}

export function jobWorkflowId(jobId: string): string {
  return `job-${jobId}`;
}
