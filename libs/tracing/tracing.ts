import { SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { makeWorkflowExporter, type OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import type { InjectedSinks } from '@temporalio/worker';
import type { TracingConfig } from '@mlis/config';

export type TracedProcess = 'api' | 'control' | 'node';

export interface Tracing {
  /** Whether spans leave the process (an OTLP endpoint is configured). */
  enabled: boolean;
  /** The sink the workflow sandbox hands its spans to; a no-op when tracing is off (docs/adr/0026-tracing.md). */
  workflowSinks: InjectedSinks<OpenTelemetrySinks>;
  /** Flushes the spans still buffered; call once, at the process's end. */
  shutdown(): Promise<void>;
}

const OFF: Tracing = {
  enabled: false,
  workflowSinks: { exporter: { export: { fn: () => undefined } } },
  shutdown: () => Promise.resolve(),
};

/**
 * The one tracing setup of every MLIS process. With an OTLP endpoint it registers the global tracer provider
 * (service `mlis-<process>`, spans batched to `<endpoint>/v1/traces` as OTLP/HTTP JSON), the async-context
 * manager and the W3C propagator; without one it registers nothing, so every tracer is the API's no-op.
 */
export function startTracing(process: TracedProcess, config: TracingConfig, attributes: Attributes = {}): Tracing {
  if (config.otlpEndpoint === null) return OFF;
  const resource = new Resource({ 'service.name': `mlis-${process}`, ...attributes });
  const processor = new BatchSpanProcessor(new OTLPTraceExporter({ url: `${config.otlpEndpoint}/v1/traces` }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();
  return {
    enabled: true,
    workflowSinks: { exporter: makeWorkflowExporter(processor, resource) },
    shutdown: () => provider.shutdown(),
  };
}

const tracer = trace.getTracer('mlis');

/** Runs `fn` in a span of that name (the active one while it runs), marking it failed when `fn` throws. */
export async function inSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn();
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Adds attributes learnt mid-span (a job's id once it has one) to the active span, if any. */
export function setSpanAttributes(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** The active span's trace id, for log lines; undefined outside a sampled span (and always when tracing is off). */
export function activeTraceId(): string | undefined {
  const context = trace.getActiveSpan()?.spanContext();
  return context && trace.isSpanContextValid(context) ? context.traceId : undefined;
}
