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
      // Left on SIGTERM (a rollout): not an incident.
      fakeNode({ id: 'cpu-3', status: 'DEAD', lastSeenAt: new Date(now - 60_000), leftAt: new Date(now - 60_000) }),
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
      { name: 'cpu', active_nodes: 1, other_nodes: 2, slots: 4, used_slots: 1, gpus: 0, used_gpus: 0 },
      { name: 'gpu', active_nodes: 1, other_nodes: 0, slots: 2, used_slots: 2, gpus: 2, used_gpus: 2 },
    ]);
  });

  it('GET /ui/api/queue groups waiting jobs by requested group in cycle order and sets each tenant\'s share against its weight', async () => {
    const at = new Date('2026-01-01T00:00:00.000Z');
    const job = (position: number, tenantId: string, workerGroup: string | null) => ({
      position,
      id: randomUUID(),
      tenantId,
      workerGroup,
      priority: 0,
      priorityClass: null,
      gpu: workerGroup === 'gpu' ? 1 : 0,
      pendingReason: 'insufficient_capacity',
      pendingDetail: null,
      createdAt: at,
    });
    t.jobs.cycleAt = '2026-01-01 00:00:05.5+00';
    t.jobs.queued = [job(1, 'a', 'gpu'), job(2, 'b', null), job(3, 'b', 'gpu')];
    t.jobs.shares = [
      { tenantId: 'a', weight: 3, runningJobs: 2, cpuMillis: 2000, memMb: 512, gpus: 2, waitingJobs: 1, maxRunningJobs: null, maxGpus: 2 },
      { tenantId: 'b', weight: 1, runningJobs: 1, cpuMillis: 4000, memMb: 256, gpus: 0, waitingJobs: 2, maxRunningJobs: 5, maxGpus: null },
    ];
    t.nodes.nodes = [fakeNode({ id: 'cpu-1', cpuMillis: 8000, memMb: 8192 }), fakeNode({ id: 'gpu-1', groupName: 'gpu', cpuMillis: 8000, memMb: 8192, gpuCount: 4 })];

    const { body } = await request(t.app.getHttpServer()).get('/ui/api/queue').expect(200);

    expect(body.cycle_at).toBe('2026-01-01T00:00:05.500Z');
    const groups = body.groups as { group: string | null; jobs: { position: number; tenant_id: string }[] }[];
    expect(groups.map((g) => [g.group, g.jobs.map((j) => [j.position, j.tenant_id])])).toEqual([
      ['gpu', [[1, 'a'], [3, 'b']]],
      [null, [[2, 'b']]],
    ]);
    expect(body.tenants).toEqual([
      { tenant_id: 'a', weight: 3, fair_share: 0.75, dominant_share: 0.5, running_jobs: 2, gpus: 2, waiting_jobs: 1, max_running_jobs: null, max_gpus: 2 },
      { tenant_id: 'b', weight: 1, fair_share: 0.25, dominant_share: 0.25, running_jobs: 1, gpus: 0, waiting_jobs: 2, max_running_jobs: 5, max_gpus: null },
    ]);
  });
});
