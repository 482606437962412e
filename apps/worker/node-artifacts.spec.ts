import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssignmentNotLiveError } from '@mlis/runners';
import { ApiEndpoints } from './api-endpoints';
import { ArtifactTransferError, NodeArtifacts } from './node-artifacts';

const TOKEN = 'worker-token-for-the-spec';
const ASSIGNMENT = '22222222-2222-4222-8222-222222222222';

interface Stored {
  bytes: Buffer;
  /** What the server claims; a lying server sends another digest than the bytes have. */
  sha256: string;
}

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  assignment: string | undefined;
  contentType: string | undefined;
  body: Buffer;
}

/** A stand-in for the artifacts API: the routes and headers the node uses, nothing else. */
class FakeArtifactsApi {
  readonly artifacts = new Map<string, Stored>();
  readonly seen: Seen[] = [];
  /** Holds every body download until released, so a test can open the same artifact concurrently. */
  gate: Promise<void> | undefined;
  /** Answers this many uploads with `failStatus` (503 unless set) before accepting one. */
  failUploads = 0;
  failStatus = 503;
  /** Answers this many reads (GET) with `failStatus` before serving one. */
  failReads = 0;
  /** The assignments live on the node; a held download is checked again once its gate opens. */
  readonly live = new Set<string>();
  /** Called as each request arrives, before it is answered. */
  onRequest: (() => void) | undefined;
  private server!: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(({ status, headers, body }) => {
        res.writeHead(status, headers);
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  downloads(id: string): number {
    return this.seen.filter((s) => s.method === 'GET' && s.url === `/v1/artifacts/${id}`).length;
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; headers: Record<string, string>; body: Buffer | string }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const seen: Seen = {
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      assignment: req.headers['x-mlis-assignment'] as string | undefined,
      contentType: req.headers['content-type'],
      body: Buffer.concat(chunks),
    };
    this.seen.push(seen);
    this.onRequest?.();
    const json = (status: number, body: unknown) => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    // As the API answers a node acting for an assignment that is not live on its incarnation.
    const notLive = json(409, { error: { code: 'assignment_not_live', message: 'assignment is not live on this node incarnation' } });
    if (seen.authorization !== `Bearer ${TOKEN}` || !this.live.has(seen.assignment ?? '')) return notLive;
    if (seen.method === 'GET' && this.failReads > 0) {
      this.failReads -= 1;
      return json(this.failStatus, { error: { code: 'dependency_unavailable', message: 'restarting' } });
    }
    if (seen.method === 'POST' && this.failUploads > 0) {
      this.failUploads -= 1;
      return json(this.failStatus, { error: { code: this.failStatus === 507 ? 'insufficient_storage' : 'dependency_unavailable', message: 'store down' } });
    }
    if (seen.method === 'POST' && seen.url.startsWith('/v1/artifacts?')) {
      const id = randomUUID();
      const sha256 = createHash('sha256').update(seen.body).digest('hex');
      this.artifacts.set(id, { bytes: seen.body, sha256 });
      return json(201, { id, sha256, size_bytes: seen.body.length, content_type: seen.contentType });
    }
    const match = /^\/v1\/artifacts\/([0-9a-f-]{36})(\/meta)?$/.exec(seen.url);
    const stored = match ? this.artifacts.get(match[1]) : undefined;
    if (!match || !stored) return json(404, { error: { code: 'artifact_not_found', message: 'not found' } });
    if (match[2]) return json(200, { id: match[1], sha256: stored.sha256, size_bytes: stored.bytes.length, content_type: 'application/octet-stream' });
    await this.gate;
    if (!this.live.has(seen.assignment ?? '')) return notLive;
    return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: stored.bytes };
  }
}

describe(NodeArtifacts.name, () => {
  const api = new FakeArtifactsApi();
  let apiUrl: string;
  let cacheDir: string;
  let artifacts: NodeArtifacts;

  beforeAll(async () => {
    apiUrl = await api.start();
  });
  afterAll(() => api.stop());
  beforeEach(() => {
    cacheDir = mkdtempSync(join(tmpdir(), 'mlis-node-artifacts-'));
    artifacts = new NodeArtifacts({ api: new ApiEndpoints([apiUrl]), cacheDir, token: () => TOKEN });
    api.seen.length = 0;
    api.gate = undefined;
    api.failUploads = 0;
    api.failStatus = 503;
    api.failReads = 0;
    api.onRequest = undefined;
    api.live.clear();
    api.live.add(ASSIGNMENT);
  });
  afterEach(() => rmSync(cacheDir, { recursive: true, force: true }));

  function store(bytes: Buffer, sha256 = createHash('sha256').update(bytes).digest('hex')): string {
    const id = randomUUID();
    api.artifacts.set(id, { bytes, sha256 });
    return id;
  }

  it('downloads an artifact into the cache by sha256, read-only, with the worker token and the assignment', async () => {
    const bytes = Buffer.from('{"texts":["a","b"]}');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const id = store(bytes);

    const local = await artifacts.reader(ASSIGNMENT).open(`artifact://${id}`);

    expect(local).toEqual({ id, path: join(cacheDir, sha256), sha256, sizeBytes: bytes.length, contentType: 'application/octet-stream' });
    expect(readFileSync(local.path)).toEqual(bytes);
    expect(statSync(local.path).mode & 0o777).toBe(0o444);
    expect(readdirSync(join(cacheDir, 'tmp'))).toEqual([]);
    expect(api.seen.map((s) => [s.method, s.url, s.authorization, s.assignment])).toEqual([
      ['GET', `/v1/artifacts/${id}/meta`, `Bearer ${TOKEN}`, ASSIGNMENT],
      ['GET', `/v1/artifacts/${id}`, `Bearer ${TOKEN}`, ASSIGNMENT],
    ]);
  });

  it('reuses the cached copy on the next open but still asks the API whether this assignment may read it', async () => {
    const id = store(Buffer.alloc(4096, 7));
    await artifacts.open(ASSIGNMENT, `artifact://${id}`);
    const again = await artifacts.open(ASSIGNMENT, `artifact://${id}`);

    expect(readFileSync(again.path)).toEqual(Buffer.alloc(4096, 7));
    expect(api.downloads(id)).toBe(1);
    expect(api.seen.filter((s) => s.url.endsWith('/meta'))).toHaveLength(2);
    // The API refuses another assignment: the cached bytes are not handed out.
    const refused = await artifacts.open('99999999-9999-4999-8999-999999999999', `artifact://${id}`).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AssignmentNotLiveError);
    expect(refused).toMatchObject({ message: expect.stringContaining('HTTP 409 assignment_not_live') });
  });

  it('fetches the bytes once when several jobs open the same artifact at the same time', async () => {
    const id = store(Buffer.alloc(256 * 1024, 3));
    let release!: () => void;
    api.gate = new Promise((resolve) => (release = resolve));
    const opens = Array.from({ length: 5 }, () => artifacts.open(ASSIGNMENT, `artifact://${id}`));
    // All five have asked for the metadata before the one download is let through.
    for (const deadline = Date.now() + 5000; api.seen.filter((s) => s.url.endsWith('/meta')).length < 5; ) {
      if (Date.now() > deadline) throw new Error('the opens never reached the API');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    release();
    const locals = await Promise.all(opens);

    expect(new Set(locals.map((local) => local.path)).size).toBe(1);
    expect(api.downloads(id)).toBe(1);
  });

  it("downloads again under its own assignment when another job's shared download fails, its assignment ended", async () => {
    const bytes = Buffer.alloc(64 * 1024, 5);
    const id = store(bytes);
    const cancelled = '33333333-3333-4333-8333-333333333333';
    api.live.add(cancelled);
    let release!: () => void;
    api.gate = new Promise((resolve) => (release = resolve));
    const first = artifacts.open(cancelled, `artifact://${id}`).catch((error: unknown) => error);
    const second = artifacts.open(ASSIGNMENT, `artifact://${id}`);
    for (const deadline = Date.now() + 5000; api.seen.filter((s) => s.url.endsWith('/meta')).length < 2; ) {
      if (Date.now() > deadline) throw new Error('the opens never reached the API');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // The first job is cancelled while its download (the one both wait for) is under way.
    api.live.delete(cancelled);
    release();

    expect(await first).toBeInstanceOf(AssignmentNotLiveError);
    expect(readFileSync((await second).path)).toEqual(bytes);
    expect(api.seen.filter((s) => s.url === `/v1/artifacts/${id}`).map((s) => s.assignment)).toEqual([cancelled, ASSIGNMENT]);
  });

  it('keeps nothing when the bytes do not match the sha256 the API announced', async () => {
    const id = store(Buffer.from('the real bytes'), 'f'.repeat(64));

    await expect(artifacts.open(ASSIGNMENT, `artifact://${id}`)).rejects.toThrow(/expected 14 bytes with f{64}/);
    expect(readdirSync(cacheDir)).toEqual(['tmp']);
    expect(readdirSync(join(cacheDir, 'tmp'))).toEqual([]);
  });

  it('refuses a malformed reference without asking the API, and reports a refusal with its status', async () => {
    await expect(artifacts.open(ASSIGNMENT, 'artifact://not-a-uuid')).rejects.toThrow(/is not an artifact reference/);
    expect(api.seen).toEqual([]);
    const missing = await artifacts.open(ASSIGNMENT, `artifact://${randomUUID()}`).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(ArtifactTransferError);
    expect(missing).toMatchObject({ status: 404, message: expect.stringContaining('artifact_not_found') });
  });

  it('uploads raw bytes with their sha256 and content type and returns the new id', async () => {
    const body = Buffer.from(JSON.stringify({ vectors: [[0.1, 0.2]] }));
    const id = await artifacts.upload(ASSIGNMENT, body, 'application/json', 'result-job.json');

    expect(api.artifacts.get(id)?.bytes).toEqual(body);
    const [post] = api.seen;
    const query = new URL(post.url, apiUrl).searchParams;
    expect(post).toMatchObject({ method: 'POST', authorization: `Bearer ${TOKEN}`, assignment: ASSIGNMENT, contentType: 'application/json' });
    expect(query.get('name')).toBe('result-job.json');
    expect(query.get('sha256')).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('asks again when the API is unavailable, and gives up after three answers of 503', async () => {
    api.failUploads = 2;
    const id = await artifacts.upload(ASSIGNMENT, Buffer.from('{"a":1}'), 'application/json', 'r.json');
    expect(api.artifacts.get(id)?.bytes.toString()).toBe('{"a":1}');
    expect(api.seen.filter((s) => s.method === 'POST')).toHaveLength(3);

    api.failUploads = 3;
    await expect(artifacts.upload(ASSIGNMENT, Buffer.from('{"a":2}'), 'application/json', 'r.json')).rejects.toMatchObject({ status: 503 });
  });

  it("for an attempt, waits out a full store (507) beyond three tries, until the attempt's signal aborts", async () => {
    const patient = new NodeArtifacts({ api: new ApiEndpoints([apiUrl]), cacheDir, token: () => TOKEN, retryMs: 10 });
    const posts = () => api.seen.filter((s) => s.method === 'POST').length;
    api.failStatus = 507;
    api.failUploads = 5;
    const id = await patient.upload(ASSIGNMENT, Buffer.from('{"a":3}'), 'application/json', 'r.json', new AbortController().signal);
    expect(api.artifacts.get(id)?.bytes.toString()).toBe('{"a":3}');
    expect(posts()).toBe(6);

    api.failUploads = Number.MAX_SAFE_INTEGER;
    const attempt = new AbortController();
    const abandoned = patient.upload(ASSIGNMENT, Buffer.from('{"a":4}'), 'application/json', 'r.json', attempt.signal);
    const deadline = Date.now() + 5_000;
    while (posts() < 6 + 10 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    attempt.abort();
    // The 507 it last saw, or the abort of the request in flight: either way the upload gives up.
    await expect(abandoned).rejects.toMatchObject({ message: expect.stringMatching(/insufficient_storage|abort/i) });
    expect(posts()).toBeGreaterThanOrEqual(16);
  });

  it('asks the next API when the preferred one is unreachable or answers 503, and stays with the one that answered', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const unreachable = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const endpoints = new ApiEndpoints([unreachable, apiUrl]);
    const failingOver = new NodeArtifacts({ api: endpoints, cacheDir, token: () => TOKEN, retryMs: 10 });

    const id = await failingOver.upload(ASSIGNMENT, Buffer.from('{"a":5}'), 'application/json', 'r.json');
    expect(api.artifacts.get(id)?.bytes.toString()).toBe('{"a":5}');
    expect(endpoints.preferred).toBe(apiUrl);

    // The API in use answers 503 (draining): the next read goes back round to the other, which is still down, and
    // then to this one again.
    api.failStatus = 503;
    api.failReads = 1;
    const local = await failingOver.open(ASSIGNMENT, `artifact://${id}`);
    expect(readFileSync(local.path, 'utf8')).toBe('{"a":5}');
    expect(api.seen.filter((s) => s.url === `/v1/artifacts/${id}/meta`)).toHaveLength(2);
    expect(endpoints.preferred).toBe(apiUrl);
  });

  it('for an attempt, opens an artifact once the API answers again after more than three 503s', async () => {
    const patient = new NodeArtifacts({ api: new ApiEndpoints([apiUrl]), cacheDir, token: () => TOKEN, retryMs: 10 });
    const bytes = Buffer.from('read after the restart');
    const id = store(bytes);
    api.failStatus = 503;
    api.failReads = 4;
    const local = await patient.open(ASSIGNMENT, `artifact://${id}`, new AbortController().signal);
    expect(readFileSync(local.path)).toEqual(bytes);
    expect(api.seen.filter((s) => s.url === `/v1/artifacts/${id}/meta`)).toHaveLength(5);

    // Without an attempt's signal: three tries, as before.
    api.failReads = 3;
    await expect(patient.open(ASSIGNMENT, `artifact://${id}`)).rejects.toMatchObject({ status: 503 });
  });

  it('asks again with the new worker token when the node registered again while a request was in flight', async () => {
    const id = store(Buffer.from('read with the renewed token'));
    let token = 'token-of-the-replaced-incarnation';
    const renewing = new NodeArtifacts({ api: new ApiEndpoints([apiUrl]), cacheDir, token: () => token, retryMs: 10 });
    api.onRequest = () => {
      token = TOKEN;
    };
    const local = await renewing.open(ASSIGNMENT, `artifact://${id}`, new AbortController().signal);
    expect(readFileSync(local.path, 'utf8')).toBe('read with the renewed token');
    expect(api.seen.filter((s) => s.url === `/v1/artifacts/${id}/meta`).map((s) => s.authorization)).toEqual([
      'Bearer token-of-the-replaced-incarnation',
      `Bearer ${TOKEN}`,
    ]);
  });

  it('asks again with the new token once a registration in flight has replaced it, and gives up when none did', async () => {
    const id = store(Buffer.from('read after the node registered again'));
    let token = 'token-of-the-replaced-incarnation';
    // The heartbeat in flight registers again: the new incarnation's token arrives when it has finished.
    const tokenSettled = async (): Promise<void> => {
      await new Promise((resolve) => setImmediate(resolve));
      token = TOKEN;
    };
    const renewing = new NodeArtifacts({ api: new ApiEndpoints([apiUrl]), cacheDir, token: () => token, tokenSettled });
    const opened = await renewing.open(ASSIGNMENT, `artifact://${id}`, new AbortController().signal);
    expect(readFileSync(opened.path, 'utf8')).toBe('read after the node registered again');
    expect(api.seen.filter((s) => s.url === `/v1/artifacts/${id}/meta`).map((s) => s.authorization)).toEqual([
      'Bearer token-of-the-replaced-incarnation',
      `Bearer ${TOKEN}`,
    ]);

    // Nothing replaced the token: the assignment is not live for this node, and the attempt is given up.
    const fenced = new NodeArtifacts({ api: new ApiEndpoints([apiUrl]), cacheDir, token: () => 'stale-token', tokenSettled: async () => undefined });
    await expect(fenced.open(ASSIGNMENT, `artifact://${id}`, new AbortController().signal)).rejects.toBeInstanceOf(AssignmentNotLiveError);
  });

  it('reports a refused upload with the API error', async () => {
    const other = new NodeArtifacts({ api: new ApiEndpoints([apiUrl]), cacheDir, token: () => 'stale-token' });
    const refused = await other.upload(ASSIGNMENT, Buffer.from('x'), 'application/json', 'r.json').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AssignmentNotLiveError);
    expect(refused).toMatchObject({ message: expect.stringContaining('uploading r.json: HTTP 409 assignment_not_live') });
  });
});
