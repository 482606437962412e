import { api, poll, submit, tokenFor, withDb } from './support/api';

// GET /v1/jobs/:id?wait=: the long-poll answers when the job's final state commits (woken by the API's
// LISTEN on the job-finished channel), at the deadline with the job as it is, and never waits on another tenant's job.
describe('waiting for a job (GET /v1/jobs/:id?wait=)', () => {
  jest.setTimeout(60_000);

  it('answers within about a second of the final state, long before the wait ends', async () => {
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 2 }, cpu: 1 });
    const asked = Date.now();
    const response = await api('GET', `/v1/jobs/${accepted.id}?wait=30`);
    const answered = Date.now();
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: accepted.id, state: 'SUCCEEDED' });
    // finished_at is stamped in the transaction that moved the job; the answer follows its commit.
    expect(answered - Date.parse(response.body.finished_at)).toBeLessThan(1_000);
    expect(answered - asked).toBeLessThan(15_000);
  });

  it('listens again after its Postgres connection is cut, and still answers promptly', async () => {
    const listeners = (db: Parameters<Parameters<typeof withDb>[0]>[0]) =>
      db.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN mlis_job_finished'`);
    const before = await withDb(async (db) => {
      const { rows } = await listeners(db);
      for (const { pid } of rows) await db.query('SELECT pg_terminate_backend($1)', [pid]);
      return rows.map((row: { pid: number }) => row.pid);
    });
    expect(before.length).toBeGreaterThan(0);
    await poll('the API listening on a new connection', () =>
      withDb(async (db) => ((await listeners(db)).rows.some((row: { pid: number }) => !before.includes(row.pid)) ? true : undefined)),
    );
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 1 }, cpu: 1 });
    const response = await api('GET', `/v1/jobs/${accepted.id}?wait=30`);
    expect(response.body.state).toBe('SUCCEEDED');
    expect(Date.now() - Date.parse(response.body.finished_at)).toBeLessThan(1_000);
  });

  it('answers at the deadline, 200 with the current state, when the job stays queued', async () => {
    for (const node of ['gpu-1', 'gpu-2']) expect((await api('POST', `/v1/workers/${node}/drain`)).status).toBe(200);
    let id: string | undefined;
    try {
      const accepted = await submit({ task_type: 'gpu_demo', params: { seconds: 1 }, cpu: 1, mem_mb: 512, gpu: 1 });
      id = accepted.id;
      const asked = Date.now();
      const response = await api('GET', `/v1/jobs/${accepted.id}?wait=2`);
      const elapsed = Date.now() - asked;
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ id: accepted.id, state: 'QUEUED' });
      expect(elapsed).toBeGreaterThanOrEqual(2_000);
      expect(elapsed).toBeLessThan(4_000);
    } finally {
      if (id) await api('POST', `/v1/jobs/${id}/cancel`);
      for (const node of ['gpu-1', 'gpu-2']) await api('POST', `/v1/workers/${node}/undrain`);
    }
  });

  it("answers another tenant's job 404 at once", async () => {
    const tenant = `wait-other-${Date.now()}`;
    expect((await api('POST', '/v1/tenants', { id: tenant, name: tenant })).status).toBe(201);
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 5 }, cpu: 1 });
    const asked = Date.now();
    const response = await api('GET', `/v1/jobs/${accepted.id}?wait=30`, undefined, { authorization: `Bearer ${tokenFor({ tenant })}` });
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe('job_not_found');
    expect(JSON.stringify(response.body)).not.toContain('default');
    expect(Date.now() - asked).toBeLessThan(1_000);
    await api('POST', `/v1/jobs/${accepted.id}/cancel`);
  });

  it('refuses a wait outside 0-60 with 400 validation_failed', async () => {
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 0.1 }, cpu: 1 });
    const response = await api('GET', `/v1/jobs/${accepted.id}?wait=61`);
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ code: 'validation_failed', details: [{ field: 'wait', problem: expect.any(String) }] });
  });
});
