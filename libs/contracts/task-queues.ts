/** The control queue runs job workflows and ledger activities. */
export const CONTROL_TASK_QUEUE = 'mlis-control';

// One queue per node, namespaced by its worker group: the ledger picks the node, Temporal only delivers.
export function nodeTaskQueue(group: string, nodeId: string): string {
  return `mlis-node.${group}.${nodeId}`;
}

const JOB_WORKFLOW_ID_PREFIX = 'job-';

export function jobWorkflowId(jobId: string): string {
  return `${JOB_WORKFLOW_ID_PREFIX}${jobId}`;
}

/** The job a workflow id names; undefined for any other workflow. */
export function jobIdOfWorkflow(workflowId: string): string | undefined {
  return workflowId.startsWith(JOB_WORKFLOW_ID_PREFIX) ? workflowId.slice(JOB_WORKFLOW_ID_PREFIX.length) : undefined;
}

/** The workflow type every job runs as. */
export const JOB_WORKFLOW_TYPE = 'jobWorkflow';
