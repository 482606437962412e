import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, env, poll, stackBootstrapSecret, TERMINAL, waitForJob } from './support/api';
import { ROOT } from './support/stack-env';

/** The lines of the current run of one stack process (scripts/stack.sh appends every run to one file under MLIS_STATE_DIR). */
function currentRun(process: string): string[] {
  const lines = readFileSync(join(env.processEnv.MLIS_STATE_DIR, `${process}.log`), 'utf8').split('\n').filter(Boolean);
  const starts = lines.flatMap((line, i) => (line.startsWith('{') && (JSON.parse(line) as { msg?: string }).msg === 'starting' ? [i] : []));
  const start = starts.length > 0 ? starts[starts.length - 1] : -1;
  expect({ process, started: start >= 0 }).toEqual({ process, started: true });
  return lines.slice(start);
}

describe('process logs', () => {
  it("every process writes JSON lines; a node's lines about an attempt carry the submission's request id and tenant, its job, attempt and workflow; no secret anywhere", async () => {
    const submitted = await api('POST', '/v1/jobs', { task_type: 'sleep', params: { seconds: 0.2 }, cpu: 1, mem_mb: 256, gpu: 0 });
    expect(submitted.status).toBe(202);
    const accepted = submitted.body;
    const requestId = submitted.headers.get('x-request-id');
    const apiLine = await poll('the access log line of the submission', async () =>
      readFileSync(join(env.processEnv.MLIS_STATE_DIR, 'api.log'), 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((line) => line.request_id === requestId),
    );
    expect(apiLine).toMatchObject({ level: 'info', process: 'api', context: 'http', method: 'POST', path: '/v1/jobs', status: 202 });
    const done = await waitForJob(accepted.id, (j) => TERMINAL.includes(j.state));
    expect(done.state).toBe('SUCCEEDED');
    const node = done.latest_assignment.node_id as string;

    for (const process of ['control', `node-${node}`]) {
      expect({ process, notJson: currentRun(process).filter((line) => !line.startsWith('{')) }).toEqual({ process, notJson: [] });
    }
    const lines = currentRun(`node-${node}`).map((line) => JSON.parse(line) as Record<string, unknown>);
    // The Temporal SDK's own lines come through the same logger.
    expect(lines.some((line) => line.sdk === true && line.msg === 'Worker state changed')).toBe(true);
    const attemptLines = lines.filter((line) => line.job_id === accepted.id);
    expect(attemptLines.length).toBeGreaterThanOrEqual(2);
    for (const line of attemptLines) {
      expect(line).toMatchObject({
        process: 'node',
        node,
        attempt: 1,
        workflow_id: `job-${accepted.id}`,
        activity: 'runAssignment',
        request_id: requestId,
        tenant: 'default',
      });
    }
    expect(lines.some((line) => /^registered as incarnation \d+$/.test(String(line.msg)))).toBe(true);

    const everything = ['api', 'control', 'node-cpu-1', 'node-cpu-2', 'node-gpu-1', 'node-gpu-2']
      .map((p) => readFileSync(join(env.processEnv.MLIS_STATE_DIR, `${p}.log`), 'utf8'))
      .join('\n');
    expect(everything).not.toContain(stackBootstrapSecret());
    expect(everything).not.toMatch(/"worker_token":"ey/);
  });

  it('an API told to stop (SIGTERM) with a change stream open ends it, writes its last lines and exits 0', async () => {
    const base = `http://127.0.0.1:${Number(env.processEnv.MLIS_API_PORT) + 11}`;
    const child = spawn('node', [join(ROOT, 'dist/apps/api/main.js')], {
      env: { ...process.env, ...env.processEnv, MLIS_API_PORT: new URL(base).port },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await poll('the second API ready', async () => ((await fetch(`${base}/health/ready`)).ok ? true : undefined), { timeoutMs: 60_000 });
      const ticket = await api('POST', '/v1/stream/tickets', undefined, {}, { baseUrl: base });
      // Held open by its client for as long as the test runs: before, it held the process up as long.
      const stream = await fetch(`${base}/v1/stream?ticket=${ticket.body.ticket as string}`);
      expect(stream.status).toBe(200);
      const streamed = stream.text();

      child.kill('SIGTERM');

      expect(await exited).toBe(0);
      expect(await streamed).toContain('retry: 10000');
      const lines = output
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      // The stream's access line is written as the stream ends, during the shutdown: the last lines are not lost.
      expect(lines.find((line) => line.path === '/v1/stream')).toMatchObject({ context: 'http', method: 'GET', status: 200 });
      expect(lines.find((line) => line.msg === 'draining')).toMatchObject({ context: 'Draining', answering: 1 });
      // Written in the order they were logged: the buffer is flushed before the exit, not around a write under way.
      const times = lines.map((line) => String(line.time));
      expect(times).toEqual([...times].sort());
      const messages = lines.map((line) => line.msg);
      expect(messages.indexOf('stopped')).toBeGreaterThan(messages.indexOf('draining'));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
