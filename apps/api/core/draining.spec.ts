import { randomUUID } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { waitFor } from '../../../test/support/wait-for';
import { createTestApp, type TestApp } from '../testing/test-app';

interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
}

/** One request on `agent`; the answer once its body has ended. */
function get(port: number, path: string, agent: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
}

describe('the API shutting down (a real socket)', () => {
  let t: TestApp;
  let port: number;
  const agent = new Agent({ keepAlive: true });

  beforeEach(async () => {
    t = await createTestApp();
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as AddressInfo).port;
  });

  afterAll(() => agent.destroy());

  it('answers long-polls, ends change streams and closes every connection, so close() does not wait on clients', async () => {
    const job = randomUUID();
    t.jobs.seed({ id: job, state: 'RUNNING' });
    // A connection kept alive after its answer, and one opened and never used.
    expect((await get(port, '/health/live', agent)).connection).toBe('keep-alive');
    const unused = connect(port, '127.0.0.1');
    await new Promise((resolve) => unused.once('connect', resolve));
    // A long-poll for a job that will not end, and a change stream.
    const polled = get(port, `/v1/jobs/${job}?wait=60`, agent);
    const ticket = (await (await fetch(`http://127.0.0.1:${port}/v1/stream/tickets`, { method: 'POST' })).json()) as { ticket: string };
    const stream = await fetch(`http://127.0.0.1:${port}/v1/stream?ticket=${ticket.ticket}`);
    expect(stream.status).toBe(200);
    const streamed = stream.text();
    await waitFor(async () => t.finished.subscribed === 1, { timeoutMs: 5_000, intervalMs: 10, description: 'the long-poll waiting' });

    // Within the test's timeout: before, the stream held close() for as long as its client stayed.
    await t.app.close();

    const answer = await polled;
    expect(answer).toMatchObject({ status: 200, connection: 'close' });
    expect(JSON.parse(answer.body)).toMatchObject({ id: job, state: 'RUNNING' });
    expect(await streamed).toContain('retry: 10000');
    await closed(unused);
  });
});
