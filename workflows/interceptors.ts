import {
  defaultPayloadConverter,
  workflowInfo,
  type ActivityInput,
  type Next,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptors,
  type WorkflowInterceptorsFactory,
  type WorkflowInternalsInterceptor,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { LOG_CONTEXT_HEADER, type JobWorkflowMemo, type LogContext } from '@mlis/contracts';

/** Hands the job's log context (from the memo the API set at start) to every activity, in a header. */
class LogContextOutbound implements WorkflowOutboundCallsInterceptor {
  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>): Promise<unknown> {
    const memo = workflowInfo().memo as JobWorkflowMemo | undefined;
    const context: LogContext = {
      ...(typeof memo?.request_id === 'string' ? { request_id: memo.request_id } : {}),
      ...(typeof memo?.tenant === 'string' ? { tenant: memo.tenant } : {}),
    };
    if (Object.keys(context).length === 0) return next(input);
    return next({ ...input, headers: { ...input.headers, [LOG_CONTEXT_HEADER]: defaultPayloadConverter.toPayload(context) } });
  }
}

/** The methods the SDK's OpenTelemetry workflow interceptors implement (@temporalio/interceptors-opentelemetry 1.24). */
const TRACED_METHODS = {
  inbound: ['execute', 'handleSignal', 'handleUpdate', 'validateUpdate', 'handleQuery'],
  outbound: ['scheduleActivity', 'scheduleLocalActivity', 'startChildWorkflowExecution', 'startNexusOperation', 'continueAsNew', 'signalWorkflow', 'getLogAttributes', 'getMetricTags'],
  internals: ['dispose'],
} as const;

type Kind = keyof typeof TRACED_METHODS;
type Method = (input: unknown, next: (input: unknown) => unknown) => unknown;
type Methods = Partial<Record<string, Method>>;

/**
 * The SDK's OpenTelemetry workflow interceptors, for a workflow whose submission was traced (ADR 0019). The memo that
 * says so is set after the SDK builds a workflow's interceptors, so these stand in for them and decide at their first
 * call once the memo is there (before the workflow function runs). Only a traced workflow loads the OpenTelemetry
 * module: evaluating it in each new workflow's context cost more than the rest of a job's workflow code.
 */
function tracingWhenTraced(): Required<Pick<WorkflowInterceptors, Kind>> {
  let tracing: WorkflowInterceptors | null | undefined;
  const chosen = (): WorkflowInterceptors | null => {
    if (tracing !== undefined) return tracing;
    const memo = workflowInfo().memo as JobWorkflowMemo | undefined;
    // Not known before the workflow is initialised: pass the call through and decide at the next one.
    if (memo === undefined) return null;
    // A require, not an import, so that the module is evaluated only here; the bundler still includes it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const module = memo.traced === true ? (require('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors') as { interceptors: WorkflowInterceptorsFactory }) : null;
    tracing = module ? module.interceptors() : null;
    return tracing;
  };
  const forwarder = (kind: Kind): Methods =>
    Object.fromEntries(
      TRACED_METHODS[kind].map((method): [string, Method] => [
        method,
        (input, next) => {
          const target = chosen()?.[kind]?.[0] as Methods | undefined;
          const traced = target?.[method];
          return traced ? traced.call(target, input, next) : next(input);
        },
      ]),
    );
  return {
    inbound: [forwarder('inbound') as WorkflowInboundCallsInterceptor],
    outbound: [forwarder('outbound') as WorkflowOutboundCallsInterceptor],
    internals: [forwarder('internals') as WorkflowInternalsInterceptor],
  };
}

/**
 * The job workflow's interceptors: tracing around everything for a workflow whose submission was traced, then the log
 * context for every activity (the order the two had as separate modules).
 */
export const interceptors: WorkflowInterceptorsFactory = () => {
  const tracing = tracingWhenTraced();
  return { ...tracing, outbound: [...tracing.outbound, new LogContextOutbound()] };
};
