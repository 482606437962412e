import { Agent, createServer, request as httpRequest, type ClientRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { finished } from 'node:stream/promises';
import express, { type Request, type Response } from 'express';
import { bodyIdleTimeoutMiddleware, configureHttpServer } from './body-idle-timeout.middleware';
import { jsonBodyMiddleware } from './json-body.middleware';
import { requestIdMiddleware } from './request-context';

const IDLE_SECONDS = 1;

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** How the streaming route's reading ended: its bytes, or the error its reader got. */
type Read = { bytes: number } | { error: string };

describe('bodyIdleTimeoutMiddleware (a real socket)', () => {
  let server: Server;
  let port: number;
  let reads: Read[];

  beforeAll(async () => {
    reads = [];
    const app = express();
    app.use(requestIdMiddleware);
    app.use(bodyIdleTimeoutMiddleware(IDLE_SECONDS));
    app.use(jsonBodyMiddleware(1024 * 1024, (req) => req.path === '/stream'));
    app.post('/json', (req: Request, res: Response) => {
      res.json({ got: req.body });
    });
    // Reads the body as an upload does; `?pause_ms=` holds it unread first, as a store slow to take bytes does.
    app.post('/stream', (req: Request, res: Response) => {
      const pauseMs = Number(req.query.pause_ms ?? 0);
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (pauseMs > 0 && bytes === chunk.length) {
          req.pause();
          setTimeout(() => req.resume(), pauseMs);
        }
      });
      finished(req).then(
        () => {
          reads.push({ bytes });
          res.json({ bytes });
        },
        (error: Error) => reads.push({ error: error.message }),
      );
    });
    app.use((error: unknown, _req: Request, res: Response, _next: unknown) => res.status(500).json({ error: String(error) }));
    server = createServer(app);
    configureHttpServer(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Sends `chunks` (one every `everyMs`) of a body announced as their total, then waits for the answer. */
  function send(path: string, chunks: Buffer[], everyMs: number, announced = chunks.reduce((n, c) => n + c.length, 0)): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req: ClientRequest = httpRequest({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-length': String(announced), 'content-type': 'application/json' } });
      req.on('error', reject);
      req.on('response', (res: IncomingMessage) => {
        const body: Buffer[] = [];
        res.on('data', (chunk: Buffer) => body.push(chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(body).toString() });
        });
      });
      let next = 0;
      const write = (): void => {
        if (next >= chunks.length) return;
        req.write(chunks[next++]);
        setTimeout(write, everyMs);
      };
      write();
    });
  }

  it('is how Node is set: no cap on receiving a whole request, keep-alive longer than common proxies', () => {
    expect(server.requestTimeout).toBe(0);
    expect(server.keepAliveTimeout).toBe(65_000);
    expect(server.headersTimeout).toBeGreaterThan(server.keepAliveTimeout);
  });

  it('lets a slow body that keeps arriving take several idle periods', async () => {
    const chunks = Array.from({ length: 12 }, () => Buffer.alloc(100, 'a'));
    const started = Date.now();
    const answer = await send('/stream', chunks, 300);
    expect(Date.now() - started).toBeGreaterThan(3 * IDLE_SECONDS * 1000);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ bytes: 1200 });
  });

  it('answers a body that stops arriving with 408 request_timeout, closes the connection and fails its reader', async () => {
    reads = [];
    const answer = await send('/stream', [Buffer.alloc(100, 'a')], 0, 1000);
    expect(answer.status).toBe(408);
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body)).toEqual({
      error: { code: 'request_timeout', message: `no byte of the request body arrived for ${IDLE_SECONDS} s; nothing of it was kept`, request_id: answer.headers['x-request-id'] },
    });
    expect(reads).toEqual([{ error: expect.stringContaining('no byte of the request body arrived') }]);
  });

  it('does the same for a JSON body', async () => {
    const answer = await send('/json', [Buffer.from('{"a":')], 0, 100);
    expect(answer.status).toBe(408);
    expect(JSON.parse(answer.body).error.code).toBe('request_timeout');
  });

  it.each([
    // More than the socket buffers hold: the rest waits on the client's side while the body is held.
    ['held part-way', 32, 1024 * 1024],
    // Arrived whole while held, not yet read.
    ['in whole but unread', 2, 100],
  ])('does not count the time the API holds a body unread (%s)', async (_case, count, size) => {
    reads = [];
    const chunks = Array.from({ length: count }, () => Buffer.alloc(size, 'a'));
    const answer = await send(`/stream?pause_ms=${3 * IDLE_SECONDS * 1000}`, chunks, 10);
    expect(answer.status).toBe(200);
    expect(reads).toEqual([{ bytes: count * size }]);
  });

  it('leaves a kept-alive connection to the keep-alive timeout once the body has arrived', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const post = (body: string): Promise<{ status: number; reused: boolean }> =>
      new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/json', agent, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
        });
        req.on('error', reject);
        req.end(body);
      });
    try {
      expect(await post('{"a":1}')).toEqual({ status: 200, reused: false });
      // Twice the idle timeout with the connection unused: a timer left armed would have closed it.
      await new Promise((resolve) => setTimeout(resolve, 2 * IDLE_SECONDS * 1000));
      expect(await post('{"a":2}')).toEqual({ status: 200, reused: true });
    } finally {
      agent.destroy();
    }
  });
});
