import {
  defaultPayloadConverter,
  workflowInfo,
  type ActivityInput,
  type Next,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { LOG_CONTEXT_HEADER, type LogContext } from '@mlis/contracts';

/** Hands the job's log context (from the memo the API set at start) to every activity, in a header. */
class LogContextOutbound implements WorkflowOutboundCallsInterceptor {
  async scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>): Promise<unknown> {
    const memo = workflowInfo().memo as LogContext | undefined;
    const context: LogContext = {
      ...(typeof memo?.request_id === 'string' ? { request_id: memo.request_id } : {}),
      ...(typeof memo?.tenant === 'string' ? { tenant: memo.tenant } : {}),
    };
    if (Object.keys(context).length === 0) return next(input);
    return next({ ...input, headers: { ...input.headers, [LOG_CONTEXT_HEADER]: defaultPayloadConverter.toPayload(context) } });
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ outbound: [new LogContextOutbound()] });
