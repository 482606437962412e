import { randomUUID } from 'node:crypto';
import { api, poll, submit, TERMINAL, tokenFor } from './support/api';

// The test stack's GPU nodes: gpu-1 and gpu-2, two GPUs each, so both jobs below would fit at once.
describe('per-group limits on the real stack', () => {
  jest.setTimeout(120_000);
  const tenant = `group-${randomUUID().slice(0, 8)}`;
  const asTenant = { authorization: `Bearer ${tokenFor({ tenant, sub: 'alice' })}` };
  const started: string[] = [];

  /** The tenant's job once `done` holds (its jobs are invisible to other tenants' tokens). */
  const waitForJob = (id: string, done: (job: any) => boolean): Promise<any> =>
    poll(`job ${id}`, async () => {
      const { status, body } = await api('GET', `/v1/jobs/${id}`, undefined, asTenant);
      if (status !== 200) throw new Error(`GET job ${id}: ${status}`);
      return done(body) ? body : undefined;
    });

  afterAll(async () => {
    for (const id of started) await api('POST', `/v1/jobs/${id}/cancel`, undefined, asTenant);
    for (const id of started) await waitForJob(id, (j) => TERMINAL.includes(j.state));
  });

  it('runs one GPU job at a time for a tenant limited to one running job in group gpu; the other waits quota_exceeded', async () => {
    const created = await api('POST', '/v1/tenants', { id: tenant, group_limits: { gpu: { max_running_jobs: 1 } } });
    expect(created.status).toBe(201);
    expect(created.body.group_limits).toEqual({ gpu: { max_running_jobs: 1, max_gpus: null } });

    const job = { task_type: 'sleep', cpu: 1, mem_mb: 256, gpu: 1 };
    const first = (await submit({ ...job, params: { seconds: 3 } }, asTenant)).id as string;
    started.push(first);
    await waitForJob(first, (j) => j.state === 'RUNNING');
    const second = (await submit({ ...job, params: { seconds: 0.2 } }, asTenant)).id as string;
    started.push(second);

    const waiting = await waitForJob(second, (j) => j.pending_reason === 'quota_exceeded');
    expect(waiting).toMatchObject({ state: 'QUEUED', pending_detail: `tenant ${tenant} runs 1 of max_running_jobs 1 in group gpu` });
    // It starts once the first ends: the limit holds jobs back, it never fails them.
    const done = await waitForJob(second, (j) => TERMINAL.includes(j.state));
    expect(done).toMatchObject({ state: 'SUCCEEDED', attempts: 1 });
    const firstDone = await waitForJob(first, (j) => TERMINAL.includes(j.state));
    expect(firstDone.state).toBe('SUCCEEDED');
    // Its attempt was placed after the first attempt gave its place back (both stamped with clock_timestamp()).
    expect(Date.parse(done.latest_assignment.created_at)).toBeGreaterThanOrEqual(Date.parse(firstDone.latest_assignment.ended_at));
  });
});
