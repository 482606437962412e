import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { captureLogLines } from '../../test/support/log-capture';
import { createLogger } from '@mlis/logging';
import { activeTraceId, inSpan, startTracing } from './tracing';

// One file, in this order: the no-op default first, then the global provider a configured endpoint registers.
describe(startTracing.name, () => {
  it('without an endpoint registers nothing: spans are no-ops, log lines carry no trace id, the sink and shutdown do nothing', async () => {
    const tracing = startTracing('control', { otlpEndpoint: null });
    expect(tracing.enabled).toBe(false);
    const { lines, stream } = captureLogLines();
    const logger = createLogger('control', 'info', {}, stream);
    const result = await inSpan('work', { 'mlis.job_id': 'j1' }, async () => {
      expect(trace.getActiveSpan()).toBeUndefined();
      expect(activeTraceId()).toBeUndefined();
      logger.info('inside');
      return 42;
    });
    expect(result).toBe(42);
    expect(trace.getTracer('any').startSpan('s').isRecording()).toBe(false);
    expect(lines).toEqual([expect.not.objectContaining({ trace_id: expect.anything() })]);
    expect(tracing.workflowSinks.exporter.export.fn({} as never, [])).toBeUndefined();
    await expect(tracing.shutdown()).resolves.toBeUndefined();
  });

  it('with an endpoint exports spans as OTLP/HTTP JSON to <endpoint>/v1/traces under service mlis-<process>, failures marked, log lines with the trace id', async () => {
    const bodies: { path?: string; body: any }[] = [];
    const server = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        bodies.push({ path: req.url, body: JSON.parse(raw) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const tracing = startTracing('node', { otlpEndpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }, { 'service.instance.id': 'cpu-1' });
      expect(tracing.enabled).toBe(true);
      const { lines, stream } = captureLogLines();
      const logger = createLogger('node', 'info', {}, stream);
      let traceId: string | undefined;
      await inSpan('runAssignment', { 'mlis.job_id': 'j1', 'mlis.attempt': 2 }, async () => {
        traceId = activeTraceId();
        logger.info('inside');
      });
      await expect(inSpan('failing', {}, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      logger.info('outside');
      await tracing.shutdown();

      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(lines).toEqual([expect.objectContaining({ msg: 'inside', trace_id: traceId }), expect.not.objectContaining({ trace_id: expect.anything() })]);
      expect(bodies.map((b) => b.path)).toEqual(['/v1/traces']);
      const [resourceSpans] = bodies[0].body.resourceSpans;
      const resource = Object.fromEntries(resourceSpans.resource.attributes.map((a: any) => [a.key, a.value.stringValue]));
      expect(resource).toMatchObject({ 'service.name': 'mlis-node', 'service.instance.id': 'cpu-1' });
      const spans = resourceSpans.scopeSpans.flatMap((s: any) => s.spans);
      expect(spans).toEqual([
        expect.objectContaining({ name: 'runAssignment', traceId, attributes: expect.arrayContaining([{ key: 'mlis.job_id', value: { stringValue: 'j1' } }]) }),
        expect.objectContaining({ name: 'failing', status: { code: 2, message: 'boom' } }),
      ]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
