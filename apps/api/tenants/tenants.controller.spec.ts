import request from 'supertest';
import { createTestApp, type TestApp } from '../testing/test-app';
import { TenantsController } from './tenants.controller';

describe(TenantsController.name, () => {
  let t: TestApp;

  afterEach(async () => {
    await t.app.close();
  });

  const http = () => request(t.app.getHttpServer());

  describe('with a caller holding every scope', () => {
    beforeEach(async () => {
      t = await createTestApp();
    });

    it('creates a tenant with its limits (201) and audits it with the request id', async () => {
      const response = await http()
        .post('/v1/tenants')
        .set('X-Request-ID', 'create-1')
        .send({ id: 'team-a', name: 'Team A', max_queued_jobs: 10, submit_rate_per_minute: 60 })
        .expect(201);
      expect(response.body).toMatchObject({
        id: 'team-a',
        name: 'Team A',
        max_queued_jobs: 10,
        submit_rate_per_minute: 60,
        max_running_jobs: null,
        max_gpus: null,
        max_artifact_bytes: null,
        weight: 1,
      });
      expect(t.audit.events).toEqual([
        expect.objectContaining({ requestId: 'create-1', action: 'tenant.create', resource: 'tenant/team-a', targetTenant: 'team-a', result: 'allow' }),
      ]);
    });

    it('answers 409 tenant_exists for a taken id', async () => {
      const response = await http().post('/v1/tenants').send({ id: 'default' }).expect(409);
      expect(response.body.error.code).toBe('tenant_exists');
    });

    it('refuses bad ids, negative or fractional limits and unknown fields with 400', async () => {
      for (const body of [
        { id: 'Team_A' },
        { id: 'x', max_queued_jobs: -1 },
        { id: 'x', submit_rate_per_minute: 1.5 },
        { id: 'x', tenant_id: 'y' },
        { id: 'x', weight: 0 },
        { id: 'x', weight: 1001 },
        { id: 'x', weight: null },
        { id: 'x', max_artifact_bytes: -1 },
        { id: 'x', max_artifact_bytes: 2 ** 60 },
      ]) {
        const response = await http().post('/v1/tenants').send(body);
        expect({ body, status: response.status, code: response.body.error?.code }).toEqual({ body, status: 400, code: 'validation_failed' });
      }
      expect(t.audit.events).toEqual([]);
    });

    it('changes only the limits given, null removing one, and records what changed', async () => {
      t.tenants.put({ id: 'team-b', name: 'B', maxQueuedJobs: 5, submitRatePerMinute: 10 });
      const response = await http()
        .patch('/v1/tenants/team-b')
        .send({ submit_rate_per_minute: null, max_gpus: 4, weight: 3, max_artifact_bytes: 5_000_000_000 })
        .expect(200);
      expect(response.body).toMatchObject({ max_queued_jobs: 5, submit_rate_per_minute: null, max_gpus: 4, weight: 3, max_artifact_bytes: 5_000_000_000 });
      expect(t.audit.events).toEqual([
        expect.objectContaining({
          action: 'tenant.update',
          reason: 'submit_rate_per_minute=null max_gpus=4 max_artifact_bytes=5000000000 weight=3',
          targetTenant: 'team-b',
        }),
      ]);
    });

    it('sets limits by worker group: a group given replaces its limits, null removes them, others stay', async () => {
      const created = await http()
        .post('/v1/tenants')
        .send({ id: 'team-g', group_limits: { gpu: { max_gpus: 4 }, cpu: { max_running_jobs: 10, max_gpus: null } } })
        .expect(201);
      expect(created.body.group_limits).toEqual({ gpu: { max_running_jobs: null, max_gpus: 4 }, cpu: { max_running_jobs: 10, max_gpus: null } });

      const changed = await http().patch('/v1/tenants/team-g').send({ group_limits: { gpu: { max_running_jobs: 2 } } }).expect(200);
      expect(changed.body.group_limits).toEqual({ gpu: { max_running_jobs: 2, max_gpus: null }, cpu: { max_running_jobs: 10, max_gpus: null } });
      // A group left with no limit at all is gone, like one given as null.
      const removed = await http().patch('/v1/tenants/team-g').send({ group_limits: { gpu: null, cpu: {} } }).expect(200);
      expect(removed.body.group_limits).toEqual({});
      expect(t.audit.events.at(-1)).toEqual(expect.objectContaining({ action: 'tenant.update', reason: 'group_limits={"gpu":null,"cpu":{}}' }));
    });

    it('refuses malformed group limits and groups that do not exist with 400, naming the problem', async () => {
      const cases: [unknown, RegExp][] = [
        [[1], /must be an object keyed by worker group/],
        [{ GPU: { max_gpus: 1 } }, /key "GPU" must be a worker group name/],
        [{ gpu: 3 }, /group_limits.gpu must be an object or null/],
        [{ gpu: { max_gpus: -1 } }, /group_limits.gpu.max_gpus must be a non-negative integer or null/],
        [{ gpu: { max_running: 1 } }, /unknown field "max_running"/],
        [{ tpu: { max_gpus: 1 } }, /do not exist: tpu \(configured: cpu, gpu\)/],
      ];
      for (const [groupLimits, message] of cases) {
        const response = await http().patch('/v1/tenants/default').send({ group_limits: groupLimits });
        expect({ groupLimits, status: response.status, code: response.body.error?.code }).toEqual({ groupLimits, status: 400, code: 'validation_failed' });
        expect(response.body.error.message).toMatch(message);
      }
      expect((await http().get('/v1/tenants/default').expect(200)).body.group_limits).toEqual({});
      expect(t.audit.events).toEqual([]);
    });

    it('leaves the name as it is for name null (found by schemathesis: it was a 500), and everything for {}', async () => {
      t.tenants.put({ id: 'team-n', name: 'Named' });
      const response = await http().patch('/v1/tenants/team-n').send({ name: null, max_gpus: 2 }).expect(200);
      expect(response.body).toMatchObject({ name: 'Named', max_gpus: 2 });
      expect((await http().patch('/v1/tenants/team-n').send({}).expect(200)).body).toMatchObject({ name: 'Named', max_gpus: 2 });
    });

    it('refuses a PATCH without a body, as the document requires one (found by schemathesis: it was taken for {})', async () => {
      t.tenants.put({ id: 'team-b', name: 'B' });
      const response = await http().patch('/v1/tenants/team-b').expect(400);
      expect(response.body.error.details).toEqual([{ field: 'body', problem: expect.stringContaining('JSON request body') }]);
    });

    it('refuses a control character in the name, as the document states', async () => {
      t.tenants.put({ id: 'team-c', name: 'C' });
      const response = await http().patch('/v1/tenants/team-c').send({ name: 'tab\there' }).expect(400);
      expect(response.body.error.details).toEqual([{ field: 'name', problem: 'name must not contain control characters' }]);
    });

    it('refuses group_limits null with 400 naming the field (found by schemathesis: it was a 500)', async () => {
      t.tenants.put({ id: 'team-g', name: 'G' });
      const response = await http().patch('/v1/tenants/team-g').send({ group_limits: null }).expect(400);
      expect(response.body.error.details).toEqual([expect.objectContaining({ field: 'group_limits' })]);
    });

    it('answers 404 tenant_not_found and 400 for an impossible id', async () => {
      expect((await http().get('/v1/tenants/nope').expect(404)).body.error.code).toBe('tenant_not_found');
      expect((await http().patch('/v1/tenants/nope').send({ max_gpus: 1 }).expect(404)).body.error.code).toBe('tenant_not_found');
      expect((await http().get('/v1/tenants/NOT..valid').expect(400)).body.error.code).toBe('validation_failed');
    });

    it('lists tenants by id', async () => {
      t.tenants.put({ id: 'alpha', name: 'A' });
      const response = await http().get('/v1/tenants').expect(200);
      expect(response.body.items.map((tenant: { id: string }) => tenant.id)).toEqual(['alpha', 'default']);
    });
  });

  describe('with the real token guard', () => {
    beforeEach(async () => {
      t = await createTestApp({}, { auth: 'real' });
    });

    it('needs a token with admin:tenants', async () => {
      await http().get('/v1/tenants').expect(401);
      const reader = t.userToken({ scope: 'jobs:read jobs:submit' });
      await http().post('/v1/tenants').set('Authorization', `Bearer ${reader}`).send({ id: 'team-c' }).expect(403);
      const admin = t.userToken({ scope: 'admin:tenants' });
      await http().post('/v1/tenants').set('Authorization', `Bearer ${admin}`).send({ id: 'team-c' }).expect(201);
    });
  });
});
