import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { fakeNode } from '../testing/fakes';
import { createTestApp, type TestApp } from '../testing/test-app';
import { UiController } from './ui.controller';

describe(UiController.name, () => {
  let t: TestApp;

  beforeEach(async () => {
    t = await createTestApp();
  });

  afterEach(async () => {
    await t.app.close();
  });

  it('GET /ui/api/overview counts jobs and nodes, sums live capacity and lists 10 recent jobs', async () => {
    const states = ['QUEUED', 'RUNNING', 'RUNNING', 'SUCCEEDED', 'FAILED'] as const;
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = randomUUID();
      ids.push(id);
      t.jobs.seed({ id, state: states[i % states.length] }, i === 11 ? [{ state: 'RUNNING' }] : []);
    }
    t.jobs.seed({ id: randomUUID(), tenantId: 'other', state: 'CANCELLED' });
    t.nodes.nodes = [
      fakeNode({ id: 'cpu-1', slots: 4, usedSlots: 1, cpuMillis: 4000, usedCpuMillis: 500, memMb: 8192, usedMemMb: 256 }),
      fakeNode({ id: 'gpu-1', groupName: 'gpu', slots: 2, cpuMillis: 4000, memMb: 16384, gpuCount: 2, usedGpus: 1 }),
      fakeNode({ id: 'cpu-2', status: 'DEAD', slots: 100, cpuMillis: 100_000 }),
    ];

    const response = await request(t.app.getHttpServer()).get('/ui/api/overview').expect(200);

    expect(response.body.jobs_by_state).toEqual({ QUEUED: 3, RUNNING: 5, SUCCEEDED: 2, FAILED: 2, CANCELLED: 0 });
    expect(response.body.nodes_by_status).toEqual({ ACTIVE: 2, DRAINING: 0, DEAD: 1 });
    expect(response.body.capacity).toEqual({
      slots: 6,
      used_slots: 1,
      cpu: 8,
      used_cpu: 0.5,
      mem_mb: 24576,
      used_mem_mb: 256,
      gpus: 2,
      used_gpus: 1,
    });
    expect(response.body.recent_jobs.map((job: { id: string }) => job.id)).toEqual(ids.slice(2).reverse());
    expect(response.body.recent_jobs[0]).not.toHaveProperty('assignments');
    expect(response.body.recent_jobs[0].latest_assignment).toMatchObject({ attempt: 1, state: 'RUNNING' });
  });

  it('GET /ui/api/overview flags long waits, exhausted jobs, dead and silent nodes and full groups, and sums capacity per group', async () => {
    const now = Date.now();
    const waiting = randomUUID();
    const exhausted = randomUUID();
    t.jobs.seed({ id: waiting, state: 'QUEUED', pendingReason: 'insufficient_capacity', pendingDetail: 'gpu', createdAt: new Date(now - 600_000) });
    t.jobs.seed({ id: randomUUID(), state: 'QUEUED', createdAt: new Date(now - 10_000) });
    t.jobs.seed({ id: exhausted, state: 'FAILED', error: { code: 'MaxAttemptsExhausted', message: 'lost' }, finishedAt: new Date(now - 60_000) });
    t.jobs.seed({ id: randomUUID(), state: 'FAILED', error: { code: 'RunnerError', message: 'x' }, finishedAt: new Date(now - 2 * 3600_000) });
    t.jobs.seed({ id: randomUUID(), tenantId: 'other', state: 'QUEUED', createdAt: new Date(now - 900_000) });
    t.nodes.nodes = [
      fakeNode({ id: 'cpu-1', slots: 4, usedSlots: 1, lastSeenAt: new Date(now) }),
      fakeNode({ id: 'cpu-2', status: 'DEAD', lastSeenAt: new Date(now - 60_000) }),
      fakeNode({ id: 'gpu-1', groupName: 'gpu', slots: 2, usedSlots: 2, gpuCount: 2, usedGpus: 2, lastSeenAt: new Date(now - 30_000) }),
    ];

    const { body } = await request(t.app.getHttpServer()).get('/ui/api/overview').expect(200);

    expect(body.oldest_queued_at).toBe(new Date(now - 600_000).toISOString());
    expect(body.failed_last_hour).toBe(1);
    expect(body.attention.map((item: { kind: string; subject: string }) => [item.kind, item.subject])).toEqual([
      ['node_dead', 'cpu-2'],
      ['group_blocked', 'gpu'],
      ['waiting_long', waiting],
      ['attempts_exhausted', exhausted],
      ['node_silent', 'gpu-1'],
    ]);
    expect(body.attention[2].message).toBe('insufficient_capacity: gpu');
    expect(body.groups).toEqual([
      { name: 'cpu', active_nodes: 1, other_nodes: 1, slots: 4, used_slots: 1, gpus: 0, used_gpus: 0 },
      { name: 'gpu', active_nodes: 1, other_nodes: 0, slots: 2, used_slots: 2, gpus: 2, used_gpus: 2 },
    ]);
  });
});
