import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { commitUpload, FsArtifactStore, settleUpload, stageUpload, UploadAbandonedError } from '@mlis/artifacts';
import { ArtifactsRepository, createDataSource, type NewArtifact, type PendingUpload } from '@mlis/db';
import { openEventStream } from '../../apps/api/testing/event-stream';
import { ArtifactRetention, type RetentionSweep } from '../../apps/control/artifact-retention';
import { api, env, poll, stackBootstrapSecret, submit, tokenFor, withDb } from './support/api';
import { metricsUrl, parseSamples, scrape, valueOf } from './support/metrics';
import { stackPid } from './support/stack-env';

const MiB = 1024 * 1024;
const BIG_MB = 200;
/** The transfer that warms the routes up before the API's memory baseline is taken. */
const WARMUP_MB = 100;
// global-setup.ts sets the stack's cap to 256 MiB so the 413 needs no gigabyte.
const CAP_BYTES = Number(env.processEnv.MLIS_ARTIFACTS_MAX_BYTES);
const ARTIFACTS_DIR = join(env.processEnv.MLIS_STATE_DIR, 'artifacts');
const url = new URL(env.apiUrl);

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** `count` MiB of bytes that differ per MiB, generated as they are sent: the test never holds them whole. */
function generated(count: number): { stream: () => Readable; sha256: string } {
  const base = randomBytes(MiB);
  const chunk = (i: number): Buffer => {
    const copy = Buffer.from(base);
    copy.writeUInt32BE(i, 0);
    return copy;
  };
  const hash = createHash('sha256');
  for (let i = 0; i < count; i += 1) hash.update(chunk(i));
  return {
    stream: () =>
      Readable.from(
        (function* () {
          for (let i = 0; i < count; i += 1) yield chunk(i);
        })(),
      ),
    sha256: hash.digest('hex'),
  };
}

interface RawResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A raw HTTP call that streams `body` in, and either buffers the answer or hands it to `sink`. */
function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Readable,
  sink?: (res: IncomingMessage) => Promise<void>,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      if (sink) {
        sink(res).then(() => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.alloc(0) }), reject);
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) pipeline(body, req).catch(reject);
    else req.end();
  });
}

const auth = (token = tokenFor()): Record<string, string> => ({ authorization: `Bearer ${token}` });

async function uploadBytes(bytes: Buffer, query = '', token?: string): Promise<RawResponse> {
  return raw('POST', `/v1/artifacts${query}`, { ...auth(token), 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) }, Readable.from([bytes]));
}

/**
 * Announces `announced` bytes and sends one MiB: the answer to a request refused before its body is read comes
 * before the rest would have to.
 */
function announcedUpload(path: string, headers: Record<string, string>, announced: number): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method: 'POST', path, headers: { ...headers, 'content-length': String(announced) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', (error) => (/EPIPE|ECONNRESET/.test(error.message) ? undefined : reject(error)));
    req.write(randomBytes(MiB));
  });
}

/** Every file of the stack's fs store, staged uploads included. */
function storedFiles(): string[] {
  const walk = (dir: string): string[] =>
    existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)])) : [];
  return walk(ARTIFACTS_DIR).sort();
}

async function rowsWithSha(sha: string): Promise<number> {
  return withDb(async (db) => (await db.query('SELECT count(*)::int AS n FROM artifacts WHERE sha256 = $1', [sha])).rows[0].n);
}

/** The API process's resident set, from /proc (kB → bytes). */
function apiRss(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** Samples the API's RSS every 20 ms while `work` runs; returns its result and the highest sample. */
async function sampled<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peak: number; ms: number }> {
  let peak = apiRss(pid);
  const timer = setInterval(() => (peak = Math.max(peak, apiRss(pid))), 20);
  const started = Date.now();
  try {
    const result = await work();
    return { result, peak: Math.max(peak, apiRss(pid)), ms: Date.now() - started };
  } finally {
    clearInterval(timer);
  }
}

describe('artifacts on the real stack', () => {
  jest.setTimeout(300_000);

  it(`uploads and downloads ${BIG_MB} MB byte-identical while the API grows by less than 50 MB`, async () => {
    const pid = stackPid(env, 'api');
    // Warm both routes up with a transfer of their own first, so that neither code loading and first-use allocations
    // nor V8's young generation growing to the size streaming keeps it at (from whatever size the API's earlier work
    // left it; MLIS_API_NODE_FLAGS may enlarge it) are counted as this file's growth. The baseline is the highest RSS
    // seen while the warm-up streamed, not a sample after it: on Node 26 the API's RSS falls by up to 100 MB between
    // transfers (memory given back to the system, most likely the heap's free pages) and comes back with the next
    // transfer whatever its size (ADR 0055); a 32 MB warm-up did not always bring it back. What remains is what the
    // file's size adds: an API that held the files would grow by 100 MB more than during the warm-up.
    const warmup = generated(WARMUP_MB);
    const warmUp = await sampled(pid, () =>
      raw('POST', `/v1/artifacts?sha256=${warmup.sha256}`, { ...auth(), 'content-length': String(WARMUP_MB * MiB) }, warmup.stream()),
    );
    expect(warmUp.result.status).toBe(201);
    const warmId = JSON.parse(warmUp.result.body.toString()).id as string;
    let warmed = 0;
    const warmDown = await sampled(pid, () =>
      raw('GET', `/v1/artifacts/${warmId}`, auth(), undefined, async (res) => {
        for await (const chunk of res) warmed += (chunk as Buffer).length;
      }),
    );
    expect(warmed).toBe(WARMUP_MB * MiB);
    expect((await api('DELETE', `/v1/artifacts/${warmId}`)).status).toBe(204);
    const data = generated(BIG_MB);
    const baseline = Math.max(warmUp.peak, warmDown.peak, apiRss(pid));

    const up = await sampled(pid, () =>
      raw('POST', `/v1/artifacts?sha256=${data.sha256}&name=big.bin`, { ...auth(), 'content-length': String(BIG_MB * MiB) }, data.stream()),
    );
    expect(up.result.status).toBe(201);
    const artifact = JSON.parse(up.result.body.toString());
    expect(artifact).toMatchObject({ size_bytes: BIG_MB * MiB, sha256: data.sha256, name: 'big.bin' });

    const hash = createHash('sha256');
    let received = 0;
    const down = await sampled(pid, () =>
      raw('GET', `/v1/artifacts/${artifact.id}`, auth(), undefined, async (res) => {
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-length']).toBe(String(BIG_MB * MiB));
        expect(res.headers.etag).toBe(`"${data.sha256}"`);
        for await (const chunk of res) {
          hash.update(chunk as Buffer);
          received += (chunk as Buffer).length;
        }
      }),
    );
    expect(received).toBe(BIG_MB * MiB);
    expect(hash.digest('hex')).toBe(data.sha256);

    const growth = Math.max(up.peak, down.peak) - baseline;
    console.log(
      `artifacts ${BIG_MB} MB: upload ${((BIG_MB * 1000) / up.ms).toFixed(0)} MB/s, download ${((BIG_MB * 1000) / down.ms).toFixed(0)} MB/s, ` +
        `API RSS baseline (the warm-up's peak) ${(baseline / MiB).toFixed(0)} MB, peak growth ${(growth / MiB).toFixed(1)} MB`,
    );
    expect(growth).toBeLessThan(50 * MiB);

    expect((await api('DELETE', `/v1/artifacts/${artifact.id}`)).status).toBe(204);
    expect(storedFiles().some((file) => file.endsWith(data.sha256))).toBe(false);
  });

  it('serves ranges (206, 416) and revalidation (ETag, 304)', async () => {
    const bytes = randomBytes(10_000);
    const { body } = await uploadBytes(bytes);
    const { id } = JSON.parse(body.toString());
    const partial = await raw('GET', `/v1/artifacts/${id}`, { ...auth(), range: 'bytes=9000-' });
    expect(partial.status).toBe(206);
    expect(partial.headers['content-range']).toBe('bytes 9000-9999/10000');
    expect(partial.body.equals(bytes.subarray(9000))).toBe(true);
    const outside = await raw('GET', `/v1/artifacts/${id}`, { ...auth(), range: 'bytes=10000-10001' });
    expect(outside.status).toBe(416);
    expect(outside.headers['content-range']).toBe('bytes */10000');
    const cached = await raw('GET', `/v1/artifacts/${id}`, { ...auth(), 'if-none-match': `"${sha256(bytes)}"` });
    expect(cached.status).toBe(304);
    expect(cached.body.length).toBe(0);
  });

  it('refuses a checksum mismatch with 400 and stores nothing: no row, no bytes', async () => {
    const bytes = randomBytes(2 * MiB);
    const before = storedFiles();
    const response = await uploadBytes(bytes, `?sha256=${sha256(Buffer.from('not these bytes'))}`);
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body.toString()).error.code).toBe('checksum_mismatch');
    expect(await rowsWithSha(sha256(bytes))).toBe(0);
    expect(storedFiles()).toEqual(before);
  });

  it("answers another tenant's artifact with 404", async () => {
    const { body } = await uploadBytes(Buffer.from('tenant default only'));
    const { id } = JSON.parse(body.toString());
    const other = tokenFor({ tenant: 'artifacts-other' });
    for (const path of [`/v1/artifacts/${id}`, `/v1/artifacts/${id}/meta`]) {
      const response = await raw('GET', path, auth(other));
      expect(response.status).toBe(404);
      expect(JSON.parse(response.body.toString()).error.code).toBe('artifact_not_found');
    }
    expect((await raw('DELETE', `/v1/artifacts/${id}`, auth(other))).status).toBe(404);
    expect((await api('GET', `/v1/artifacts/${id}/meta`)).status).toBe(200);
  });

  it('refuses a body over the cap with 413 without reading it, and keeps nothing', async () => {
    const rows = await withDb(async (db) => (await db.query('SELECT count(*)::int AS n FROM artifacts')).rows[0].n);
    const before = storedFiles();
    const response = await announcedUpload('/v1/artifacts', auth(), CAP_BYTES + 1);
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body.toString()).error.code).toBe('payload_too_large');
    expect(await withDb(async (db) => (await db.query('SELECT count(*)::int AS n FROM artifacts')).rows[0].n)).toBe(rows);
    expect(storedFiles()).toEqual(before);
  });

  it("applies a tenant's own lower cap (max_artifact_bytes)", async () => {
    const tenant = `it-art-cap-${Date.now()}`;
    expect((await api('POST', '/v1/tenants', { id: tenant, max_artifact_bytes: 1000 })).status).toBe(201);
    const token = tokenFor({ tenant });
    const over = await uploadBytes(randomBytes(1001), '', token);
    expect(over.status).toBe(413);
    expect(JSON.parse(over.body.toString()).error.message).toContain('limit of 1000 bytes');
    expect((await uploadBytes(randomBytes(1000), '', token)).status).toBe(201);
  });

  it('leaves no row and no bytes when the client is killed mid-upload', async () => {
    const rows = await withDb(async (db) => (await db.query('SELECT count(*)::int AS n FROM artifacts')).rows[0].n);
    const before = storedFiles();
    // A separate process streams 100 MB slowly and is SIGKILLed once the API has started staging it.
    const client = spawn(
      process.execPath,
      [
        '-e',
        `const http = require('node:http');
         const req = http.request({ host: '${url.hostname}', port: ${url.port}, method: 'POST', path: '/v1/artifacts',
           headers: { authorization: 'Bearer ${tokenFor()}', 'content-length': String(100 * 1024 * 1024) } });
         req.on('error', () => {});
         const chunk = Buffer.alloc(1024 * 1024, 7);
         setInterval(() => req.write(chunk), 20);`,
      ],
      { stdio: 'ignore' },
    );
    // This upload's own staged file: one an API killed mid-upload left earlier (the chaos run's) stays until control's daily sweep.
    const staged = await poll('a staged upload in progress', async () => storedFiles().find((file) => file.includes('/staging/') && !before.includes(file)), {
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    client.kill('SIGKILL');
    await poll('the staged upload removed', async () => (storedFiles().includes(staged) ? undefined : true), { timeoutMs: 20_000 });
    expect(storedFiles()).toEqual(before);
    expect(await withDb(async (db) => (await db.query('SELECT count(*)::int AS n FROM artifacts')).rows[0].n)).toBe(rows);
  });

  describe('with an Idempotency-Key', () => {
    const keyed = (bytes: Buffer, key: string, query = '', token?: string): Promise<RawResponse> =>
      raw(
        'POST',
        `/v1/artifacts${query}`,
        { ...auth(token), 'content-type': 'application/octet-stream', 'content-length': String(bytes.length), 'idempotency-key': key },
        Readable.from([bytes]),
      );
    const pendingWith = (sha: string): Promise<number> =>
      withDb(async (db) => (await db.query('SELECT count(*)::int AS n FROM pending_uploads WHERE sha256 = $1', [sha])).rows[0].n);

    it('answers a repeat with the artifact it made (200) and keeps nothing new; the key is per tenant', async () => {
      const key = `it-upload-${randomUUID()}`;
      const bytes = randomBytes(64 * 1024);
      const first = await keyed(bytes, key, '?name=input.bin');
      expect(first.status).toBe(201);
      const made = JSON.parse(first.body.toString());
      const files = storedFiles();
      // The expiry may differ: the later of the two stands.
      const again = await keyed(bytes, key, '?name=input.bin&expires_in_seconds=60');
      expect(again.status).toBe(200);
      expect(JSON.parse(again.body.toString())).toEqual(made);
      const later = JSON.parse((await keyed(bytes, key, `?name=input.bin&expires_in_seconds=${30 * 24 * 3600}`)).body.toString());
      expect(Date.parse(later.expires_at)).toBeGreaterThan(Date.parse(made.expires_at));
      expect({ ...later, expires_at: made.expires_at }).toEqual(made);
      expect(await rowsWithSha(sha256(bytes))).toBe(1);
      expect(await pendingWith(sha256(bytes))).toBe(0);
      expect(storedFiles()).toEqual(files);
      const tenant = `it-art-key-${Date.now()}`;
      expect((await api('POST', '/v1/tenants', { id: tenant })).status).toBe(201);
      const elsewhere = await keyed(bytes, key, '?name=input.bin', tokenFor({ tenant }));
      expect(elsewhere.status).toBe(201);
      expect(JSON.parse(elsewhere.body.toString()).id).not.toBe(made.id);
    });

    it('refuses another upload with the key (409) and keeps none of it; before its body when its sha256 shows it', async () => {
      const key = `it-upload-${randomUUID()}`;
      const bytes = randomBytes(1024);
      expect((await keyed(bytes, key, '?name=a.bin')).status).toBe(201);
      const files = storedFiles();
      const other = randomBytes(1024);
      for (const [body, query] of [
        [other, '?name=a.bin'],
        [bytes, '?name=b.bin'],
        [bytes, ''],
      ] as const) {
        const refused = await keyed(body, key, query);
        expect(refused.status).toBe(409);
        expect(JSON.parse(refused.body.toString()).error.code).toBe('idempotency_conflict');
      }
      expect(await rowsWithSha(sha256(other))).toBe(0);
      expect(await pendingWith(sha256(other))).toBe(0);
      expect(storedFiles()).toEqual(files);
      // A declared sha256 of other bytes is refused on the earlier row alone: 100 MiB announced, one sent.
      const early = await announcedUpload(`/v1/artifacts?name=a.bin&sha256=${sha256(other)}`, { ...auth(), 'idempotency-key': key }, 100 * MiB);
      expect(early.status).toBe(409);
      expect(storedFiles()).toEqual(files);
    });

    it('makes one artifact of concurrent uploads with the same key', async () => {
      const key = `it-upload-${randomUUID()}`;
      const bytes = randomBytes(256 * 1024);
      const answers = await Promise.all(Array.from({ length: 4 }, () => keyed(bytes, key)));
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 201]);
      expect(new Set(answers.map((answer) => JSON.parse(answer.body.toString()).id)).size).toBe(1);
      expect(await rowsWithSha(sha256(bytes))).toBe(1);
      expect(await pendingWith(sha256(bytes))).toBe(0);
    });

    it('frees the key when its artifact is deleted', async () => {
      const key = `it-upload-${randomUUID()}`;
      const first = JSON.parse((await keyed(Buffer.from('first'), key)).body.toString());
      expect((await raw('DELETE', `/v1/artifacts/${first.id}`, auth())).status).toBe(204);
      const next = await keyed(Buffer.from('second'), key);
      expect(next.status).toBe(201);
      expect(JSON.parse(next.body.toString()).id).not.toBe(first.id);
    });
  });

  it('lists the artifacts whose name starts with a prefix, newest first; % and _ are plain characters', async () => {
    const tenant = `it-prefix-${randomUUID().slice(0, 8)}`;
    expect((await api('POST', '/v1/tenants', { id: tenant })).status).toBe(201);
    const token = tokenFor({ tenant });
    const named = async (name: string) => JSON.parse((await uploadBytes(Buffer.from(name), `?name=${encodeURIComponent(name)}`, token)).body.toString()).id as string;
    const ids = new Map<string, string>();
    for (const name of ['model-a.onnx', 'result-1.json', 'results%x', 'model-b.onnx', 'Model-c.onnx']) ids.set(name, await named(name));
    expect((await uploadBytes(Buffer.from('unnamed'), '', token)).status).toBe(201);
    const names = async (prefix: string) =>
      (await api('GET', `/v1/artifacts?prefix=${encodeURIComponent(prefix)}`, undefined, auth(token))).body.items.map((item: { name: string }) => item.name);
    expect(await names('model-')).toEqual(['model-b.onnx', 'model-a.onnx']);
    expect(await names('result')).toEqual(['results%x', 'result-1.json']);
    expect(await names('results%')).toEqual(['results%x']);
    expect(await names('result%')).toEqual([]);
    expect(await names('model_')).toEqual([]);
    const page = await api('GET', '/v1/artifacts?prefix=model-&limit=1', undefined, auth(token));
    expect(page.body.items.map((item: { id: string }) => item.id)).toEqual([ids.get('model-b.onnx')]);
    const next = await api('GET', `/v1/artifacts?prefix=model-&limit=1&cursor=${page.body.next_cursor}`, undefined, auth(token));
    expect(next.body.items.map((item: { id: string }) => item.id)).toEqual([ids.get('model-a.onnx')]);
  });

  it('refuses to delete an artifact a waiting or running job uses, naming the jobs; deletes it once they ended', async () => {
    const id = JSON.parse((await uploadBytes(randomBytes(64))).body.toString()).id;
    const jobs = [await submit({ task_type: 'sleep', params: { seconds: 60 } }), await submit({ task_type: 'sleep', params: { seconds: 60 } })];
    for (const job of jobs) await withDb((db) => db.query(`INSERT INTO job_artifacts (job_id, artifact_id, role) VALUES ($1, $2, 'input')`, [job.id, id]));
    try {
      const refused = await api('DELETE', `/v1/artifacts/${id}`);
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('artifact_in_use');
      expect(refused.body.error.message).toMatch(new RegExp(`^artifact ${id} is used by 2 waiting or running jobs: ${jobs[0].id} \\((QUEUED|RUNNING)\\), ${jobs[1].id} \\((QUEUED|RUNNING)\\); `));
    } finally {
      for (const job of jobs) expect((await api('POST', `/v1/jobs/${job.id}/cancel`)).status).toBe(202);
    }
    await poll('both jobs to end', async () => {
      const states = await Promise.all(jobs.map(async (job) => (await api('GET', `/v1/jobs/${job.id}`)).body.state));
      return states.every((state) => state === 'CANCELLED') ? true : undefined;
    });
    expect((await api('DELETE', `/v1/artifacts/${id}`)).status).toBe(204);
  });

  it("tells the tenant's event streams when its artifacts change: an upload, a delete", async () => {
    const tenant = `it-artifact-events-${randomUUID().slice(0, 8)}`;
    expect((await api('POST', '/v1/tenants', { id: tenant })).status).toBe(201);
    const token = tokenFor({ tenant, scopes: ['jobs:read', 'artifacts:read', 'artifacts:write'] });
    const ticket = await api('POST', '/v1/stream/tickets', undefined, auth(token));
    expect(ticket.status).toBe(201);
    const stream = await openEventStream(`${env.apiUrl}/v1/stream?ticket=${ticket.body.ticket}`);
    const changedAt = async () =>
      withDb(async (db) => (await db.query(`SELECT CAST(changed_at AS text) AS at FROM artifact_changes WHERE tenant_id = $1`, [tenant])).rows[0]?.at);
    const next = async (event: string) => {
      for (;;) {
        const received = await stream.next();
        if (received.event === event) return received.data;
      }
    };
    try {
      // A queue event comes from a poll after the stream's first, which took the artifacts' starting point: from then
      // every change is sent, whenever it lands. A job's submission runs a scheduling cycle (so does control's timer).
      await submit({ task_type: 'sleep', params: { seconds: 0.1 } });
      await next('queue');
      const uploaded = await uploadBytes(Buffer.from('stream me'), '?name=events.txt', token);
      expect(uploaded.status).toBe(201);
      expect(await next('artifact')).toEqual({ changed_at: await changedAt() });
      expect((await raw('DELETE', `/v1/artifacts/${JSON.parse(uploaded.body.toString()).id}`, auth(token))).status).toBe(204);
      expect(await next('artifact')).toEqual({ changed_at: await changedAt() });
    } finally {
      stream.close();
    }
  }, 30_000);

  describe('worker tokens', () => {
    const NODE = 'it-artifacts-node';
    let token: string;
    let incarnation: number;
    const jobId = randomUUID();
    const otherJobId = randomUUID();
    const assignmentId = randomUUID();
    let input: string;
    let otherInput: string;

    async function heartbeat(): Promise<void> {
      const response = await api('POST', `/v1/internal/nodes/${NODE}/heartbeat`, { incarnation }, { authorization: `Bearer ${token}` });
      expect(response.status).toBe(200);
    }

    const asNode = (assignment: string): Record<string, string> => ({ authorization: `Bearer ${token}`, 'x-mlis-assignment': assignment });

    beforeAll(async () => {
      // A node no job can fit (1 millicore, 1 MiB), so the scheduler never places real work on it.
      const registered = await api(
        'POST',
        '/v1/internal/nodes/register',
        { node_id: NODE, group: 'cpu', hostname: 'it-host', pid: 4242, slots: 1, cpu_millis: 1, mem_mb: 1, gpus: [] },
        { authorization: `Bearer ${stackBootstrapSecret()}` },
        { auth: false },
      );
      expect(registered.status).toBe(200);
      ({ worker_token: token, incarnation } = registered.body);
      input = JSON.parse((await uploadBytes(Buffer.from('the job input'))).body.toString()).id;
      otherInput = JSON.parse((await uploadBytes(Buffer.from('another job input'))).body.toString()).id;
      // Two RUNNING jobs written into the ledger: one with a live assignment on our node (counters kept exact).
      await withDb(async (db) => {
        for (const id of [jobId, otherJobId]) {
          await db.query(
            `INSERT INTO jobs (id, tenant_id, submitted_by, task_type, cpu_millis, mem_mb, gpu, state, max_attempts, timeout_seconds)
             VALUES ($1, 'default', 'it-user', 'sleep', 1, 1, 0, 'RUNNING', 1, 60)`,
            [id],
          );
        }
        await db.query(
          `INSERT INTO job_assignments (id, job_id, attempt, node_id, node_incarnation, group_name, slots, cpu_millis, mem_mb, state)
           VALUES ($1, $2, 1, $3, $4, 'cpu', 1, 1, 1, 'RUNNING')`,
          [assignmentId, jobId, NODE, incarnation],
        );
        await db.query(`UPDATE nodes SET used_slots = 1, used_cpu_millis = 1, used_mem_mb = 1 WHERE id = $1`, [NODE]);
        await db.query(`INSERT INTO job_artifacts (job_id, artifact_id, role) VALUES ($1, $2, 'input'), ($3, $4, 'input')`, [jobId, input, otherJobId, otherInput]);
      });
    });

    afterAll(async () => {
      await withDb(async (db) => {
        await db.query('DELETE FROM job_artifacts WHERE job_id = ANY($1)', [[jobId, otherJobId]]);
        await db.query('DELETE FROM job_assignments WHERE id = $1', [assignmentId]);
        await db.query('DELETE FROM jobs WHERE id = ANY($1)', [[jobId, otherJobId]]);
        await db.query('DELETE FROM nodes WHERE id = $1', [NODE]);
      });
    });

    it("reads its assignment's job's artifact, never another job's; uploads a result linked to the job", async () => {
      await heartbeat();
      const own = await raw('GET', `/v1/artifacts/${input}`, asNode(assignmentId));
      expect(own.status).toBe(200);
      expect(own.body.toString()).toBe('the job input');
      const other = await raw('GET', `/v1/artifacts/${otherInput}`, asNode(assignmentId));
      expect(other.status).toBe(404);
      expect(JSON.parse(other.body.toString()).error.code).toBe('artifact_not_found');
      // An assignment that is not this node's: the node learns only that it is not live on it.
      const unknown = await raw('GET', `/v1/artifacts/${input}`, asNode(randomUUID()));
      expect(unknown.status).toBe(409);
      expect(JSON.parse(unknown.body.toString()).error.code).toBe('assignment_not_live');

      const result = Buffer.from(JSON.stringify({ scores: [0.9, 0.1] }));
      const uploaded = await raw('POST', '/v1/artifacts', { ...asNode(assignmentId), 'content-type': 'application/json', 'content-length': String(result.length) }, Readable.from([result]));
      expect(uploaded.status).toBe(201);
      const artifact = JSON.parse(uploaded.body.toString());
      expect(artifact).toMatchObject({ tenant_id: 'default', created_by: `node:${NODE}`, sha256: sha256(result) });
      const links = await withDb(async (db) => (await db.query('SELECT job_id, role FROM job_artifacts WHERE artifact_id = $1', [artifact.id])).rows);
      expect(links).toEqual([{ job_id: jobId, role: 'result' }]);
      // A key would let a node reach the tenant's other artifacts through it: user tokens only.
      const keyed = await raw(
        'POST',
        '/v1/artifacts',
        { ...asNode(assignmentId), 'content-length': String(result.length), 'idempotency-key': 'node-key' },
        Readable.from([result]),
      );
      expect(keyed.status).toBe(400);
      expect(JSON.parse(keyed.body.toString()).error.details).toEqual([{ field: 'Idempotency-Key', problem: expect.stringContaining('user tokens') }]);
      // An artifact in use by a RUNNING job cannot be deleted.
      expect((await api('DELETE', `/v1/artifacts/${input}`)).status).toBe(409);
    });

    it('may not read or upload once the assignment has ended', async () => {
      await withDb((db) => db.query(`UPDATE job_assignments SET state = 'SUCCEEDED', ended_at = now() WHERE id = $1`, [assignmentId]));
      await withDb((db) => db.query(`UPDATE nodes SET used_slots = 0, used_cpu_millis = 0, used_mem_mb = 0 WHERE id = $1`, [NODE]));
      await heartbeat();
      // 409 assignment_not_live: the node gives the attempt up instead of failing the job.
      const read = await raw('GET', `/v1/artifacts/${input}`, asNode(assignmentId));
      expect(read.status).toBe(409);
      expect(JSON.parse(read.body.toString()).error.code).toBe('assignment_not_live');
      const refused = await raw('POST', '/v1/artifacts', { ...asNode(assignmentId), 'content-length': '2' }, Readable.from([Buffer.from('{}')]));
      expect(refused.status).toBe(409);
      expect(JSON.parse(refused.body.toString()).error.code).toBe('assignment_not_live');
    });
  });

  describe('retention', () => {
    // Three connections: an upload's transaction held open, and the sweep's two (its scan, its delete).
    const dataSource = createDataSource(env.databaseUrl, 3);
    const store = new FsArtifactStore(ARTIFACTS_DIR);
    let repository: ArtifactsRepository;
    let retention: ArtifactRetention;

    beforeAll(async () => {
      await dataSource.initialize();
      repository = new ArtifactsRepository(dataSource);
      retention = new ArtifactRetention(repository, store, 3_600_000, () => undefined);
    });

    afterAll(() => dataSource.destroy());

    const expire = (ids: string[]) => withDb((db) => db.query(`UPDATE artifacts SET expires_at = now() - interval '1 second' WHERE id = ANY($1)`, [ids]));

    it('deletes expired artifacts no waiting or running job uses, and only the bytes no artifact still shares', async () => {
      const shared = randomBytes(4096);
      const used = randomBytes(4096);
      const expiredA = JSON.parse((await uploadBytes(shared)).body.toString()).id;
      const keptSameBytes = JSON.parse((await uploadBytes(shared, '?expires_in_seconds=3600')).body.toString()).id;
      const expiredInUse = JSON.parse((await uploadBytes(used)).body.toString()).id;
      const lone = randomBytes(4096);
      const expiredLone = JSON.parse((await uploadBytes(lone)).body.toString()).id;
      const job = await submit({ task_type: 'sleep', params: { seconds: 60 } });
      await withDb((db) => db.query(`INSERT INTO job_artifacts (job_id, artifact_id, role) VALUES ($1, $2, 'input')`, [job.id, expiredInUse]));
      await expire([expiredA, expiredInUse, expiredLone]);

      // The control process sweeps every 2 s too: which of the two deletes what does not matter, only that a
      // whole sweep has run since the expiry.
      await retention.sweep();
      expect((await api('GET', `/v1/artifacts/${expiredA}/meta`)).status).toBe(404);
      expect((await api('GET', `/v1/artifacts/${expiredLone}/meta`)).status).toBe(404);
      expect(storedFiles().some((file) => file.endsWith(sha256(lone)))).toBe(false);
      // Its bytes stay for the artifact that shares them.
      const kept = await raw('GET', `/v1/artifacts/${keptSameBytes}`, auth());
      expect(kept.body.equals(shared)).toBe(true);
      expect((await raw('GET', `/v1/artifacts/${expiredInUse}`, auth())).body.equals(used)).toBe(true);

      // Once the job has finished, its expired input goes too; the control process does it on its own.
      expect((await api('POST', `/v1/jobs/${job.id}/cancel`)).status).toBe(202);
      await poll('the control process to delete the expired input', async () => ((await api('GET', `/v1/artifacts/${expiredInUse}/meta`)).status === 404 ? true : undefined), {
        timeoutMs: 60_000,
      });
      expect(storedFiles().some((file) => file.endsWith(sha256(used)))).toBe(false);
    });

    const pendingUploads = (sha: string): Promise<number> =>
      withDb(async (db) => (await db.query('SELECT count(*)::int AS n FROM pending_uploads WHERE sha256 = $1', [sha])).rows[0].n);
    const backdate = (pendingId: string) => withDb((db) => db.query(`UPDATE pending_uploads SET started_at = now() - interval '25 hours' WHERE id = $1`, [pendingId]));

    it('an upload records itself before its bytes and clears the record with its row; a failed one leaves neither bytes nor record', async () => {
      const kept = randomBytes(4096);
      expect((await uploadBytes(kept)).status).toBe(201);
      expect(await pendingUploads(sha256(kept))).toBe(0);

      // The row's insert fails after the bytes were committed: the API's own clean-up removes both.
      await withDb(async (db) => {
        await db.query(`CREATE FUNCTION it_fail_upload() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'it: row refused'; END $$`);
        await db.query(`CREATE TRIGGER it_fail_upload BEFORE INSERT ON artifacts FOR EACH ROW WHEN (NEW.name = 'it-fail-upload') EXECUTE FUNCTION it_fail_upload()`);
      }, 'owner');
      try {
        const refused = randomBytes(4096);
        expect((await uploadBytes(refused, '?name=it-fail-upload')).status).toBe(500);
        expect(await store.exists(sha256(refused))).toBe(false);
        expect(await pendingUploads(sha256(refused))).toBe(0);
        expect(await rowsWithSha(sha256(refused))).toBe(0);
      } finally {
        await withDb((db) => db.query('DROP TRIGGER it_fail_upload ON artifacts; DROP FUNCTION it_fail_upload()'), 'owner');
      }
    });

    it('removes the bytes of an upload cut off between its bytes and its row once a day old, and never an object no upload recorded', async () => {
      // What a crash between an upload's commit of its bytes and its row's leaves, its own clean-up cut off too.
      const cutOff = randomBytes(4096);
      const pending = await repository.recordPendingUpload(sha256(cutOff));
      await store.put(Readable.from([cutOff]));
      // An object the database knows nothing of (say, after a restore from an older backup): not retention's to judge.
      const unknown = await store.put(Readable.from([randomBytes(4096)]));

      await retention.sweep();
      expect(await store.exists(pending.sha256)).toBe(true);
      // A day later the control process removes both, and counts it.
      await backdate(pending.id);
      await poll('control to remove the cut-off upload', async () => (!(await store.exists(pending.sha256)) && (await pendingUploads(pending.sha256)) === 0 ? true : undefined), {
        timeoutMs: 30_000,
      });
      const control = parseSamples(await scrape(metricsUrl('control')));
      expect(valueOf(control, 'mlis_artifact_retention_removed_total', { what: 'rowless' })).toBeGreaterThanOrEqual(1);
      await retention.sweep();
      expect(await store.exists(unknown.sha256)).toBe(true);
      await store.delete(unknown.sha256);
    });

    it('keeps the bytes of an upload between its commit and its row when a delete takes the last artifact sharing them (ADR 0061)', async () => {
      const bytes = randomBytes(4096);
      const earlier = JSON.parse((await uploadBytes(bytes)).body.toString()).id;
      const upload = await stageUpload(repository, store, Readable.from([bytes]));
      await commitUpload(upload);
      // The last row goes; the upload's pending record still uses the bytes.
      expect((await api('DELETE', `/v1/artifacts/${earlier}`)).status).toBe(204);
      expect(await store.exists(upload.staged.sha256)).toBe(true);
      const id = randomUUID();
      await repository.transaction(async (manager) => {
        await settleUpload(repository, manager, upload);
        await repository.insert(manager, newArtifact(id, upload.staged.sha256, bytes.length));
      });
      expect((await raw('GET', `/v1/artifacts/${id}`, auth())).body.equals(bytes)).toBe(true);
      expect(await pendingUploads(upload.staged.sha256)).toBe(0);
      expect((await api('DELETE', `/v1/artifacts/${id}`)).status).toBe(204);
      expect(await store.exists(upload.staged.sha256)).toBe(false);
    });

    it('records an upload only once a delete of the same bytes under way has committed, so its commit comes after that delete', async () => {
      const sha = sha256(randomBytes(4096));
      let recorded = false;
      let recording: Promise<PendingUpload> | undefined;
      await dataSource.transaction(async (manager) => {
        // As a delete of the last row holds it, up to its commit, across the removal of the bytes.
        await repository.lockContent(manager, sha);
        const [{ pid }]: { pid: number }[] = await manager.query('SELECT pg_backend_pid() AS pid');
        recording = repository.recordPendingUpload(sha).then((pending) => {
          recorded = true;
          return pending;
        });
        await poll('the upload to wait for the content lock', () => sessionsBlockedBy(pid).then((n) => (n > 0 ? true : undefined)), { timeoutMs: 30_000 });
        expect(recorded).toBe(false);
      });
      const pending = await recording!;
      expect(await pendingUploads(sha)).toBe(1);
      await repository.clearPendingUpload(pending.id);
    });

    /**
     * An upload whose pending record is a day old (its process stalled), its bytes committed; its row's transaction
     * has cleared the record when a sweep starts and waits for that, then the transaction ends with `outcome`.
     * Returns the bytes' sha256.
     */
    async function stalledUploadRacingSweep(outcome: 'commit' | 'rollback'): Promise<string> {
      const bytes = randomBytes(4096);
      const upload = await stageUpload(repository, store, Readable.from([bytes]));
      await commitUpload(upload);
      await backdate(upload.pending.id);
      let sweeping: Promise<RetentionSweep> | undefined;
      await dataSource
        .transaction(async (manager) => {
          await settleUpload(repository, manager, upload);
          const [{ pid }]: { pid: number }[] = await manager.query('SELECT pg_backend_pid() AS pid');
          sweeping = retention.sweep();
          await poll("a sweep to wait for the upload's record", () => sessionsBlockedBy(pid).then((n) => (n > 0 ? true : undefined)), { timeoutMs: 30_000 });
          if (outcome === 'rollback') throw new Error('the upload failed');
          await repository.insert(manager, newArtifact(randomUUID(), upload.staged.sha256, bytes.length));
        })
        .catch((error: Error) => {
          if (error.message !== 'the upload failed') throw error;
        });
      await sweeping;
      return upload.staged.sha256;
    }

    it('keeps the bytes of a stalled upload whose row commits while a sweep waits for them, and removes them when it fails', async () => {
      const kept = await stalledUploadRacingSweep('commit');
      expect(await store.exists(kept)).toBe(true);
      expect(await rowsWithSha(kept)).toBe(1);

      const dropped = await stalledUploadRacingSweep('rollback');
      // The sweep that waited, or control's own: whichever took the record first removes the bytes with it.
      await poll('a sweep to remove the failed upload', async () => (!(await store.exists(dropped)) && (await pendingUploads(dropped)) === 0 ? true : undefined), {
        timeoutMs: 30_000,
      });
      expect(await rowsWithSha(dropped)).toBe(0);
      await withDb((db) => db.query('DELETE FROM artifacts WHERE sha256 = $1', [kept]));
      await store.delete(kept);
    });

    it('refuses the row of a stalled upload that a sweep cleaned up first: no row without its bytes', async () => {
      const bytes = randomBytes(4096);
      const upload = await stageUpload(repository, store, Readable.from([bytes]));
      await commitUpload(upload);
      await backdate(upload.pending.id);
      await retention.sweep();
      expect(await store.exists(upload.staged.sha256)).toBe(false);
      await expect(
        repository.transaction(async (manager) => {
          await settleUpload(repository, manager, upload);
          await repository.insert(manager, newArtifact(randomUUID(), upload.staged.sha256, bytes.length));
        }),
      ).rejects.toThrow(UploadAbandonedError);
      expect(await rowsWithSha(upload.staged.sha256)).toBe(0);
    });
  });
});

/** An artifact row of the default tenant for bytes already in the store. */
function newArtifact(id: string, sha: string, sizeBytes: number): NewArtifact {
  return { id, tenantId: 'default', name: null, contentType: 'application/octet-stream', sizeBytes, sha256: sha, createdBy: 'it-user', expiresAt: null };
}

/** How many sessions wait for a lock that the session `holder` holds. */
function sessionsBlockedBy(holder: number): Promise<number> {
  return withDb(async (db) => {
    const { rows } = await db.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [holder]);
    return rows[0].n;
  });
}
