import { randomUUID } from 'node:crypto';
import { api, withDb } from './support/api';

const valid = { task_type: 'sleep', params: { seconds: 1 }, cpu: 1, mem_mb: 256, gpu: 0 };

async function jobCount(): Promise<number> {
  return withDb(async (db) => (await db.query(`SELECT count(*)::int AS n FROM jobs`)).rows[0].n);
}

describe('bad input gets a clear 4xx in one error shape and is never half-applied', () => {
  const cases: [string, string, string | object, number, string][] = [
    ['malformed JSON', 'POST', '{"task_type": "sleep",', 400, 'malformed_json'],
    ['an unknown field', 'POST', { ...valid, colour: 'blue' }, 400, 'validation_failed'],
    ['a negative cpu', 'POST', { ...valid, cpu: -1 }, 400, 'validation_failed'],
    ['a non-integer mem_mb', 'POST', { ...valid, mem_mb: 1.5 }, 400, 'validation_failed'],
    ['a negative gpu', 'POST', { ...valid, gpu: -2 }, 400, 'validation_failed'],
    ['an unknown task type', 'POST', { ...valid, task_type: 'train_gpt' }, 422, 'unknown_task_type'],
    ['params the runner rejects', 'POST', { ...valid, params: { seconds: 'soon' } }, 422, 'invalid_params'],
    ['a request no node could ever fit', 'POST', { ...valid, gpu: 64 }, 422, 'unschedulable'],
    // Postgres' jsonb refuses both: a 500 from the insert before the API looked for them.
    ['a NUL character in params', 'POST', { ...valid, task_type: 'echo', params: { text: 'a\u0000b' } }, 422, 'invalid_params'],
    ['half a character in params (a lone surrogate)', 'POST', { ...valid, task_type: 'echo', params: { text: 'cut \ud83d' } }, 422, 'invalid_params'],
  ];

  it.each(cases)('POST /v1/jobs with %s', async (_name, method, body, status, code) => {
    const before = await jobCount();
    const response = await api(method, '/v1/jobs', body);
    expect(response.status).toBe(status);
    expect(response.body.error.code).toBe(code);
    expect(response.body.error.message).toEqual(expect.any(String));
    expect(response.body.error.request_id).toBe(response.headers.get('x-request-id'));
    expect(await jobCount()).toBe(before);
  });

  it('names the resource that makes a request unschedulable', async () => {
    const response = await api('POST', '/v1/jobs', { ...valid, mem_mb: 10_000_000 });
    expect(response.status).toBe(422);
    expect(response.body.error.message).toMatch(/mem/i);
  });

  it('a non-UUID job id is a 400', async () => {
    const response = await api('GET', '/v1/jobs/not-a-uuid');
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('validation_failed');
  });

  it('an unknown job id is a 404, on read and on cancel', async () => {
    for (const [method, path] of [
      ['GET', `/v1/jobs/${randomUUID()}`],
      ['POST', `/v1/jobs/${randomUUID()}/cancel`],
    ]) {
      const response = await api(method, path);
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe('job_not_found');
    }
  });

  it('every response carries X-Request-ID, and a caller-supplied one is echoed', async () => {
    const live = await api('GET', '/health/live', undefined, { 'x-request-id': 'trace-abc.123' });
    expect(live.headers.get('x-request-id')).toBe('trace-abc.123');
    const missing = await api('GET', '/no/such/route');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-request-id')).toMatch(/\S+/);
    expect(missing.body.error.request_id).toBe(missing.headers.get('x-request-id'));
  });
});

describe('health and OpenAPI', () => {
  it('live, ready and ready/full answer 200 with every group live', async () => {
    for (const path of ['/health/live', '/health/ready', '/health/ready/full']) {
      const response = await api('GET', path);
      expect(response.status).toBe(200);
      expect(response.body.status).toBe('ok');
    }
  });

  it('serves the OpenAPI document with the job routes', async () => {
    const response = await api('GET', '/docs-json');
    expect(response.status).toBe(200);
    expect(Object.keys(response.body.paths)).toEqual(
      expect.arrayContaining(['/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/cancel', '/v1/workers']),
    );
  });

  it('lists the nodes with their process ids and capacity', async () => {
    const response = await api('GET', '/v1/workers');
    expect(response.status).toBe(200);
    const ids = response.body.items.map((n: any) => n.node_id).sort();
    expect(ids).toEqual(['cpu-1', 'cpu-2', 'gpu-1', 'gpu-2']);
    for (const node of response.body.items) {
      expect(node).toMatchObject({ status: 'ACTIVE', pid: expect.any(Number), hostname: expect.any(String) });
    }
  });
});
