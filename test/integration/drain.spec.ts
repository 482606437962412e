import { api, submit, TERMINAL, tokenFor, waitForJob, withDb } from './support/api';

describe('draining a node', () => {
  jest.setTimeout(90_000);

  afterAll(async () => {
    for (const node of ['gpu-1', 'gpu-2']) await api('POST', `/v1/workers/${node}/undrain`);
  });

  it('stops new placements on it while its running work finishes; undrain brings it back; both are audited', async () => {
    const running = await submit({ task_type: 'gpu_demo', params: { seconds: 3 }, cpu: 1, mem_mb: 256, gpu: 1 });
    const placed = await waitForJob(running.id, (j) => j.latest_assignment?.state === 'RUNNING');
    const drainedNode = placed.latest_assignment.node_id as string;

    const drain = await api('POST', `/v1/workers/${drainedNode}/drain`, undefined, { 'x-request-id': `drain-${running.id}` });
    expect(drain.status).toBe(200);
    expect(drain.body).toMatchObject({ node_id: drainedNode, status: 'DRAINING' });

    const later = await Promise.all([1, 2, 3].map(() => submit({ task_type: 'gpu_demo', params: { seconds: 0.2 }, cpu: 1, mem_mb: 256, gpu: 1 })));
    const finished = await Promise.all(later.map((j) => waitForJob(j.id, (x) => TERMINAL.includes(x.state))));
    for (const job of finished) {
      expect(job.state).toBe('SUCCEEDED');
      expect(job.latest_assignment.node_id).not.toBe(drainedNode);
    }
    const done = await waitForJob(running.id, (j) => TERMINAL.includes(j.state));
    expect(done).toMatchObject({ state: 'SUCCEEDED', latest_assignment: { node_id: drainedNode } });

    const undrain = await api('POST', `/v1/workers/${drainedNode}/undrain`);
    expect(undrain.body).toMatchObject({ node_id: drainedNode, status: 'ACTIVE' });
    const rows = await withDb(
      async (db) =>
        (
          await db.query(`SELECT action, result, request_id FROM audit_events WHERE resource = $1 AND action LIKE 'node.%drain' ORDER BY id`, [
            `node/${drainedNode}`,
          ])
        ).rows,
    );
    expect(rows.slice(-2)).toEqual([
      { action: 'node.drain', result: 'allow', request_id: `drain-${running.id}` },
      expect.objectContaining({ action: 'node.undrain', result: 'allow' }),
    ]);
  });

  it('a job that only drained nodes could run waits with all_nodes_draining and runs after an undrain', async () => {
    for (const node of ['gpu-1', 'gpu-2']) expect((await api('POST', `/v1/workers/${node}/drain`)).status).toBe(200);
    const waiting = await submit({ task_type: 'gpu_demo', params: { seconds: 0.2 }, cpu: 1, mem_mb: 256, gpu: 1 });
    // "queued": no scheduling cycle has looked at it yet; wait for the cycle's explanation.
    const pending = await waitForJob(waiting.id, (j) => j.pending_reason !== null && j.pending_reason !== 'queued');
    expect(pending).toMatchObject({ state: 'QUEUED', pending_reason: 'all_nodes_draining' });

    await api('POST', '/v1/workers/gpu-2/undrain');
    const done = await waitForJob(waiting.id, (j) => TERMINAL.includes(j.state));
    expect(done).toMatchObject({ state: 'SUCCEEDED', latest_assignment: { node_id: 'gpu-2' } });
    expect((await api('POST', '/v1/workers/gpu-1/undrain')).body.status).toBe('ACTIVE');
  });

  it('needs admin:workers, and answers 404 for an unknown node', async () => {
    const jobsOnly = tokenFor({ scopes: ['jobs:submit', 'jobs:read', 'jobs:cancel'] });
    const refused = await api('POST', '/v1/workers/gpu-1/drain', undefined, { authorization: `Bearer ${jobsOnly}` });
    expect(refused.status).toBe(403);
    const { body } = await api('GET', '/v1/workers');
    expect(body.items.find((n: any) => n.node_id === 'gpu-1').status).toBe('ACTIVE');

    const unknown = await api('POST', '/v1/workers/no-such-node/drain');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('node_not_found');
  });
});
