import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { api, env, poll, TERMINAL, waitForJob } from './support/api';
import { stack, type StackEnv } from './support/stack-env';

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: number | string; boolValue?: boolean };
}
/** One span as the receiver keeps it: OTLP/HTTP JSON, flattened with its process's service.name. */
interface ReceivedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, string | number | boolean | undefined>;
}

function attributesOf(list: OtlpAttribute[] | undefined): ReceivedSpan['attributes'] {
  return Object.fromEntries(
    (list ?? []).map(({ key, value }) => [key, value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : value.boolValue)]),
  );
}

/** A tiny OTLP/HTTP receiver on 127.0.0.1: POST /v1/traces with JSON bodies, every span kept in memory. */
async function startReceiver(): Promise<{ server: Server; url: string; spans: ReceivedSpan[]; requests: { path: string; type: string }[] }> {
  const spans: ReceivedSpan[] = [];
  const requests: { path: string; type: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', type: req.headers['content-type'] ?? '' });
      const raw = Buffer.concat(chunks);
      const body = JSON.parse((req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8')) as {
        resourceSpans?: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: { spans?: (Omit<ReceivedSpan, 'service' | 'attributes'> & { attributes?: OtlpAttribute[] })[] }[] }[];
      };
      for (const resourceSpans of body.resourceSpans ?? []) {
        const service = String(attributesOf(resourceSpans.resource?.attributes)['service.name']);
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            spans.push({
              service,
              name: span.name,
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId || undefined,
              attributes: attributesOf(span.attributes),
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, spans, requests };
}

/** Restarts api, control and every node with `extra` in their environment, and waits until the nodes are ACTIVE again. */
async function restartStack(extra: Record<string, string>): Promise<void> {
  const withExtra: StackEnv = { ...env, processEnv: { ...env.processEnv, ...extra } };
  stack(withExtra, 'stop');
  stack(withExtra, 'start');
  await poll('every node ACTIVE', async () => {
    const { body } = await api('GET', '/v1/workers');
    const items = body.items as { status: string }[];
    return items.length > 0 && items.every((n) => n.status === 'ACTIVE') ? items : undefined;
  });
}

describe('traces', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    receiver = await startReceiver();
    await restartStack({ MLIS_OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
  }, 120_000);

  afterAll(async () => {
    // The specs after this one get the stack as global setup made it: tracing off.
    await restartStack({});
    await new Promise((resolve) => receiver.server.close(resolve));
  }, 120_000);

  it('every process says on its start line that it traces', () => {
    const lastLine = (file: string, msg: string): Record<string, unknown> | undefined =>
      readFileSync(join(env.processEnv.MLIS_STATE_DIR, file), 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line.msg === msg)
        .at(-1);
    expect(lastLine('api.log', 'listening')).toMatchObject({ tracing: true });
    expect(lastLine('control.log', 'starting')).toMatchObject({ tracing: true });
  });

  it("one trace links the API's submission span, the workflow's spans and the node's runAssignment span; the node's log lines carry its id", async () => {
    const submitted = await api('POST', '/v1/jobs', { task_type: 'sleep', params: { seconds: 0.2 }, cpu: 1, mem_mb: 256, gpu: 0 });
    expect(submitted.status).toBe(202);
    const jobId = submitted.body.id as string;
    const requestId = submitted.headers.get('x-request-id');
    const done = await waitForJob(jobId, (j) => TERMINAL.includes(j.state));
    expect(done.state).toBe('SUCCEEDED');
    const node = done.latest_assignment.node_id as string;

    const submission = await poll('the submitJob span', async () =>
      receiver.spans.find((s) => s.service === 'mlis-api' && s.name === 'submitJob' && s.attributes['mlis.job_id'] === jobId),
    );
    expect(submission.traceId).toMatch(/^[0-9a-f]{32}$/);
    // The trace starts at the submission.
    expect(submission.parentSpanId).toBeUndefined();
    expect(submission.attributes).toMatchObject({ 'mlis.request_id': requestId, 'mlis.tenant': 'default' });
    const inTrace = (): ReceivedSpan[] => receiver.spans.filter((s) => s.traceId === submission.traceId);
    // The workflow's run span ends with the workflow; the node's and the API's batches come within seconds. The API
    // that started the workflow ran it (ADR 0052), so the workflow's spans are the API's too.
    const spans = await poll('the workflow run and the node span in the trace', async () => {
      const all = inTrace();
      const run = all.find((s) => s.service === 'mlis-api' && s.name.startsWith('RunWorkflow:'));
      const assignment = all.find((s) => s.service === 'mlis-node' && s.name === 'runAssignment');
      return run && assignment ? all : undefined;
    });
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const parentOf = (span: ReceivedSpan): ReceivedSpan | undefined => (span.parentSpanId ? byId.get(span.parentSpanId) : undefined);

    const start = spans.find((s) => s.service === 'mlis-api' && s.name.startsWith('StartWorkflow:'));
    expect(start && parentOf(start)).toBe(submission);
    const run = spans.find((s) => s.service === 'mlis-api' && s.name.startsWith('RunWorkflow:'));
    expect(run && parentOf(run)).toBe(start);
    // Ledger activities run where the workflow runs, under it.
    expect(spans.some((s) => s.service === 'mlis-api' && s.name.startsWith('RunActivity:'))).toBe(true);

    const assignment = spans.find((s) => s.service === 'mlis-node' && s.name === 'runAssignment') as ReceivedSpan;
    expect(assignment.attributes).toMatchObject({ 'mlis.job_id': jobId, 'mlis.attempt': 1, 'mlis.node': node, 'mlis.task_type': 'sleep' });
    // runAssignment ← the node's RunActivity span ← the workflow's StartActivity span ← the workflow run.
    const execute = parentOf(assignment);
    expect(execute).toMatchObject({ service: 'mlis-node', name: 'RunActivity:runAssignment' });
    const scheduled = execute && parentOf(execute);
    expect(scheduled).toMatchObject({ service: 'mlis-api', name: 'StartActivity:runAssignment' });
    let ancestor = scheduled;
    while (ancestor && ancestor !== run) ancestor = parentOf(ancestor);
    expect(ancestor).toBe(run);
    expect(receiver.requests.every((r) => r.path === '/v1/traces' && r.type.startsWith('application/json'))).toBe(true);

    // The node's log lines about the attempt carry the trace id.
    const nodeLines = readFileSync(join(env.processEnv.MLIS_STATE_DIR, `node-${node}.log`), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.job_id === jobId);
    expect(nodeLines.length).toBeGreaterThanOrEqual(1);
    for (const line of nodeLines) expect(line).toMatchObject({ trace_id: submission.traceId });
  });
});
