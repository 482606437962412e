import request from 'supertest';
import { fakeNode } from '../testing/fakes';
import { createTestApp, type TestApp } from '../testing/test-app';
import { InternalNodesController, WorkersController } from './workers.controller';

const registration = {
  node_id: 'gpu-1',
  group: 'gpu',
  hostname: 'host-a',
  pid: 1234,
  slots: 2,
  cpu_millis: 4000,
  mem_mb: 16384,
  gpus: [
    { index: 1, model: 'simulated', memory_mb: 16384 },
    { index: 0, model: 'simulated', memory_mb: 16384 },
  ],
};

describe(`${WorkersController.name} and ${InternalNodesController.name}`, () => {
  let t: TestApp;

  beforeEach(async () => {
    t = await createTestApp({ MLIS_WORKER_GROUPS: 'cpu,gpu', MLIS_NODE_HEARTBEAT_SECONDS: '2' });
  });

  afterEach(async () => {
    await t.app.close();
  });

  const http = () => request(t.app.getHttpServer());

  it('creates the configured worker groups on start', () => {
    expect(t.ledger.groups).toEqual(['cpu', 'gpu']);
  });

  describe('GET /v1/workers', () => {
    it('lists nodes in the Node shape, cpu in cores', async () => {
      t.nodes.nodes = [
        fakeNode({
          id: 'gpu-1',
          groupName: 'gpu',
          cpuMillis: 4000,
          usedCpuMillis: 1500,
          gpuCount: 1,
          usedGpus: 1,
          gpus: [{ index: 0, model: 'simulated', memory_mb: 16384 }],
        }),
      ];
      const response = await http().get('/v1/workers').expect(200);
      expect(response.body).toEqual({
        items: [
          {
            node_id: 'gpu-1',
            group: 'gpu',
            status: 'ACTIVE',
            hostname: 'host-a',
            pid: 4242,
            incarnation: 1,
            slots: 4,
            used_slots: 0,
            cpu: 4,
            used_cpu: 1.5,
            mem_mb: 8192,
            used_mem_mb: 0,
            gpu_count: 1,
            used_gpus: 1,
            gpus: [{ index: 0, model: 'simulated', memory_mb: 16384 }],
            last_seen_at: '2025-01-01T00:00:00.000Z',
            registered_at: '2025-01-01T00:00:00.000Z',
          },
        ],
      });
    });
  });

  describe('POST /v1/internal/nodes/register', () => {
    it('registers, answers incarnation, task queue and heartbeat period, and wakes waiting jobs', async () => {
      const response = await http().post('/v1/internal/nodes/register').send(registration).expect(200);
      expect(response.body).toEqual({
        node_id: 'gpu-1',
        group: 'gpu',
        incarnation: 1,
        task_queue: 'mlis-node.gpu.gpu-1',
        heartbeat_seconds: 2,
      });
      expect(t.ledger.registered).toEqual([
        {
          nodeId: 'gpu-1',
          group: 'gpu',
          hostname: 'host-a',
          pid: 1234,
          slots: 2,
          cpuMillis: 4000,
          memMb: 16384,
          gpus: registration.gpus,
        },
      ]);
      expect(t.waker.calls).toBe(1);
      const again = await http().post('/v1/internal/nodes/register').send(registration).expect(200);
      expect(again.body.incarnation).toBe(2);
    });

    it('still registers when waking waiting jobs fails', async () => {
      t.waker.failWith = new Error('temporal down');
      await http().post('/v1/internal/nodes/register').send(registration).expect(200);
      expect(t.waker.calls).toBe(1);
    });

    it('answers 404 unknown_worker_group for a group that is not configured', async () => {
      const response = await http()
        .post('/v1/internal/nodes/register')
        .send({ ...registration, group: 'tpu' })
        .expect(404);
      expect(response.body.error.code).toBe('unknown_worker_group');
      expect(t.waker.calls).toBe(0);
    });

    it.each([
      ['an upper-case node id', { node_id: 'GPU-1' }, 'node_id'],
      ['a node id starting with a dash', { node_id: '-gpu' }, 'node_id'],
      ['a 64-character node id', { node_id: 'a'.repeat(64) }, 'node_id'],
      ['a group with a dot', { group: 'gpu.a' }, 'group'],
      ['zero slots', { slots: 0 }, 'slots'],
      ['a fractional cpu_millis', { cpu_millis: 1.5 }, 'cpu_millis'],
      ['a negative mem_mb', { mem_mb: -1 }, 'mem_mb'],
      ['a zero pid', { pid: 0 }, 'pid'],
      ['an empty hostname', { hostname: '' }, 'hostname'],
      ['a missing gpus list', { gpus: undefined }, 'gpus'],
      ['a negative GPU index', { gpus: [{ index: -1, model: 'm', memory_mb: 1 }] }, 'gpus.0.index'],
      ['a GPU without a model', { gpus: [{ index: 0, memory_mb: 1 }] }, 'gpus.0.model'],
      [
        'duplicate GPU indices',
        { gpus: [{ index: 0, model: 'm', memory_mb: 1 }, { index: 0, model: 'm', memory_mb: 1 }] },
        'gpus',
      ],
      ['GPU indices with a gap', { gpus: [{ index: 0, model: 'm', memory_mb: 1 }, { index: 2, model: 'm', memory_mb: 1 }] }, 'gpus'],
      ['GPU indices not starting at 0', { gpus: [{ index: 1, model: 'm', memory_mb: 1 }] }, 'gpus'],
      ['an unknown field', { zone: 'eu' }, 'zone'],
    ])('rejects %s with 400 validation_failed', async (_name, change, field) => {
      const response = await http()
        .post('/v1/internal/nodes/register')
        .send({ ...registration, ...change })
        .expect(400);
      expect(response.body.error.code).toBe('validation_failed');
      expect(response.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
      expect(t.ledger.registered).toHaveLength(0);
    });

    it('accepts a node without GPUs', async () => {
      await http()
        .post('/v1/internal/nodes/register')
        .send({ ...registration, node_id: 'cpu-1', group: 'cpu', gpus: [] })
        .expect(200);
    });
  });

  describe('POST /v1/internal/nodes/:id/heartbeat', () => {
    it('answers 200 ok for the live incarnation', async () => {
      const response = await http().post('/v1/internal/nodes/cpu-1/heartbeat').send({ incarnation: 1 }).expect(200);
      expect(response.body).toEqual({ status: 'ok' });
    });

    it('answers 409 when a newer incarnation exists: the process must exit', async () => {
      t.ledger.heartbeatAnswer = 'superseded';
      const response = await http().post('/v1/internal/nodes/cpu-1/heartbeat').send({ incarnation: 1 }).expect(409);
      expect(response.body.error.code).toBe('node_superseded');
    });

    it('answers 404 node_not_found when the node must register again', async () => {
      t.ledger.heartbeatAnswer = 'unknown';
      const response = await http().post('/v1/internal/nodes/cpu-1/heartbeat').send({ incarnation: 1 }).expect(404);
      expect(response.body.error.code).toBe('node_not_found');
    });

    it('validates the node id and the incarnation', async () => {
      expect((await http().post('/v1/internal/nodes/CPU_1/heartbeat').send({ incarnation: 1 }).expect(400)).body.error.details).toEqual([
        expect.objectContaining({ field: 'id' }),
      ]);
      await http().post('/v1/internal/nodes/cpu-1/heartbeat').send({ incarnation: 0 }).expect(400);
      await http().post('/v1/internal/nodes/cpu-1/heartbeat').send({}).expect(400);
    });
  });
});
