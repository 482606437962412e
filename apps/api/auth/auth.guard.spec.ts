import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { sign } from 'jsonwebtoken';
import request from 'supertest';
import { mintUserToken } from '@mlis/auth';
import { Access } from '../common/access';
import { createTestApp, type TestApp } from '../testing/test-app';
import { ApiAuthGuard } from './auth.guard';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe(ApiAuthGuard.name, () => {
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());

  beforeEach(async () => {
    t = await createTestApp({}, { auth: 'real' });
  });

  afterEach(async () => {
    await t.app.close();
  });

  describe('authentication', () => {
    it('refuses a route without a token: 401 unauthorized, audited with the request id and the route', async () => {
      const response = await http().get('/v1/jobs').set('X-Request-ID', 'req-no-token').expect(401);
      expect(response.body.error).toMatchObject({ code: 'unauthorized', request_id: 'req-no-token' });
      expect(t.audit.events).toEqual([
        expect.objectContaining({
          requestId: 'req-no-token',
          actorTenant: null,
          actorSubject: null,
          action: 'auth.user_token',
          resource: 'GET /v1/jobs',
          result: 'deny',
          reason: 'missing_token',
        }),
      ]);
    });

    it.each([
      ['a malformed header', 'Token abc', 'missing_token'],
      ['garbage', 'Bearer not-a-jwt', 'malformed_token'],
    ])('refuses %s', async (_what, authorization, reason) => {
      await http().get('/v1/jobs').set('Authorization', authorization).expect(401);
      expect(t.audit.events.map((e) => e.reason)).toEqual([reason]);
    });

    it('refuses an expired token and one signed with another secret', async () => {
      await http().get('/v1/jobs').set(bearer(t.userToken({}, -60))).expect(401);
      const forged = mintUserToken('another-install-secret-0123456789abcdef', t.config.auth, { sub: 'x', tenant: 'default', scope: 'jobs:read' });
      await http().get('/v1/jobs').set(bearer(forged)).expect(401);
      expect(t.audit.events.map((e) => e.reason)).toEqual(['token_expired', 'bad_signature']);
    });

    it('refuses a worker token on a user route and a user token on a worker route', async () => {
      await http().get('/v1/jobs').set(bearer(t.workerToken({ sub: 'node:cpu-1', node_id: 'cpu-1', incarnation: 1 }))).expect(401);
      await http().post('/v1/internal/nodes/cpu-1/heartbeat').set(bearer(t.userToken())).send({ incarnation: 1 }).expect(401);
      expect(t.audit.events.map((e) => [e.action, e.reason])).toEqual([
        ['auth.user_token', 'wrong_token_type'],
        ['auth.worker_token', 'wrong_token_type'],
      ]);
    });

    it('never echoes the token in the error body', async () => {
      const token = t.userToken({}, -60);
      const response = await http().get('/v1/jobs').set(bearer(token)).expect(401);
      expect(JSON.stringify(response.body)).not.toContain(token.split('.')[1]);
    });

    it('lets probes and the OpenAPI document through without a token', async () => {
      await http().get('/health/live').expect(200);
      await http().get('/docs-json').expect(200);
      expect(t.audit.events).toEqual([]);
    });
  });

  describe('scopes', () => {
    it.each([
      ['post', '/v1/jobs', 'jobs:submit'],
      ['get', '/v1/jobs', 'jobs:read'],
      ['get', `/v1/jobs/${randomUUID()}`, 'jobs:read'],
      ['post', `/v1/jobs/${randomUUID()}/cancel`, 'jobs:cancel'],
      ['get', '/v1/workers', 'admin:workers'],
      ['get', '/ui/api/overview', 'jobs:read'],
    ] as const)('%s %s needs %s: 403 forbidden without it, audited with the actor', async (method, path, scope) => {
      const others = 'jobs:submit jobs:read jobs:cancel admin:workers admin:tenants admin:audit'.split(' ').filter((s) => s !== scope);
      const response = await http()[method](path).set(bearer(t.userToken({ sub: 'bob', tenant: 'acme', scope: others.join(' ') }))).expect(403);
      expect(response.body.error.code).toBe('forbidden');
      expect(t.audit.events).toEqual([
        expect.objectContaining({ actorTenant: 'acme', actorSubject: 'bob', targetTenant: 'acme', action: 'auth.scope', result: 'deny', reason: 'missing_scope' }),
      ]);
    });

    it('whoami answers any valid user token, whatever its scopes', async () => {
      const token = t.userToken({ sub: 'carol', tenant: 'acme', scope: '', mlis_cross_tenant: true });
      const response = await http().get('/v1/auth/whoami').set(bearer(token)).expect(200);
      expect(response.body).toEqual({ subject: 'carol', tenant: 'acme', scopes: [], cross_tenant: true, token_kind: 'user' });
    });
  });

  describe('worker routes', () => {
    beforeEach(() => {
      t.nodes.heartbeatAnswer = 'ok';
    });

    it("accept the node's own worker token, and refuse another node's or another incarnation's with 403", async () => {
      const own = t.workerToken({ sub: 'node:cpu-1', node_id: 'cpu-1', incarnation: 2 });
      await http().post('/v1/internal/nodes/cpu-1/heartbeat').set(bearer(own)).send({ incarnation: 2 }).expect(200);
      await http().post('/v1/internal/nodes/cpu-2/heartbeat').set(bearer(own)).send({ incarnation: 2 }).expect(403);
      await http().post('/v1/internal/nodes/cpu-1/heartbeat').set(bearer(own)).send({ incarnation: 1 }).expect(403);
      expect(t.audit.events.map((e) => [e.action, e.actorSubject, e.reason])).toEqual([
        ['auth.worker_binding', 'node:cpu-1', 'other_node'],
        ['auth.worker_binding', 'node:cpu-1', 'other_node'],
      ]);
    });
  });

  describe('tenancy', () => {
    const jobOf = (tenantId: string) => t.jobs.seed({ id: randomUUID(), tenantId, submittedBy: `user-of-${tenantId}`, state: 'RUNNING' });
    const acme = () => bearer(t.userToken({ sub: 'alice', tenant: 'acme' }));
    const operator = () => bearer(t.userToken({ sub: 'ops', tenant: 'default', mlis_cross_tenant: true }));

    it('takes the tenant and submitter from the token, and refuses one in the body', async () => {
      t.nodes.nodes = [];
      t.tenants.put({ id: 'acme', name: 'Acme' });
      const response = await http().post('/v1/jobs').set(acme()).send({ task_type: 'sleep', params: { seconds: 1 } }).expect(202);
      expect(response.body).toMatchObject({ tenant_id: 'acme', submitted_by: 'alice' });
      await http().post('/v1/jobs').set(acme()).send({ task_type: 'sleep', tenant_id: 'other' }).expect(400);
    });

    it('refuses a submission for a tenant that does not exist, even with a valid token', async () => {
      const ghost = bearer(t.userToken({ sub: 'casper', tenant: 'ghost' }));
      const response = await http().post('/v1/jobs').set(ghost).send({ task_type: 'sleep' }).expect(404);
      expect(response.body.error.code).toBe('tenant_not_found');
      expect(t.jobs.records).toHaveLength(0);
    });

    it("answers another tenant's job like a missing one (404 on get and cancel), and audits it", async () => {
      const theirs = jobOf('globex');
      const missing = randomUUID();
      const get = await http().get(`/v1/jobs/${theirs.job.id}`).set(acme()).set('X-Request-ID', 'req-peek').expect(404);
      const unknown = await http().get(`/v1/jobs/${missing}`).set(acme()).expect(404);
      expect(get.body.error.code).toBe(unknown.body.error.code);
      expect(get.body.error.message).toBe(`job ${theirs.job.id} not found`);
      expect(JSON.stringify(get.body)).not.toContain('globex');
      await http().post(`/v1/jobs/${theirs.job.id}/cancel`).set(acme()).expect(404);
      expect(t.temporal.cancelled).toEqual([]);
      expect(t.audit.events.map((e) => [e.requestId === 'req-peek', e.actorTenant, e.targetTenant, e.action, e.result, e.reason])).toEqual([
        [true, 'acme', 'globex', 'job.read', 'deny', 'other_tenant'],
        [false, 'acme', 'globex', 'job.cancel', 'deny', 'other_tenant'],
      ]);
    });

    it('lists only the caller tenant; another tenant as filter gives an empty page without the capability', async () => {
      const ours = jobOf('acme');
      jobOf('globex');
      const list = await http().get('/v1/jobs').set(acme()).expect(200);
      expect(list.body.items.map((j: { id: string }) => j.id)).toEqual([ours.job.id]);
      const filtered = await http().get('/v1/jobs?tenant=globex').set(acme()).expect(200);
      expect(filtered.body).toEqual({ items: [], next_cursor: null });
      expect(t.audit.events.map((e) => [e.targetTenant, e.action, e.reason])).toEqual([['globex', 'job.list', 'other_tenant']]);
    });

    it('crosses tenants with the capability and the scope: get, cancel, list all or one tenant', async () => {
      const a = jobOf('acme');
      const g = jobOf('globex');
      await http().get(`/v1/jobs/${g.job.id}`).set(operator()).expect(200);
      await http().post(`/v1/jobs/${a.job.id}/cancel`).set(operator()).expect(202);
      const all = await http().get('/v1/jobs').set(operator()).expect(200);
      expect(all.body.items.map((j: { id: string }) => j.id).sort()).toEqual([a.job.id, g.job.id].sort());
      const one = await http().get('/v1/jobs?tenant=globex').set(operator()).expect(200);
      expect(one.body.items.map((j: { id: string }) => j.id)).toEqual([g.job.id]);
      // The capability without the route's scope is not enough.
      const readOnly = bearer(t.userToken({ sub: 'ops', tenant: 'default', scope: 'jobs:read', mlis_cross_tenant: true }));
      await http().post(`/v1/jobs/${g.job.id}/cancel`).set(readOnly).expect(403);
    });

    it("counts only the caller tenant's jobs in the console overview", async () => {
      jobOf('acme');
      jobOf('globex');
      jobOf('globex');
      const response = await http().get('/ui/api/overview').set(acme()).expect(200);
      expect(response.body.jobs_by_state.RUNNING).toBe(1);
      expect(JSON.stringify(response.body)).not.toContain('globex');
    });
  });
});

describe(`${ApiAuthGuard.name} past MLIS_AUDIT_DENIALS_PER_MINUTE`, () => {
  it('writes the first denials of a kind, counts the rest, and writes their summary when the API stops', async () => {
    const t = await createTestApp({ MLIS_AUDIT_DENIALS_PER_MINUTE: '2' }, { auth: 'real' });
    const http = request(t.app.getHttpServer());
    for (let i = 1; i <= 5; i += 1) await http.get('/v1/jobs').set('X-Request-ID', `flood-${i}`).expect(401);
    // Another kind (another route) has rows of its own.
    await http.get('/v1/tenants').set('X-Request-ID', 'other-route').expect(401);
    expect(t.audit.events.map((e) => [e.requestId, e.occurrences])).toEqual([
      ['flood-1', 1],
      ['flood-2', 1],
      ['other-route', 1],
    ]);

    // A refusal made as the HTTP server closes (the last answers of a draining API) is counted into the summary too.
    const access = t.app.get(Access);
    t.app.getHttpServer().once('close', () => void access.deny({ requestId: 'while-closing', subject: null }, { action: 'auth.user_token', resource: 'GET /v1/jobs', targetTenant: null, reason: 'missing_token' }));
    await t.app.close();

    expect(t.audit.events.slice(3)).toEqual([
      expect.objectContaining({ requestId: 'while-closing', action: 'auth.user_token', resource: 'GET /v1/jobs', reason: 'missing_token', occurrences: 4 }),
    ]);
  });
});

describe('the signing secret at start-up', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mlis-guard-spec-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is required: the app does not start without it', async () => {
    await expect(createTestApp({ MLIS_AUTH_DEV_SECRET_FILE: join(dir, 'absent') }, { auth: 'real' })).rejects.toThrow(/missing/);
  });

  it('must not be readable by group or others', async () => {
    const file = join(dir, 'key');
    writeFileSync(file, 'x'.repeat(64));
    chmodSync(file, 0o644);
    await expect(createTestApp({ MLIS_AUTH_DEV_SECRET_FILE: file }, { auth: 'real' })).rejects.toThrow(/group or others/);
  });
});

describe(`${ApiAuthGuard.name} with an identity provider that does not answer`, () => {
  it("answers 503 with Retry-After, not 401, and writes no denial: the token's key could not be fetched", async () => {
    // A port with nothing behind it: the JWKS fetch is refused.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const t = await createTestApp({ MLIS_AUTH_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`, MLIS_AUTH_ISSUER: 'https://idp.example.com/' }, { auth: 'real' });
    try {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const token = sign({ tenant: 'default', scope: 'jobs:read' }, privateKey, {
        algorithm: 'RS256',
        keyid: 'k1',
        header: { alg: 'RS256', typ: 'at+jwt', kid: 'k1' },
        issuer: 'https://idp.example.com/',
        audience: t.config.auth.audience,
        subject: 'alice',
        expiresIn: 600,
        notBefore: 0,
      });
      const response = await request(t.app.getHttpServer()).get('/v1/jobs').set(bearer(token));
      expect(response.status).toBe(503);
      expect(response.body.error.code).toBe('dependency_unavailable');
      expect(response.headers['retry-after']).toBe('5');
      expect(t.audit.events).toEqual([]);
    } finally {
      await t.app.close();
    }
  });
});
