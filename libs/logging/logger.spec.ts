import { captureLogLines } from '../../test/support/log-capture';
import { MockActivityEnvironment } from '@temporalio/testing';
import { activityLogger, ActivityLoggingInterceptor } from './activity-logging.interceptor';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { closeLogger, createLogger } from './logger';
import { temporalLogger } from './temporal-logger';


describe(createLogger.name, () => {
  it('writes one JSON object per line with level, ISO time, process and bindings, and redacts secrets', () => {
    const { lines, stream } = captureLogLines();
    const logger = createLogger('node', 'info', { node: 'gpu-1', group: 'gpu' }, stream);
    logger.info({ worker_token: 'tok-123', request: { authorization: 'Bearer abc', bootstrapSecret: 'shh' } }, 'registered');
    logger.debug('heartbeat ok');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', process: 'node', node: 'gpu-1', group: 'gpu', msg: 'registered', worker_token: '[redacted]' });
    expect(lines[0].request).toEqual({ authorization: '[redacted]', bootstrapSecret: '[redacted]' });
    expect(String(lines[0].time)).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(JSON.stringify(lines)).not.toMatch(/tok-123|abc|shh/);
  });

  it("redacts the secrets of a child's bindings and of its children's, and leaves what holds none as it was", () => {
    const { lines, stream } = captureLogLines();
    const logger = createLogger('api', 'info', { boot: { secret: 'boot-s' } }, stream);
    const child = logger.child({ token: 'child-t', peer: { password: 'child-p', name: 'cpu-1' } });
    const grandchild = child.child({ auth: { authorization: 'Bearer gc' } });
    const fields = { job: { id: 'j1', attempt: 2 }, tags: ['a', 'b'], ms: 3 };
    grandchild.info(fields, 'attempt ended');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      boot: { secret: '[redacted]' },
      token: '[redacted]',
      peer: { password: '[redacted]', name: 'cpu-1' },
      auth: { authorization: '[redacted]' },
      job: { id: 'j1', attempt: 2 },
      tags: ['a', 'b'],
      ms: 3,
    });
    expect(JSON.stringify(lines)).not.toMatch(/boot-s|child-t|child-p|Bearer gc/);
    expect(fields).toEqual({ job: { id: 'j1', attempt: 2 }, tags: ['a', 'b'], ms: 3 });
  });

  it("takes Nest's level names and shows debug lines only when asked", () => {
    const { lines, stream } = captureLogLines();
    createLogger('control', 'verbose', {}, stream).debug('cycle');
    createLogger('control', 'log', {}, stream).debug('hidden');
    expect(lines.map((l) => l.msg)).toEqual(['cycle']);
  });
});

describe(ActivityLoggingInterceptor.name, () => {
  it("logs an activity's end with its workflow, job, attempt and activity, and a failure as a warning with its type", async () => {
    const { lines, stream } = captureLogLines();
    const logger = createLogger('node', 'info', { node: 'cpu-1' }, stream);
    const env = new MockActivityEnvironment({ activityType: 'runAssignment', workflowExecution: { workflowId: 'job-j1', runId: 'r' } });
    const { defaultPayloadConverter } = await import('@temporalio/common');
    const headers = { 'mlis-log-context': defaultPayloadConverter.toPayload({ request_id: 'req-9', tenant: 'acme' }) };
    const input = { args: [{ jobId: 'j1', attempt: 2, params: { password: 'x' } }], headers };
    await env.run(async () => {
      const { Context } = await import('@temporalio/activity');
      const interceptor = new ActivityLoggingInterceptor(Context.current(), logger, 'info');
      await interceptor.execute(input as never, async () => {
        activityLogger(logger).info('runAssignment started');
        return 'ok';
      });
      activityLogger(logger).info('outside any activity');
      const failure = Object.assign(new Error('runner failed'), { type: 'RunnerError' });
      await expect(interceptor.execute(input as never, async () => Promise.reject(failure))).rejects.toThrow('runner failed');
    });
    expect(lines).toEqual([
      expect.objectContaining({ level: 'info', msg: 'runAssignment started', request_id: 'req-9', tenant: 'acme', workflow_id: 'job-j1', job_id: 'j1', attempt: 2 }),
      expect.objectContaining({ level: 'info', msg: 'activity completed', workflow_id: 'job-j1', job_id: 'j1', attempt: 2, activity: 'runAssignment', node: 'cpu-1' }),
      expect.objectContaining({ level: 'info', msg: 'outside any activity' }),
      expect.objectContaining({ level: 'warn', msg: 'activity failed', job_id: 'j1', error: 'runner failed', error_type: 'RunnerError' }),
    ]);
    expect(lines[2]).not.toHaveProperty('job_id');
    // Params are never logged.
    expect(JSON.stringify(lines)).not.toContain('password');
  });
});

describe(temporalLogger.name, () => {
  it("writes the SDK's logs as our JSON lines, its level mapped and its metadata as fields", () => {
    const { lines, stream } = captureLogLines();
    const sdk = temporalLogger(createLogger('control', 'info', {}, stream));
    sdk.info('Worker state changed', { sdkComponent: 'worker', taskQueue: 'mlis-control', state: 'RUNNING' });
    sdk.log('WARN', 'core warning', { [Symbol('internal')]: true });
    sdk.debug('not shown at info');
    // A node's worker runs activities only, by design: that is not a warning.
    sdk.warn('No workflows registered, not polling for workflow tasks', { sdkComponent: 'worker' });
    expect(lines).toEqual([
      expect.objectContaining({ level: 'info', sdk: true, msg: 'Worker state changed', sdkComponent: 'worker', taskQueue: 'mlis-control', state: 'RUNNING' }),
      expect.objectContaining({ level: 'warn', sdk: true, msg: 'core warning' }),
      expect.objectContaining({ level: 'info', sdk: true, msg: 'No workflows registered, not polling for workflow tasks' }),
    ]);
  });
});

describe(closeLogger.name, () => {
  it('has every line written, in order, once it resolves (the destination writes asynchronously)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mlis-logger-')), 'out.log');
    const logger = createLogger('api', 'info', {}, pino.destination({ dest: file, sync: false }));
    for (let i = 0; i < 2000; i += 1) logger.info({ i }, 'line');
    await closeLogger(logger);
    const written = readFileSync(file, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { i: number }).i);
    expect(written).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  });
});
