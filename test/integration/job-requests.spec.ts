import { randomUUID } from 'node:crypto';
import { api, submit, tokenFor, withDb } from './support/api';

// The test stack's nodes: cpu-1, cpu-2 (group cpu, no GPUs) and gpu-1, gpu-2 (group gpu, two "simulated"
// GPUs of 16384 MiB each), none with labels. Where jobs run is the scheduler's business: these specs
// check only what the API accepts, stores and returns.
const SHORT = { task_type: 'sleep', params: { seconds: 0.1 }, cpu: 0, mem_mb: 16 };
const suffix = randomUUID().slice(0, 8);

describe('job requests against the real stack', () => {
  it('stores a job with its worker group, selector, GPU request and priority class, and returns them on every read', async () => {
    const accepted = await submit({ ...SHORT, worker_group: 'cpu', node_selector: {}, priority_class: 'low' });
    const asked = { worker_group: 'cpu', node_selector: {}, gpu_model: null, gpu_memory_mb: null, priority: -10, priority_class: 'low', may_preempt: false };
    expect(accepted).toMatchObject({ ...asked, state: 'QUEUED' });
    expect(accepted.queue_position === null || Number.isInteger(accepted.queue_position)).toBe(true);

    const read = await api('GET', `/v1/jobs/${accepted.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject(asked);
    expect(read.body).toHaveProperty('queue_position');
    expect(read.body).toHaveProperty('pending_reason');

    const stored = await withDb(async (db) => (await db.query('SELECT worker_group, node_selector, priority, priority_class, may_preempt FROM jobs WHERE id = $1', [accepted.id])).rows[0]);
    expect(stored).toEqual({ worker_group: 'cpu', node_selector: {}, priority: -10, priority_class: 'low', may_preempt: false });

    const gpuJob = await submit({ ...SHORT, gpu: 1, worker_group: 'gpu', gpu_model: 'simulated', gpu_memory_mb: 16384, priority_class: 'urgent' });
    expect(gpuJob).toMatchObject({ worker_group: 'gpu', gpu_model: 'simulated', gpu_memory_mb: 16384, priority: 100, priority_class: 'urgent', may_preempt: true });
    const listed = await api('GET', '/v1/jobs?limit=100');
    expect(listed.body.items.find((job: { id: string }) => job.id === gpuJob.id)).toMatchObject({ gpu_model: 'simulated', priority_class: 'urgent' });
  });

  it('answers a submission with the job as it was stored: what a later read returns, timestamps and params included', async () => {
    // Keys out of order: jsonb stores them sorted, and the answer shows the stored params.
    const accepted = await submit({ task_type: 'echo', params: { text: 'stored', pad: 'x' }, cpu: 0, mem_mb: 16, node_selector: {} });
    const read = await api('GET', `/v1/jobs/${accepted.id}`);
    // What the job's run cannot change.
    const fixed = ['id', 'tenant_id', 'submitted_by', 'task_type', 'params', 'params_artifact', 'cpu', 'mem_mb', 'gpu', 'priority', 'priority_class',
      'may_preempt', 'worker_group', 'node_selector', 'gpu_model', 'gpu_memory_mb', 'max_attempts', 'timeout_seconds', 'created_at'];
    const unchanging = (job: Record<string, unknown>) => Object.fromEntries(fixed.map((key) => [key, job[key]]));
    expect(unchanging(accepted)).toEqual(unchanging(read.body));
    expect(accepted.created_at).toEqual(expect.any(String));
    expect(Object.keys(accepted.params)).toEqual(Object.keys(read.body.params));
    expect(accepted).toMatchObject({ state: 'QUEUED', attempts: 0, assignments: [], result: null });
  });

  it('answers 422 unschedulable for a GPU model no node has and for a worker group that is not configured', async () => {
    const model = await api('POST', '/v1/jobs', { ...SHORT, gpu: 1, gpu_model: 'H100' });
    expect(model.status).toBe(422);
    expect(model.body.error).toMatchObject({
      code: 'unschedulable',
      message: 'no node registered has 1 GPU of model H100 (the most any has: 0)',
      details: [{ field: 'gpu_model' }],
    });
    const memory = await api('POST', '/v1/jobs', { ...SHORT, gpu: 2, worker_group: 'gpu', gpu_memory_mb: 32768 });
    expect(memory.status).toBe(422);
    expect(memory.body.error.details).toEqual([{ field: 'gpu_memory_mb', problem: expect.stringContaining('no node in group gpu has 2 GPUs') }]);
    const group = await api('POST', '/v1/jobs', { ...SHORT, worker_group: 'tpu' });
    expect(group.status).toBe(422);
    expect(group.body.error).toMatchObject({ code: 'unschedulable', details: [{ field: 'worker_group', problem: 'no such worker group' }] });
    expect(group.body.error.message).toMatch(/^no worker group "tpu"; the groups are .*\bcpu\b.*\bgpu\b/);
    const labels = await api('POST', '/v1/jobs', { ...SHORT, node_selector: { zone: 'eu-1' } });
    expect(labels.status).toBe(422);
    expect(labels.body.error.details).toEqual([{ field: 'node_selector', problem: 'no node registered has the labels zone=eu-1' }]);
  });

  it("answers 422 for more GPUs than the tenant's max_gpus, and 400 for priority with priority_class", async () => {
    const tenant = `req-${suffix}`;
    expect((await api('POST', '/v1/tenants', { id: tenant, max_gpus: 1 })).status).toBe(201);
    const asTenant = { authorization: `Bearer ${tokenFor({ tenant, sub: 'alice' })}` };
    const quota = await api('POST', '/v1/jobs', { ...SHORT, gpu: 2 }, asTenant);
    expect(quota.status).toBe(422);
    expect(quota.body.error).toMatchObject({ code: 'unschedulable', details: [{ field: 'gpu', problem: "exceeds the tenant's max_gpus 1" }] });

    const both = await api('POST', '/v1/jobs', { ...SHORT, priority: 1, priority_class: 'low' });
    expect(both.status).toBe(400);
    expect(both.body.error).toMatchObject({ code: 'validation_failed', details: [{ field: 'priority_class', problem: 'cannot be combined with priority' }] });
  });

  it('round-trips a tenant weight through create, update and read, audited, and refuses one out of range', async () => {
    const tenant = `weight-${suffix}`;
    const created = await api('POST', '/v1/tenants', { id: tenant, weight: 3 });
    expect(created.status).toBe(201);
    expect(created.body.weight).toBe(3);
    const defaulted = await api('POST', '/v1/tenants', { id: `${tenant}-d` });
    expect(defaulted.body.weight).toBe(1);

    const updated = await api('PATCH', `/v1/tenants/${tenant}`, { weight: 7 });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id: tenant, weight: 7 });
    expect((await api('GET', `/v1/tenants/${tenant}`)).body.weight).toBe(7);
    const audit = await withDb(
      async (db) => (await db.query(`SELECT reason FROM audit_events WHERE action = 'tenant.update' AND resource = $1`, [`tenant/${tenant}`])).rows,
    );
    expect(audit).toEqual([{ reason: 'weight=7' }]);

    for (const weight of [0, 1001, 2.5, null]) {
      const refused = await api('PATCH', `/v1/tenants/${tenant}`, { weight });
      expect(refused.status).toBe(400);
      expect(refused.body.error.code).toBe('validation_failed');
    }
    expect((await api('GET', `/v1/tenants/${tenant}`)).body.weight).toBe(7);
  });
});
