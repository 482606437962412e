import request from 'supertest';
import { fakeNode } from '../testing/fakes';
import { createTestApp, type TestApp } from '../testing/test-app';
import { MetricsService } from './metrics.service';
import { submissionMetricsMiddleware } from './submission-metrics.middleware';

const valid = { task_type: 'sleep', params: { seconds: 1 }, cpu: 1, mem_mb: 256, gpu: 0 };

describe(submissionMetricsMiddleware.name, () => {
  let t: TestApp;
  let recorded: [string, string, string | undefined][];

  beforeEach(async () => {
    t = await createTestApp({}, { auth: 'real' });
    recorded = [];
    jest.spyOn(t.app.get(MetricsService), 'recordSubmission').mockImplementation((outcome, reason, tenant) => {
      recorded.push([outcome, reason, tenant]);
    });
  });

  afterEach(async () => {
    await t.app.close();
  });

  /** Each answer is counted as it finishes, after supertest may already hold it: wait for the count. */
  async function counted(n: number): Promise<void> {
    const deadline = Date.now() + 2_000;
    while (recorded.length < n && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  }

  it('counts every answer to POST /v1/jobs by outcome, reason and the verified tenant, whichever layer gave it', async () => {
    t.tenants.put({ id: 'acme', name: 'Acme' });
    // With a node registered, a request none could fit is refused (with none, it is accepted to wait).
    t.nodes.nodes = [fakeNode({ id: 'cpu-1', cpuMillis: 4000, memMb: 8192 })];
    const http = request(t.app.getHttpServer());
    const auth = { Authorization: `Bearer ${t.userToken({ tenant: 'acme' })}` };
    await http.post('/v1/jobs').set(auth).set('Idempotency-Key', 'k1').send(valid).expect(202);
    await http.post('/v1/jobs').set(auth).set('Idempotency-Key', 'k1').send(valid).expect(200);
    await http.post('/v1/jobs').set(auth).send({ ...valid, mem_mb: 10_000_000 }).expect(422);
    await http.post('/v1/jobs').set(auth).send({ ...valid, cpu: -1 }).expect(400);
    await http.post('/v1/jobs').set(auth).set('Content-Type', 'application/json').send('{"task_type":').expect(400);
    await http.post('/v1/jobs').send(valid).expect(401);
    await counted(6);

    expect(recorded).toEqual([
      ['accepted', 'none', 'acme'],
      ['replayed', 'none', 'acme'],
      ['refused', 'unschedulable', 'acme'],
      ['refused', 'validation_failed', 'acme'],
      // The body is parsed before the guard runs: a malformed one is refused before anyone is known.
      ['refused', 'malformed_json', undefined],
      ['refused', 'unauthorized', undefined],
    ]);
  });

  it('counts nothing for the other routes under /v1/jobs', async () => {
    const http = request(t.app.getHttpServer());
    const auth = { Authorization: `Bearer ${t.userToken()}` };
    await http.get('/v1/jobs').set(auth).expect(200);
    await http.post('/v1/jobs/00000000-0000-4000-8000-000000000000/cancel').set(auth).expect(404);
    await http.post('/v1/jobs').set(auth).send(valid).expect(202);
    await counted(1);
    expect(recorded).toEqual([['accepted', 'none', 'default']]);
  });
});
