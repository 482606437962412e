import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptors, Next } from '@temporalio/worker';
import type { RunAssignmentInput } from '@mlis/contracts';
import { nodeRunsInProgress } from '@mlis/metrics';

/** Counts the attempts this node is executing, by task type, around every activity it runs (runAssignment). */
export class RunsInProgressInterceptor implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const taskType = (input.args[0] as Partial<RunAssignmentInput> | undefined)?.taskType ?? 'unknown';
    nodeRunsInProgress.inc({ task_type: taskType });
    try {
      return await next(input);
    } finally {
      nodeRunsInProgress.dec({ task_type: taskType });
    }
  }
}

export function runsInProgressInterceptors(): ActivityInterceptors {
  return { inbound: new RunsInProgressInterceptor() };
}
