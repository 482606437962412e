import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import request from 'supertest';
import { SCOPES } from '@mlis/auth';
import { waitFor } from '../../../test/support/wait-for';
import { createTestApp, type TestApp } from '../testing/test-app';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const MAX_BYTES = 64 * 1024;

/** Every file under the store's root: committed objects and staged uploads alike. */
function storedFiles(t: TestApp): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]));
  try {
    return walk(t.config.artifacts.dir);
  } catch {
    return [];
  }
}

/** supertest's own parsers would buffer or decode the body: keep the raw bytes. */
function binary(res: request.Response, callback: (error: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => callback(null, Buffer.concat(chunks)));
}

describe('artifacts API (real auth guard, in-memory metadata, fs store)', () => {
  let t: TestApp;
  let http: ReturnType<TestApp['app']['getHttpServer']>;
  let token: string;

  beforeAll(async () => {
    t = await createTestApp(
      { MLIS_ARTIFACTS_MAX_BYTES: String(MAX_BYTES), MLIS_ARTIFACTS_DEFAULT_EXPIRY_SECONDS: '3600', MLIS_API_BODY_IDLE_SECONDS: '1' },
      { auth: 'real' },
    );
    // Listening, so a raw client can stream a body in chunks (supertest would start its own server per request).
    await t.app.listen(0, '127.0.0.1');
    http = t.app.getHttpServer();
    token = t.userToken({ sub: 'alice' });
  });

  afterAll(() => t.app.close());

  function upload(bytes: Buffer, query = '', contentType = 'application/octet-stream', bearer = token): request.Test {
    // superagent would serialize a Buffer under a JSON content type: send JSON as the text it is.
    const body = contentType.includes('json') ? bytes.toString('utf8') : bytes;
    return request(http).post(`/v1/artifacts${query}`).set('Authorization', `Bearer ${bearer}`).set('Content-Type', contentType).send(body);
  }

  it('uploads raw bytes (a JSON content type is not parsed nor held to the JSON body limit) and downloads them back', async () => {
    const bytes = Buffer.from(JSON.stringify({ texts: Array.from({ length: 2000 }, (_, i) => `text ${i}`) }));
    expect(bytes.length).toBeGreaterThan(t.config.api.bodyLimitBytes);
    const created = await upload(bytes, '?name=texts.json', 'application/json').expect(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      tenant_id: 'default',
      name: 'texts.json',
      content_type: 'application/json',
      size_bytes: bytes.length,
      sha256: sha256(bytes),
      created_by: 'alice',
      created_at: expect.any(String),
      expires_at: expect.any(String),
    });
    expect(Date.parse(created.body.expires_at) - Date.parse(created.body.created_at)).toBeGreaterThan(3590_000);
    // Recorded before the bytes were committed, cleared with the row.
    expect(t.artifacts.pendingUploads.size).toBe(0);
    expect(t.audit.events).toContainEqual(
      expect.objectContaining({ action: 'artifact.upload', result: 'allow', resource: `artifact/${created.body.id}`, actorSubject: 'alice', targetTenant: 'default' }),
    );

    const download = await request(http).get(`/v1/artifacts/${created.body.id}`).set('Authorization', `Bearer ${token}`).buffer(true).parse(binary).expect(200);
    expect((download.body as Buffer).equals(bytes)).toBe(true);
    expect(download.headers).toMatchObject({
      'content-type': 'application/json',
      'content-length': String(bytes.length),
      etag: `"${sha256(bytes)}"`,
      'accept-ranges': 'bytes',
      'content-disposition': `attachment; filename="texts.json"; filename*=UTF-8''texts.json`,
    });

    const meta = await request(http).get(`/v1/artifacts/${created.body.id}/meta`).set('Authorization', `Bearer ${token}`).expect(200);
    expect(meta.body).toEqual(created.body);
  });

  it('answers ranges with 206, a range past the end with 416, and a matching If-None-Match with 304', async () => {
    const bytes = randomBytes(1000);
    const { body } = await upload(bytes).expect(201);
    const get = () => request(http).get(`/v1/artifacts/${body.id}`).set('Authorization', `Bearer ${token}`).buffer(true).parse(binary);

    const partial = await get().set('Range', 'bytes=100-199').expect(206);
    expect((partial.body as Buffer).equals(bytes.subarray(100, 200))).toBe(true);
    expect(partial.headers['content-range']).toBe('bytes 100-199/1000');
    expect(partial.headers['content-length']).toBe('100');

    const suffix = await get().set('Range', 'bytes=-10').expect(206);
    expect((suffix.body as Buffer).equals(bytes.subarray(990))).toBe(true);

    const unsatisfiable = await request(http).get(`/v1/artifacts/${body.id}`).set('Authorization', `Bearer ${token}`).set('Range', 'bytes=1000-').expect(416);
    expect(unsatisfiable.headers['content-range']).toBe('bytes */1000');
    expect(unsatisfiable.body.error.code).toBe('range_not_satisfiable');

    const head = await request(http).head(`/v1/artifacts/${body.id}`).set('Authorization', `Bearer ${token}`).expect(200);
    expect(head.headers).toMatchObject({ 'content-length': '1000', etag: `"${sha256(bytes)}"`, 'accept-ranges': 'bytes' });

    const notModified = await get().set('If-None-Match', `"${sha256(bytes)}"`).expect(304);
    expect(notModified.headers.etag).toBe(`"${sha256(bytes)}"`);
    expect((notModified.body as Buffer).length).toBe(0);
    await get().set('If-None-Match', '"something-else"').expect(200);
  });

  it('refuses a checksum mismatch with 400 and keeps neither row nor bytes', async () => {
    const before = { rows: t.artifacts.rows.length, files: storedFiles(t) };
    const bytes = randomBytes(5000);
    const wrong = sha256(Buffer.from('other'));
    const response = await upload(bytes, `?sha256=${wrong}`).expect(400);
    expect(response.body.error).toMatchObject({ code: 'checksum_mismatch', details: [{ field: 'sha256', problem: 'does not match the uploaded bytes' }] });
    expect(t.artifacts.rows.length).toBe(before.rows);
    expect(storedFiles(t)).toEqual(before.files);
    // The right digest, in capitals, is accepted.
    expect((await upload(bytes, `?sha256=${sha256(bytes).toUpperCase()}`).expect(201)).body.sha256).toBe(sha256(bytes));
  });

  it('refuses bodies over the limit with 413 payload_too_large, announced or streamed, and keeps nothing', async () => {
    const before = { rows: t.artifacts.rows.length, files: storedFiles(t) };
    const announced = await upload(randomBytes(MAX_BYTES + 1)).expect(413);
    expect(announced.body.error.code).toBe('payload_too_large');

    // No Content-Length: the limit is found while streaming.
    const { port } = (http as { address(): AddressInfo }).address();
    const streamed = await new Promise<{ status: number; body: string; connection: string | undefined }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/artifacts', headers: { authorization: `Bearer ${token}` } });
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), connection: res.headers.connection }));
      });
      // The server closes the connection once it has answered; writes after that may fail, which is the point.
      req.on('error', (error) => (error.message.includes('EPIPE') || error.message.includes('ECONNRESET') ? undefined : reject(error)));
      req.write(randomBytes(MAX_BYTES / 2));
      req.write(randomBytes(MAX_BYTES / 2));
      req.write(randomBytes(1024));
    });
    expect(streamed.status).toBe(413);
    expect(streamed.connection).toBe('close');
    expect(JSON.parse(streamed.body).error.code).toBe('payload_too_large');
    expect(t.artifacts.rows.length).toBe(before.rows);
    expect(storedFiles(t)).toEqual(before.files);
    // Exactly the limit is fine.
    await upload(randomBytes(MAX_BYTES)).expect(201);
  });

  it('answers an upload whose body stops arriving with 408 request_timeout and keeps nothing; a slow one that keeps coming is stored', async () => {
    const before = { rows: t.artifacts.rows.length, files: storedFiles(t) };
    const { port } = (http as { address(): AddressInfo }).address();
    // Half the announced bytes, then nothing: the client keeps its connection open.
    const stalled = await new Promise<{ status: number; body: string; connection: string | undefined }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/artifacts', headers: { authorization: `Bearer ${token}`, 'content-length': '2048' } });
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), connection: res.headers.connection }));
      });
      req.on('error', reject);
      req.write(randomBytes(1024));
    });
    expect(stalled.status).toBe(408);
    expect(stalled.connection).toBe('close');
    expect(JSON.parse(stalled.body).error.code).toBe('request_timeout');
    // The staged part goes once the answer is out.
    await waitFor(async () => storedFiles(t).length === before.files.length, { timeoutMs: 10_000, description: 'the staged part removed' });
    expect(storedFiles(t)).toEqual(before.files);
    expect(t.artifacts.rows.length).toBe(before.rows);

    // 4 KiB in 16 pieces, 200 ms apart: three times the idle timeout in all.
    const bytes = randomBytes(4096);
    const slow = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/artifacts', headers: { authorization: `Bearer ${token}`, 'content-length': String(bytes.length) } });
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      let sent = 0;
      const next = (): void => {
        req.write(bytes.subarray(sent, sent + 256));
        sent += 256;
        if (sent < bytes.length) setTimeout(next, 200);
      };
      next();
    });
    expect(slow.status).toBe(201);
    expect(JSON.parse(slow.body).sha256).toBe(sha256(bytes));
  });

  it("applies a tenant's own lower cap", async () => {
    t.tenants.put({ id: 'small', name: 'Small', maxArtifactBytes: 1000 });
    const small = t.userToken({ tenant: 'small' });
    expect((await upload(randomBytes(1001), '', undefined, small).expect(413)).body.error.message).toContain('limit of 1000 bytes');
    await upload(randomBytes(1000), '', undefined, small).expect(201);
    // A tenant's cap above the server's does not raise it.
    t.tenants.put({ id: 'big', name: 'Big', maxArtifactBytes: MAX_BYTES * 10 });
    await upload(randomBytes(MAX_BYTES + 1), '', undefined, t.userToken({ tenant: 'big' })).expect(413);
  });

  it('refuses an upload from a token whose tenant nobody created with 404 tenant_not_found, keeping nothing', async () => {
    const before = { rows: t.artifacts.rows.length, files: storedFiles(t) };
    const response = await upload(randomBytes(1000), '', undefined, t.userToken({ tenant: 'ghost' })).expect(404);
    expect(response.body.error.code).toBe('tenant_not_found');
    expect({ rows: t.artifacts.rows.length, files: storedFiles(t) }).toEqual(before);
  });

  it('streams an upload whatever the case of its path: a JSON body is stored, not parsed away', async () => {
    const bytes = Buffer.from(JSON.stringify({ text: 'kept' }));
    const created = await request(http).post('/v1/Artifacts').set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json').send(bytes.toString('utf8')).expect(201);
    expect(created.body).toMatchObject({ size_bytes: bytes.length, sha256: sha256(bytes) });
  });

  it('answers 404 artifact_not_found for an artifact whose bytes a delete took after its row was read', async () => {
    const bytes = randomBytes(200);
    const created = (await upload(bytes).expect(201)).body;
    for (const file of storedFiles(t).filter((path) => path.endsWith(sha256(bytes)))) rmSync(file);
    const response = await request(http).get(`/v1/artifacts/${created.id}`).set('Authorization', `Bearer ${token}`).expect(404);
    expect(response.body.error.code).toBe('artifact_not_found');
  });

  it('validates query, content type and ids with 400 before reading anything', async () => {
    for (const query of ['?sha256=xyz', '?expires_in_seconds=0', '?expires_in_seconds=1.5', '?name=a/b', '?unknown=1']) {
      const response = await upload(Buffer.from('x'), query).expect(400);
      expect(response.body.error.code).toBe('validation_failed');
    }
    expect((await upload(Buffer.from('x'), '', 'not a type').expect(400)).body.error.details).toEqual([
      { field: 'Content-Type', problem: 'must be a media type such as application/octet-stream' },
    ]);
    await request(http).get('/v1/artifacts/not-a-uuid').set('Authorization', `Bearer ${token}`).expect(400);
    await request(http).get(`/v1/artifacts/${randomUUID()}`).set('Authorization', `Bearer ${token}`).expect(404);
  });

  it('needs a token with artifacts:read to read and artifacts:write to write', async () => {
    const { body } = await upload(Buffer.from('scoped')).expect(201);
    await request(http).get(`/v1/artifacts/${body.id}`).expect(401);
    await request(http).post('/v1/artifacts').send(Buffer.from('x')).expect(401);
    const readOnly = t.userToken({ scope: 'artifacts:read' });
    const writeOnly = t.userToken({ scope: 'artifacts:write' });
    await request(http).get(`/v1/artifacts/${body.id}/meta`).set('Authorization', `Bearer ${readOnly}`).expect(200);
    expect((await upload(Buffer.from('x'), '', undefined, readOnly).expect(403)).body.error.code).toBe('forbidden');
    await request(http).delete(`/v1/artifacts/${body.id}`).set('Authorization', `Bearer ${readOnly}`).expect(403);
    await request(http).get(`/v1/artifacts/${body.id}`).set('Authorization', `Bearer ${writeOnly}`).expect(403);
    await request(http).get('/v1/artifacts').set('Authorization', `Bearer ${writeOnly}`).expect(403);
    expect(SCOPES).toEqual(expect.arrayContaining(['artifacts:read', 'artifacts:write']));
  });

  it("answers another tenant's artifact with 404 everywhere and audits the denial", async () => {
    const { body } = await upload(Buffer.from('private')).expect(201);
    const other = t.userToken({ tenant: 'other', sub: 'mallory' });
    for (const path of [`/v1/artifacts/${body.id}`, `/v1/artifacts/${body.id}/meta`]) {
      const response = await request(http).get(path).set('Authorization', `Bearer ${other}`).expect(404);
      expect(response.body.error.code).toBe('artifact_not_found');
    }
    await request(http).delete(`/v1/artifacts/${body.id}`).set('Authorization', `Bearer ${other}`).expect(404);
    expect(t.artifacts.rows.some((row) => row.id === body.id)).toBe(true);
    const list = await request(http).get('/v1/artifacts').set('Authorization', `Bearer ${other}`).expect(200);
    expect(list.body).toEqual({ items: [], next_cursor: null });
    expect(t.audit.events.filter((e) => e.resource === `artifact/${body.id}` && e.result === 'deny')).toEqual([
      expect.objectContaining({ action: 'artifact.read', reason: 'other_tenant', actorTenant: 'other', targetTenant: 'default' }),
      expect.objectContaining({ action: 'artifact.read', reason: 'other_tenant' }),
      expect.objectContaining({ action: 'artifact.delete', reason: 'other_tenant' }),
    ]);
  });

  it('lists newest first with a cursor', async () => {
    const tenant = `list-${Date.now()}`;
    t.tenants.put({ id: tenant, name: tenant });
    const own = t.userToken({ tenant });
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await upload(Buffer.from(`item ${i}`), '', undefined, own).expect(201)).body.id);
    const first = await request(http).get('/v1/artifacts?limit=3').set('Authorization', `Bearer ${own}`).expect(200);
    expect(first.body.items.map((item: { id: string }) => item.id)).toEqual(ids.slice(2).reverse());
    const second = await request(http).get(`/v1/artifacts?limit=3&cursor=${first.body.next_cursor}`).set('Authorization', `Bearer ${own}`).expect(200);
    expect(second.body.items.map((item: { id: string }) => item.id)).toEqual(ids.slice(0, 2).reverse());
    expect(second.body.next_cursor).toBeNull();
    await request(http).get('/v1/artifacts?cursor=bogus').set('Authorization', `Bearer ${own}`).expect(400);
  });

  it('lists the artifacts whose name starts with a prefix, page by page; an empty or overlong prefix is a 400', async () => {
    const tenant = `prefix-${Date.now()}`;
    t.tenants.put({ id: tenant, name: tenant });
    const own = t.userToken({ tenant });
    const named = async (name: string | null) =>
      (await upload(Buffer.from(name ?? 'unnamed'), name === null ? '' : `?name=${encodeURIComponent(name)}`, undefined, own).expect(201)).body.id as string;
    const [a, , b] = [await named('model-a.onnx'), await named('texts.json'), await named('model-b.onnx'), await named(null)];
    const list = (query: string) => request(http).get(`/v1/artifacts?${query}`).set('Authorization', `Bearer ${own}`);
    const first = await list('prefix=model-&limit=1').expect(200);
    expect(first.body.items.map((item: { id: string }) => item.id)).toEqual([b]);
    const second = await list(`prefix=model-&limit=1&cursor=${first.body.next_cursor}`).expect(200);
    expect(second.body.items.map((item: { id: string }) => item.id)).toEqual([a]);
    expect(second.body.next_cursor).toBeNull();
    expect((await list('prefix=none').expect(200)).body).toEqual({ items: [], next_cursor: null });
    expect((await list('prefix=').expect(400)).body.error.code).toBe('validation_failed');
    expect((await list(`prefix=${'x'.repeat(256)}`).expect(400)).body.error.code).toBe('validation_failed');
  });

  it('deletes with 204 (bytes go with the last artifact using them), and refuses with 409 while a waiting or running job uses it', async () => {
    const bytes = randomBytes(300);
    const a = (await upload(bytes).expect(201)).body;
    const b = (await upload(bytes).expect(201)).body;
    const object = () => storedFiles(t).filter((file) => file.endsWith(sha256(bytes)));
    expect(object()).toHaveLength(1);

    const jobId = randomUUID();
    t.artifacts.jobStates.set(jobId, 'RUNNING');
    t.artifacts.links.push({ jobId, artifactId: a.id, role: 'input' });
    const inUse = await request(http).delete(`/v1/artifacts/${a.id}`).set('Authorization', `Bearer ${token}`).expect(409);
    expect(inUse.body.error).toMatchObject({
      code: 'artifact_in_use',
      message: `artifact ${a.id} is used by a waiting or running job: ${jobId} (RUNNING); delete it once that job ends, or cancel it`,
    });
    // Five jobs are named, the others counted.
    const others = Array.from({ length: 6 }, () => randomUUID());
    for (const other of others) {
      t.artifacts.jobStates.set(other, 'QUEUED');
      t.artifacts.links.push({ jobId: other, artifactId: a.id, role: 'input' });
    }
    const crowded = await request(http).delete(`/v1/artifacts/${a.id}`).set('Authorization', `Bearer ${token}`).expect(409);
    expect(crowded.body.error.message).toMatch(new RegExp(`^artifact ${a.id} is used by 7 waiting or running jobs: ${jobId} \\(RUNNING\\), (.* \\(QUEUED\\), ){3}.* \\(QUEUED\\) and 2 more; `));
    for (const other of others) t.artifacts.jobStates.set(other, 'CANCELLED');

    t.artifacts.jobStates.set(jobId, 'SUCCEEDED');
    await request(http).delete(`/v1/artifacts/${a.id}`).set('Authorization', `Bearer ${token}`).expect(204);
    expect(object()).toHaveLength(1);
    await request(http).get(`/v1/artifacts/${b.id}`).set('Authorization', `Bearer ${token}`).expect(200);
    await request(http).delete(`/v1/artifacts/${b.id}`).set('Authorization', `Bearer ${token}`).expect(204);
    expect(object()).toHaveLength(0);
    await request(http).delete(`/v1/artifacts/${b.id}`).set('Authorization', `Bearer ${token}`).expect(404);
    expect(t.audit.events.filter((e) => e.action === 'artifact.delete' && e.result === 'allow').map((e) => e.resource)).toEqual([
      `artifact/${a.id}`,
      `artifact/${b.id}`,
    ]);
  });

  describe('worker access with X-MLIS-Assignment', () => {
    const node = { nodeId: 'cpu-9', incarnation: 2 };
    let workerToken: string;
    const live = { assignmentId: randomUUID(), jobId: randomUUID(), tenantId: 'acme', ...node, live: true };
    const ended = { assignmentId: randomUUID(), jobId: randomUUID(), tenantId: 'acme', ...node, live: false };
    let jobInput: string;
    let otherJobInput: string;

    beforeAll(async () => {
      workerToken = t.workerToken({ sub: `node:${node.nodeId}`, node_id: node.nodeId, incarnation: node.incarnation });
      t.artifacts.assignments.push(live, ended);
      t.tenants.put({ id: 'acme', name: 'Acme' });
      const acme = t.userToken({ tenant: 'acme' });
      jobInput = (await upload(Buffer.from('input of the job'), '', undefined, acme).expect(201)).body.id;
      otherJobInput = (await upload(Buffer.from('input of another job'), '', undefined, acme).expect(201)).body.id;
      t.artifacts.links.push({ jobId: live.jobId, artifactId: jobInput, role: 'input' });
      t.artifacts.links.push({ jobId: ended.jobId, artifactId: otherJobInput, role: 'input' });
      t.artifacts.links.push({ jobId: randomUUID(), artifactId: otherJobInput, role: 'input' });
    });

    const asWorker = (req: request.Test, assignmentId: string, bearer = workerToken) =>
      req.set('Authorization', `Bearer ${bearer}`).set('X-MLIS-Assignment', assignmentId);

    it("reads its live assignment's job's artifacts, and nothing else", async () => {
      const ok = await asWorker(request(http).get(`/v1/artifacts/${jobInput}`), live.assignmentId).buffer(true).parse(binary).expect(200);
      expect((ok.body as Buffer).toString()).toBe('input of the job');
      await asWorker(request(http).get(`/v1/artifacts/${jobInput}/meta`), live.assignmentId).expect(200);
      // Another job's artifact, though of the same tenant.
      expect((await asWorker(request(http).get(`/v1/artifacts/${otherJobInput}`), live.assignmentId).expect(404)).body.error.code).toBe('artifact_not_found');
      // Its own job's artifact through an assignment that has ended: the node learns that it was fenced off.
      const notLive = await asWorker(request(http).get(`/v1/artifacts/${otherJobInput}`), ended.assignmentId).expect(409);
      expect(notLive.body.error).toMatchObject({ code: 'assignment_not_live', message: `assignment ${ended.assignmentId} is not live on this node incarnation` });
      // The same assignment claimed by another incarnation of the node.
      const stale = t.workerToken({ sub: `node:${node.nodeId}`, node_id: node.nodeId, incarnation: 1 });
      expect((await asWorker(request(http).get(`/v1/artifacts/${jobInput}/meta`), live.assignmentId, stale).expect(409)).body.error.code).toBe(
        'assignment_not_live',
      );
    });

    it('uploads a result while the assignment is live: the job’s tenant’s, created by the node, linked as result', async () => {
      const bytes = Buffer.from('{"embedding":[0.1,0.2]}');
      const created = await asWorker(request(http).post('/v1/artifacts').set('Content-Type', 'application/json').send(bytes.toString()), live.assignmentId).expect(201);
      expect(created.body).toMatchObject({ tenant_id: 'acme', created_by: `node:${node.nodeId}`, sha256: sha256(bytes) });
      expect(t.artifacts.links).toContainEqual({ jobId: live.jobId, artifactId: created.body.id, role: 'result' });
      expect(t.audit.events).toContainEqual(
        expect.objectContaining({ action: 'artifact.upload', actorTenant: null, actorSubject: `node:${node.nodeId}`, targetTenant: 'acme' }),
      );
      const rows = t.artifacts.rows.length;
      const refused = await asWorker(request(http).post('/v1/artifacts').send(bytes), ended.assignmentId).expect(409);
      expect(refused.body.error.code).toBe('assignment_not_live');
      expect(t.artifacts.rows.length).toBe(rows);
    });

    it('needs the header with a worker token, a worker token with the header, and may not delete or list', async () => {
      // A worker token without the header is not a user token.
      await request(http).get(`/v1/artifacts/${jobInput}`).set('Authorization', `Bearer ${workerToken}`).expect(401);
      // A user token with the header is not a worker token.
      await asWorker(request(http).get(`/v1/artifacts/${jobInput}`), live.assignmentId, t.userToken({ tenant: 'acme' })).expect(401);
      expect((await asWorker(request(http).get(`/v1/artifacts/${jobInput}`), 'not-a-uuid').expect(400)).body.error.details).toEqual([
        { field: 'X-MLIS-Assignment', problem: 'must be one assignment id (uuid)' },
      ]);
      await asWorker(request(http).delete(`/v1/artifacts/${jobInput}`), live.assignmentId).expect(401);
      await asWorker(request(http).get('/v1/artifacts'), live.assignmentId).expect(401);
    });
  });
});
