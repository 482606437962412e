import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, Next } from '@temporalio/worker';
import type { NodeConfig } from '@mlis/config';
import type { RunAssignmentInput } from '@mlis/contracts';
import { inSpan } from '@mlis/tracing';

/** Wraps each attempt this node executes in a `runAssignment` span carrying the job, attempt, node and group. */
export class RunAssignmentSpanInterceptor implements ActivityInboundCallsInterceptor {
  constructor(
    private readonly activityType: string,
    private readonly node: Pick<NodeConfig, 'nodeId' | 'group'>,
  ) {}

  execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    if (this.activityType !== 'runAssignment') return next(input);
    const assignment = (input.args[0] ?? {}) as Partial<RunAssignmentInput>;
    const attributes = {
      'mlis.node': this.node.nodeId,
      'mlis.group': this.node.group,
      ...(typeof assignment.jobId === 'string' ? { 'mlis.job_id': assignment.jobId } : {}),
      ...(typeof assignment.attempt === 'number' ? { 'mlis.attempt': assignment.attempt } : {}),
      ...(typeof assignment.taskType === 'string' ? { 'mlis.task_type': assignment.taskType } : {}),
    };
    return inSpan('runAssignment', attributes, () => next(input));
  }
}

export function runAssignmentSpanInterceptors(node: Pick<NodeConfig, 'nodeId' | 'group'>): ActivityInterceptorsFactory {
  return (context) => ({ inbound: new RunAssignmentSpanInterceptor(context.info.activityType, node) });
}
