import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/**
 * The Temporal SDK's OpenTelemetry interceptors, installed whether tracing is on or off: off, the global tracer
 * is a no-op and no propagator injects anything; the workflow bundle is then the same in every configuration.
 */

/** Starting and signalling a workflow opens a span and hands its context to the workflow in a header. */
export function tracingClientInterceptors(): WorkflowClientInterceptor[] {
  return [new OpenTelemetryWorkflowClientInterceptor()];
}

/** An activity runs in a span whose parent is the workflow's (from the activity's headers). List it first, so the logging interceptor sees the span. */
export const tracingActivityInterceptors: ActivityInterceptorsFactory = (context) => ({
  inbound: new OpenTelemetryActivityInboundInterceptor(context),
  outbound: new OpenTelemetryActivityOutboundInterceptor(context),
});

/** For `interceptors.workflowModules`: spans for the workflow run, its signals and the activities it schedules. */
export const TRACING_WORKFLOW_MODULE = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');
