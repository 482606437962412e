import { api, submit, TERMINAL, waitForJob, withDb } from './support/api';

describe('cancellation', () => {
  jest.setTimeout(60_000);

  it('cancelling a running job ends it CANCELLED and frees its capacity', async () => {
    const accepted = await submit({ task_type: 'gpu_demo', params: { seconds: 60 }, cpu: 2, mem_mb: 2048, gpu: 1 });
    const running = await waitForJob(accepted.id, (j) => j.latest_assignment?.state === 'RUNNING');
    const nodeId = running.latest_assignment.node_id;

    const response = await api('POST', `/v1/jobs/${accepted.id}/cancel`);
    expect(response.status).toBe(202);
    expect(response.body.id).toBe(accepted.id);

    const job = await waitForJob(accepted.id, (j) => TERMINAL.includes(j.state));
    expect(job.state).toBe('CANCELLED');
    expect(job.assignments).toHaveLength(1);
    expect(job.latest_assignment.state).toBe('CANCELLED');
    expect(job.finished_at).not.toBeNull();

    const ledger = await withDb(async (db) => ({
      node: (await db.query(`SELECT used_slots, used_cpu_millis, used_mem_mb, used_gpus FROM nodes WHERE id = $1`, [nodeId])).rows[0],
      reservations: (await db.query(`SELECT count(*)::int AS n FROM gpu_reservations WHERE node_id = $1`, [nodeId])).rows[0].n,
    }));
    expect(ledger).toEqual({ node: { used_slots: 0, used_cpu_millis: 0, used_mem_mb: 0, used_gpus: 0 }, reservations: 0 });
  });

  it('cancelling a finished job is a 409 and changes nothing', async () => {
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 0.1 } });
    await waitForJob(accepted.id, (j) => j.state === 'SUCCEEDED');
    const response = await api('POST', `/v1/jobs/${accepted.id}/cancel`);
    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe('job_already_finished');
    const { body } = await api('GET', `/v1/jobs/${accepted.id}`);
    expect(body.state).toBe('SUCCEEDED');
  });
});
