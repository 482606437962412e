import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context } from '@temporalio/activity';
import { defaultPayloadConverter } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, Next } from '@temporalio/worker';
import { LOG_CONTEXT_HEADER, type LogContext } from '@mlis/contracts';
import { errorFields, type Logger } from './logger';

const current = new AsyncLocalStorage<Logger>();

/** request_id and tenant from the header the job workflow sets (workflows/interceptors.ts). */
function logContextOf(input: ActivityExecuteInput): LogContext {
  const header = input.headers[LOG_CONTEXT_HEADER];
  if (!header) return {};
  const context = defaultPayloadConverter.fromPayload<LogContext>(header);
  return {
    ...(typeof context?.request_id === 'string' ? { request_id: context.request_id } : {}),
    ...(typeof context?.tenant === 'string' ? { tenant: context.tenant } : {}),
  };
}

/** The logger of the activity running in this async context (with its job fields), else `fallback`. */
export function activityLogger(fallback: Logger): Logger {
  return current.getStore() ?? fallback;
}

/**
 * One line when an activity ends, carrying what ties it to its job: the submission's request_id and tenant,
 * workflow_id, job_id, attempt (the job's), the activity and its retry number, and the process's own bindings (node, group). Ledger activities run
 * often, so the control process logs successes at debug; failures are always warnings. Inside the activity,
 * activityLogger() returns the same child logger, so the activity's own lines carry those fields too.
 */
export class ActivityLoggingInterceptor implements ActivityInboundCallsInterceptor {
  constructor(
    private readonly context: Context,
    private readonly logger: Logger,
    private readonly successLevel: 'info' | 'debug',
  ) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const { info } = this.context;
    const job = input.args[0] as { jobId?: unknown; attempt?: unknown } | undefined;
    const log = this.logger.child({
      ...logContextOf(input),
      ...(info.workflowExecution ? { workflow_id: info.workflowExecution.workflowId } : {}),
      ...(typeof job?.jobId === 'string' ? { job_id: job.jobId } : {}),
      ...(typeof job?.attempt === 'number' ? { attempt: job.attempt } : {}),
      activity: info.activityType,
      activity_attempt: info.attempt,
    });
    const started = Date.now();
    log.debug('activity started');
    try {
      const result = await current.run(log, () => next(input));
      log[this.successLevel]({ ms: Date.now() - started }, 'activity completed');
      return result;
    } catch (error) {
      log.warn({ ms: Date.now() - started, ...errorFields(error) }, 'activity failed');
      throw error;
    }
  }
}

export function activityLoggingInterceptors(logger: Logger, successLevel: 'info' | 'debug'): ActivityInterceptorsFactory {
  return (context) => ({ inbound: new ActivityLoggingInterceptor(context, logger, successLevel) });
}
