import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { RunAssignmentSpanInterceptor } from './run-assignment-span.interceptor';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
beforeAll(() => provider.register());
afterAll(() => provider.shutdown());

const node = { nodeId: 'cpu-1', group: 'cpu' };
const input = (args: unknown[]) => ({ args, headers: {} }) as never;

describe(RunAssignmentSpanInterceptor.name, () => {
  beforeEach(() => exporter.reset());

  it('wraps runAssignment in a span with the job, attempt, node, group and task type, and marks a failed attempt', async () => {
    const interceptor = new RunAssignmentSpanInterceptor('runAssignment', node);
    const assignment = { jobId: 'j1', attempt: 2, taskType: 'sleep', params: { secret: 'x' } };
    await expect(interceptor.execute(input([assignment]), async () => 'done')).resolves.toBe('done');
    await expect(interceptor.execute(input([assignment]), () => Promise.reject(new Error('runner failed')))).rejects.toThrow('runner failed');
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['runAssignment', 'runAssignment']);
    expect(spans[0].attributes).toEqual({ 'mlis.node': 'cpu-1', 'mlis.group': 'cpu', 'mlis.job_id': 'j1', 'mlis.attempt': 2, 'mlis.task_type': 'sleep' });
    expect(spans[0].status.code).toBe(SpanStatusCode.UNSET);
    expect(spans[1].status).toEqual({ code: SpanStatusCode.ERROR, message: 'runner failed' });
    // Params never become attributes.
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain('secret');
  });

  it('leaves any other activity alone (control runs the ledger ones)', async () => {
    const interceptor = new RunAssignmentSpanInterceptor('markAssignmentRunning', node);
    await expect(interceptor.execute(input([{ jobId: 'j1' }]), async () => 'ok')).resolves.toBe('ok');
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});
