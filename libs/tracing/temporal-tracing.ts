import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/**
 * The Temporal SDK's OpenTelemetry client and activity interceptors, installed whether tracing is on or off: off, the
 * global tracer is a no-op and no propagator injects anything. The workflow interceptors run only in a workflow whose
 * submission was traced (workflows/interceptors.ts, ADR 0019).
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
