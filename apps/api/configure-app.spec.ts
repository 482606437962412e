import request from 'supertest';
import { configureApp } from './configure-app';
import { createTestApp, type TestApp } from './testing/test-app';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe(configureApp.name, () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ MLIS_API_BODY_LIMIT_BYTES: '2048' });
  });

  afterAll(async () => {
    await t.app.close();
  });

  const http = () => request(t.app.getHttpServer());

  describe('X-Request-ID', () => {
    it('is generated for a success, an error and an unknown route', async () => {
      const responses = [
        await http().get('/health/live').expect(200),
        await http().get('/v1/jobs/not-a-uuid').expect(400),
        await http().get('/no/such/route').expect(404),
      ];
      for (const response of responses) expect(response.headers['x-request-id']).toMatch(UUID);
      expect(new Set(responses.map((r) => r.headers['x-request-id'])).size).toBe(3);
    });

    it("echoes a caller's safe id, on success and in the error body", async () => {
      const live = await http().get('/health/live').set('X-Request-ID', 'trace-abc.123_X').expect(200);
      expect(live.headers['x-request-id']).toBe('trace-abc.123_X');
      const missing = await http().get('/nope').set('X-Request-ID', 'trace-404').expect(404);
      expect(missing.headers['x-request-id']).toBe('trace-404');
      expect(missing.body.error.request_id).toBe('trace-404');
    });

    it.each([
      ['too long', 'a'.repeat(129)],
      ['with a space', 'a b'],
      ['with a slash', 'a/b'],
      ['with a colon', 'a:b'],
    ])('replaces an unsafe id (%s) with a UUID', async (_name, id) => {
      const response = await http().get('/health/live').set('X-Request-ID', id).expect(200);
      expect(response.headers['x-request-id']).toMatch(UUID);
    });

    it('accepts an id of exactly 128 safe characters', async () => {
      const id = 'a'.repeat(128);
      expect((await http().get('/health/live').set('X-Request-ID', id)).headers['x-request-id']).toBe(id);
    });
  });

  it('answers an unknown route with 404 not_found in the error shape', async () => {
    const response = await http().post('/v1/nothing-here').send({}).expect(404);
    expect(response.body).toEqual({
      error: { code: 'not_found', message: expect.any(String), request_id: response.headers['x-request-id'] },
    });
  });

  it.each([
    ['DELETE', '/v1/jobs', 'GET, HEAD, POST'],
    ['PUT', '/v1/jobs/0b9e2a8e-55d5-4c55-9f57-7a3f0d9d2f10', 'GET, HEAD'],
    ['GET', '/v1/jobs/0b9e2a8e-55d5-4c55-9f57-7a3f0d9d2f10/cancel', 'POST'],
    ['PATCH', '/health/live', 'GET, HEAD'],
    ['OPTIONS', '/v1/tenants/acme', 'GET, HEAD, PATCH'],
    ['TRACE', '/v1/workers', 'GET, HEAD'],
  ])('answers %s on %s, a path it serves, with 405, the error body and Allow: %s', async (method, path, allow) => {
    const response = await http()[method.toLowerCase() as 'delete'](path).expect(405);
    expect(response.headers.allow).toBe(allow);
    expect(response.body).toEqual({
      error: { code: 'method_not_allowed', message: `${method} is not allowed on ${path}; allowed: ${allow}`, request_id: response.headers['x-request-id'] },
    });
  });

  it('answers 405 before reading the body, and 404 for a path it does not serve', async () => {
    const response = await http().put('/v1/jobs').set('content-type', 'application/json').send('{not json').expect(405);
    expect(response.body.error.code).toBe('method_not_allowed');
    await http().delete('/v1/jobs/x/y/z').expect(404);
  });

  it.each([
    ['at the top level', { task_type: 'sleep', constructor: { a: 1 } }, 'constructor'],
    ['in params', { task_type: 'sleep', params: { nested: { __proto__: { polluted: true } } } }, 'params.nested.__proto__'],
    ['in an array', { task_type: 'sleep', params: { items: [{ prototype: 1 }] } }, 'params.items[0].prototype'],
    ['in labels', { task_type: 'sleep', node_selector: { constructor: 'x' } }, 'node_selector.constructor'],
  ])('refuses a reserved key %s with 400 validation_failed naming it, nothing stored', async (_where, body, field) => {
    // Raw JSON: an object literal's __proto__ would set the prototype instead of a key.
    const raw = JSON.stringify(body).replace('"nested":{}', '"nested":{"__proto__":{"polluted":true}}');
    const response = await http().post('/v1/jobs').set('content-type', 'application/json').send(raw).expect(400);
    expect(response.body.error.code).toBe('validation_failed');
    expect(response.body.error.details).toEqual([{ field, problem: expect.stringContaining('reserved name') }]);
    expect(t.jobs.records).toHaveLength(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a reserved key on PATCH /v1/tenants/{id} group_limits instead of dropping it', async () => {
    const raw = '{"group_limits": {"constructor": {"max_gpus": 1}}}';
    const response = await http().patch('/v1/tenants/default').set('content-type', 'application/json').send(raw).expect(400);
    expect(response.body.error.details).toEqual([{ field: 'group_limits.constructor', problem: expect.any(String) }]);
  });

  it.each([
    ['in a params string', { task_type: 'echo', params: { text: 'a\u0000b' } }, 'params.text', 'a string must not contain U+0000 (NUL)'],
    ['in a params key', { task_type: 'echo', params: { 'a\u0000': 1 } }, 'params.a\u0000', 'a key must not contain U+0000 (NUL)'],
    ['in an array', { task_type: 'echo', params: { items: ['ok', '\u0000'] } }, 'params.items[1]', 'a string must not contain U+0000 (NUL)'],
    // Half of an emoji, as a client that cut a string by UTF-16 units sends it: JSON allows it as an escape, jsonb does not.
    ['as half a character', { task_type: 'echo', params: { text: 'cut \ud83d' } }, 'params.text', 'a string must not contain a lone UTF-16 surrogate (half of a character)'],
  ])('refuses a character the ledger cannot store %s with 422 invalid_params naming where, nothing stored', async (_where, body, field, problem) => {
    const response = await http().post('/v1/jobs').send(body).expect(422);
    expect(response.body.error).toMatchObject({ code: 'invalid_params', details: [{ field, problem }] });
    expect(t.jobs.records).toHaveLength(0);
  });

  it('refuses a NUL character in a text field with 400, as the document states (tenant name)', async () => {
    const response = await http().patch('/v1/tenants/default').send({ name: 'a\u0000b' }).expect(400);
    expect(response.body.error.details).toEqual([{ field: 'name', problem: 'name must not contain control characters' }]);
  });

  it.each([
    ['no body', undefined, undefined],
    ['a body that is not JSON', 'text/plain', 'max_gpus=1'],
  ])('refuses %s where the route reads one (PATCH /v1/tenants/{id} included), instead of taking it for {}', async (_what, type, body) => {
    const patch = http().patch('/v1/tenants/default');
    const response = await (type === undefined ? patch : patch.set('content-type', type).send(body)).expect(400);
    expect(response.body.error).toMatchObject({ code: 'validation_failed', details: [{ field: 'body', problem: expect.stringContaining('JSON request body') }] });
    await http().patch('/v1/tenants/default').send({}).expect(200);
  });

  it('answers a body over the limit with 413 payload_too_large', async () => {
    const body = { task_type: 'sleep', params: { seconds: 1, padding: 'x'.repeat(4096) } };
    const response = await http().post('/v1/jobs').send(body).expect(413);
    expect(response.body.error).toMatchObject({ code: 'payload_too_large', request_id: response.headers['x-request-id'] });
    expect(t.jobs.records).toHaveLength(0);
  });

  it('answers malformed JSON on any route with 400 malformed_json', async () => {
    const response = await http()
      .post('/v1/internal/nodes/register')
      .set('content-type', 'application/json')
      .send('{not json')
      .expect(400);
    expect(response.body.error.code).toBe('malformed_json');
  });

  it('answers a JSON body that is not an object with 400', async () => {
    const response = await http().post('/v1/jobs').set('content-type', 'application/json').send('"sleep"').expect(400);
    expect(response.body.error.code).toBe('malformed_json');
    const array = await http().post('/v1/jobs').send([{ task_type: 'sleep' }]).expect(400);
    expect(array.body.error.code).toBe('validation_failed');
  });

  it('answers an unexpected failure with 500 internal_error without leaking its message', async () => {
    const original = t.jobs.list.bind(t.jobs);
    t.jobs.list = async () => {
      throw new Error('password authentication failed for user "mlis" at 10.0.0.7');
    };
    try {
      const response = await http().get('/v1/jobs').expect(500);
      expect(response.body).toEqual({
        error: { code: 'internal_error', message: 'internal error', request_id: response.headers['x-request-id'] },
      });
      expect(JSON.stringify(response.body)).not.toMatch(/password|10\.0\.0\.7/);
    } finally {
      t.jobs.list = original;
    }
  });

  it('does not advertise the framework', async () => {
    const response = await http().get('/health/live');
    expect(response.headers['x-powered-by']).toBeUndefined();
  });

  describe('OpenAPI', () => {
    it('serves the document at /docs-json with every route and its error responses', async () => {
      const response = await http().get('/docs-json').expect(200);
      expect(response.body.info.title).toBe('MLIS');
      const paths = response.body.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>;
      expect(Object.keys(paths).sort()).toEqual(
        [
          '/health/live',
          '/health/ready',
          '/health/ready/full',
          '/metrics',
          '/ui/api/overview',
          '/ui/api/console-config',
          '/ui/api/queue',
          '/v1/auth/dev-token',
          '/v1/auth/revocations',
          '/v1/stream',
          '/v1/stream/tickets',
          '/v1/task-types',
          '/v1/internal/nodes/register',
          '/v1/internal/nodes/{id}/assignments/{assignmentId}/started',
          '/v1/internal/nodes/{id}/heartbeat',
          '/v1/internal/nodes/{id}/leave',
          '/v1/internal/nodes/{id}/token',
          '/v1/jobs',
          '/v1/jobs/{id}',
          '/v1/jobs/{id}/cancel',
          '/v1/jobs/{id}/result',
          '/v1/jobs/{id}/result/download-link',
          '/v1/downloads',
          '/v1/workers',
          '/v1/workers/{id}/drain',
          '/v1/workers/{id}/undrain',
          '/v1/worker-groups',
          '/v1/auth/whoami',
          '/v1/audit',
          '/v1/audit/export',
          '/v1/tenants',
          '/v1/tenants/{id}',
          '/v1/artifacts',
          '/v1/artifacts/{id}',
          '/v1/artifacts/{id}/meta',
          '/v1/artifacts/{id}/download-link',
        ].sort(),
      );
      for (const [path, operations] of Object.entries(paths)) {
        for (const [method, operation] of Object.entries(operations)) {
          expect([path, method, Object.keys(operation.responses)]).toEqual([path, method, expect.arrayContaining(['500'])]);
        }
      }
      expect(Object.keys(paths['/v1/jobs'].post.responses).sort()).toEqual(['200', '202', '400', '401', '403', '404', '408', '409', '413', '422', '429', '500', '503', '507']);
      expect(paths['/v1/jobs'].post.responses['422']).toMatchObject({ description: expect.stringContaining('artifact_not_found') });
      expect(paths['/v1/jobs'].post.responses['404']).toMatchObject({ description: 'error.code: tenant_not_found' });
      expect(paths['/v1/jobs'].post.responses['429']).toMatchObject({ description: 'error.code: rate_limited | quota_exceeded' });
      expect(Object.keys(paths['/v1/jobs/{id}/result'].get.responses).sort()).toEqual(['200', '400', '401', '403', '404', '409', '500', '503']);
      expect(Object.keys(paths['/v1/internal/nodes/{id}/heartbeat'].post.responses).sort()).toEqual(['200', '400', '401', '403', '404', '408', '409', '500', '503']);
      // Every route that reads a body, and only those, documents the stalled body's 408.
      const operations = Object.values(paths).flatMap((byMethod) => Object.values(byMethod) as { requestBody?: unknown; responses: Record<string, unknown> }[]);
      expect(operations.filter((operation) => '408' in operation.responses)).toEqual(operations.filter((operation) => operation.requestBody !== undefined));
      expect(Object.keys(paths['/v1/artifacts'].post.responses).sort()).toEqual(['200', '201', '400', '401', '403', '404', '408', '409', '413', '500', '503', '507']);
      expect(paths['/v1/artifacts'].post.responses['409']).toMatchObject({ description: 'error.code: idempotency_conflict | assignment_not_live' });
      expect(Object.keys(paths['/v1/artifacts/{id}'].get.responses).sort()).toEqual(['200', '206', '304', '400', '401', '403', '404', '409', '416', '500', '503']);
      expect(Object.keys(paths['/v1/artifacts/{id}'].delete.responses).sort()).toEqual(['204', '400', '401', '403', '404', '409', '500', '503']);
      // Every route but the probes and the metrics scrape documents a 401 (registration's is for its bootstrap credential).
      const withoutToken = Object.entries(paths)
        .flatMap(([path, operations]) => Object.entries(operations).map(([method, operation]) => ({ path, method, operation })))
        .filter(({ operation }) => !('401' in operation.responses))
        .map(({ path }) => path);
      // The console's pre-sign-in routes are public too: its config, and the dev sign-in form (dev key only).
      expect(withoutToken.sort()).toEqual(['/health/live', '/health/ready', '/health/ready/full', '/metrics', '/ui/api/console-config', '/v1/auth/dev-token'].sort());
    });

    it('serves the UI at /docs', async () => {
      const response = await http().get('/docs').expect(200);
      expect(response.text).toContain('swagger');
      expect(response.headers['x-request-id']).toEqual(expect.any(String));
    });
  });
});
