import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verify, type JwtPayload } from 'jsonwebtoken';
import request from 'supertest';
import { mintUserToken, mintWorkerToken, SCOPES } from '@mlis/auth';
import { fakeNode } from '../testing/fakes';
import { createTestApp, type TestApp } from '../testing/test-app';
import { InternalNodesController, WorkerGroupsController, WorkersController } from './workers.controller';

const DEV_SECRET = 'dev-signing-key-for-the-workers-spec-0123456789';
const BOOTSTRAP_SECRET = 'bootstrap-secret-for-the-workers-spec-0123456789';

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

describe(`${WorkersController.name}, ${WorkerGroupsController.name} and ${InternalNodesController.name}`, () => {
  let t: TestApp;
  let dir: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mlis-workers-spec-'));
    for (const [name, secret] of [['dev-signing-key', DEV_SECRET], ['bootstrap', BOOTSTRAP_SECRET]]) {
      writeFileSync(join(dir, name), `${secret}\n`, { mode: 0o600 });
    }
    t = await createTestApp({
      MLIS_WORKER_GROUPS: 'cpu,gpu',
      MLIS_NODE_HEARTBEAT_SECONDS: '2',
      MLIS_AUTH_DEV_SECRET_FILE: join(dir, 'dev-signing-key'),
      MLIS_WORKER_BOOTSTRAP_SECRET_FILE: join(dir, 'bootstrap'),
    }, { auth: 'real' });
  });

  afterEach(async () => {
    await t.app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const http = () => request(t.app.getHttpServer());
  const userToken = () => mintUserToken(DEV_SECRET, t.config.auth, { sub: 'alice', tenant: 'default', scope: SCOPES.join(' ') });
  const workerToken = (nodeId: string, incarnation = 1) =>
    mintWorkerToken(DEV_SECRET, t.config.auth, { sub: `node:${nodeId}`, node_id: nodeId, incarnation });
  const register = (body: object = registration, authorization = `Bearer ${BOOTSTRAP_SECRET}`) =>
    http().post('/v1/internal/nodes/register').set('Authorization', authorization).send(body);
  const heartbeat = (nodeId: string, body: object, token = workerToken(nodeId)) =>
    http().post(`/v1/internal/nodes/${nodeId}/heartbeat`).set('Authorization', `Bearer ${token}`).send(body);

  it('creates the configured worker groups on start', () => {
    expect(t.nodes.workerGroups).toEqual(['cpu', 'gpu']);
  });

  describe('GET /v1/workers', () => {
    it('lists nodes in the Node shape, cpu in cores, with their GPUs (which job each serves) and labels', async () => {
      t.nodes.reservations = [
        { nodeId: 'gpu-1', gpuIndex: 0, jobId: '5f0c8e0a-1b2c-4d3e-8f4a-5b6c7d8e9f00', running: true },
        { nodeId: 'gpu-1', gpuIndex: 1, jobId: '6a1d9f1b-2c3d-4e4f-9a5b-6c7d8e9f0a11', running: false },
        { nodeId: 'gpu-9', gpuIndex: 2, jobId: '7b2e0a2c-3d4e-4f5a-8b6c-7d8e9f0a1b22', running: true },
      ];
      t.nodes.nodes = [
        fakeNode({
          id: 'gpu-1',
          groupName: 'gpu',
          cpuMillis: 4000,
          usedCpuMillis: 1500,
          gpuCount: 3,
          usedGpus: 2,
          gpus: [0, 1, 2].map((index) => ({ index, model: 'NVIDIA H100 80GB HBM3', memory_mb: 81559 })),
          labels: { zone: 'eu-1', 'example.com/rack': 'r7' },
        }),
      ];
      const response = await http().get('/v1/workers').set('Authorization', `Bearer ${userToken()}`).expect(200);
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
            gpu_count: 3,
            used_gpus: 2,
            gpus: [
              { index: 0, model: 'NVIDIA H100 80GB HBM3', memory_mb: 81559, use: 'used', job_id: '5f0c8e0a-1b2c-4d3e-8f4a-5b6c7d8e9f00' },
              { index: 1, model: 'NVIDIA H100 80GB HBM3', memory_mb: 81559, use: 'held', job_id: '6a1d9f1b-2c3d-4e4f-9a5b-6c7d8e9f0a11' },
              { index: 2, model: 'NVIDIA H100 80GB HBM3', memory_mb: 81559, use: 'free', job_id: null },
            ],
            labels: { zone: 'eu-1', 'example.com/rack': 'r7' },
            last_seen_at: '2025-01-01T00:00:00.000Z',
            registered_at: '2025-01-01T00:00:00.000Z',
            left_at: null,
          },
        ],
      });
    });
  });

  describe('GET /v1/worker-groups', () => {
    const summary = {
      name: 'gpu',
      description: 'H100 nodes',
      active: 2,
      draining: 1,
      dead: 3,
      live: 1,
      slots: 2,
      usedSlots: 1,
      cpuMillis: 8000,
      usedCpuMillis: 2500,
      memMb: 16384,
      usedMemMb: 4096,
      gpuCount: 8,
      usedGpus: 3,
      gpuModels: ['NVIDIA A100-SXM4-40GB', 'NVIDIA H100 80GB HBM3'],
    };

    it('lists each group with node counts by status and live capacity, cpu in cores', async () => {
      t.nodes.groups = [summary, { ...summary, name: 'cpu', description: '', active: 0, draining: 0, dead: 0, live: 0, slots: 0, usedSlots: 0, cpuMillis: 0, usedCpuMillis: 0, memMb: 0, usedMemMb: 0, gpuCount: 0, usedGpus: 0, gpuModels: [] }];
      const response = await http().get('/v1/worker-groups').set('Authorization', `Bearer ${userToken()}`).expect(200);
      expect(response.body.items).toEqual([
        {
          name: 'gpu',
          description: 'H100 nodes',
          nodes: { active: 2, draining: 1, dead: 3 },
          live_nodes: 1,
          slots: 2,
          used_slots: 1,
          cpu: 8,
          used_cpu: 2.5,
          mem_mb: 16384,
          used_mem_mb: 4096,
          gpu_count: 8,
          used_gpus: 3,
          gpu_models: ['NVIDIA A100-SXM4-40GB', 'NVIDIA H100 80GB HBM3'],
        },
        expect.objectContaining({ name: 'cpu', nodes: { active: 0, draining: 0, dead: 0 }, live_nodes: 0, cpu: 0, gpu_models: [] }),
      ]);
      // Live means what the scheduler places on: ACTIVE and heard from within the dead-after window.
      expect(t.nodes.groupSummaryCalls).toEqual([t.config.scheduling.nodeDeadAfterSeconds]);
    });

    it('needs a token with admin:workers', async () => {
      await http().get('/v1/worker-groups').expect(401);
      const jobsOnly = mintUserToken(DEV_SECRET, t.config.auth, { sub: 'bob', tenant: 'default', scope: 'jobs:read jobs:submit' });
      const refused = await http().get('/v1/worker-groups').set('Authorization', `Bearer ${jobsOnly}`).expect(403);
      expect(refused.body.error.code).toBe('forbidden');
      expect(t.nodes.groupSummaryCalls).toHaveLength(0);
    });
  });

  describe('POST /v1/internal/nodes/register', () => {
    it('registers, answers incarnation, task queue, heartbeat period and worker token, and wakes waiting jobs', async () => {
      const response = await register().expect(200);
      expect(response.body).toEqual({
        node_id: 'gpu-1',
        group: 'gpu',
        incarnation: 1,
        task_queue: 'mlis-node.gpu.gpu-1',
        heartbeat_seconds: 2,
        worker_token: expect.any(String),
      });
      const token = verify(response.body.worker_token, DEV_SECRET, {
        algorithms: ['HS256'],
        issuer: t.config.auth.issuer,
        audience: t.config.auth.workerAudience,
        complete: true,
      });
      expect(token.header.typ).toBe('mlis-worker+jwt');
      expect(token.payload).toMatchObject({ sub: 'node:gpu-1', node_id: 'gpu-1', incarnation: 1 });
      const payload = token.payload as JwtPayload;
      expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(t.config.auth.workerTokenTtlSeconds);
      expect(t.audit.events.map((e) => [e.action, e.result, e.resource, e.actorSubject])).toEqual([
        ['node.register', 'allow', 'node/gpu-1', 'node:gpu-1'],
        ['token.mint', 'allow', 'node/gpu-1', 'node:gpu-1'],
      ]);
      expect(t.nodes.registered).toEqual([
        {
          nodeId: 'gpu-1',
          group: 'gpu',
          hostname: 'host-a',
          pid: 1234,
          slots: 2,
          cpuMillis: 4000,
          memMb: 16384,
          gpus: registration.gpus,
          labels: {},
        },
      ]);
      // Capacity appeared: a cycle that first checks whether any job waits for it.
      expect(t.scheduler.reasons).toEqual(['capacity']);
      const again = await register().expect(200);
      expect(again.body.incarnation).toBe(2);
      expect((verify(again.body.worker_token, DEV_SECRET) as JwtPayload).incarnation).toBe(2);
    });

    it('mints with the key it verifies with, though the key file changed after start-up', async () => {
      // A rotated Secret reaches the file before the first registration; the verifier keeps the key it started with.
      writeFileSync(join(dir, 'dev-signing-key'), `${'r'.repeat(48)}\n`, { mode: 0o600 });
      const registered = await register().expect(200);
      await heartbeat('gpu-1', { incarnation: 1 }, registered.body.worker_token).expect(200);
    });

    it('still registers when waking waiting jobs fails', async () => {
      t.scheduler.failWith = new Error('temporal down');
      await register().expect(200);
      expect(t.scheduler.calls).toBe(1);
    });

    it('answers 404 unknown_worker_group for a group that is not configured', async () => {
      const response = await register({ ...registration, group: 'tpu' }).expect(404);
      expect(response.body.error.code).toBe('unknown_worker_group');
      expect(t.scheduler.calls).toBe(0);
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
      const response = await register({ ...registration, ...change }).expect(400);
      expect(response.body.error.code).toBe('validation_failed');
      expect(response.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
      expect(t.nodes.registered).toHaveLength(0);
    });

    it('stores the labels a node registers with', async () => {
      // Keys that name Object methods are labels like any other.
      const labels = { zone: 'eu-1', 'example.com/rack': 'r7', 'gpu.vendor': 'NVIDIA', spot: '', toString: 'x', valueOf: 'y' };
      await register({ ...registration, labels }).expect(200);
      expect(t.nodes.registered[0].labels).toEqual(labels);
      const many = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, `v${i}`]));
      await register({ ...registration, labels: many }).expect(200);
      expect(Object.keys(t.nodes.registered[1].labels)).toHaveLength(32);
    });

    it.each([
      ['an array', ['zone=eu-1']],
      ['a string', 'zone=eu-1'],
      ['a key starting with a dot', { '.zone': 'eu' }],
      ['an empty key', { '': 'eu' }],
      ['a key with a space', { 'my zone': 'eu' }],
      ['a 64-character key', { ['k'.repeat(64)]: 'v' }],
      ['a value with a slash', { zone: 'eu/1' }],
      ['a 64-character value', { zone: 'v'.repeat(64) }],
      ['a number value', { slots: 4 }],
      ['a null value', { zone: null }],
      ['33 labels', Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v']))],
    ])('rejects labels that are %s with 400 validation_failed', async (_name, labels) => {
      const response = await register({ ...registration, labels }).expect(400);
      expect(response.body.error.code).toBe('validation_failed');
      expect(response.body.error.details).toEqual([expect.objectContaining({ field: 'labels', problem: expect.stringMatching(/label/) })]);
      expect(t.nodes.registered).toHaveLength(0);
    });

    it('accepts a node without GPUs', async () => {
      await register({ ...registration, node_id: 'cpu-1', group: 'cpu', gpus: [] }).expect(200);
    });

    it.each([
      ['no credential', undefined, 'missing_bootstrap_credential'],
      ['a wrong secret', `Bearer ${BOOTSTRAP_SECRET}x`, 'invalid_bootstrap_credential'],
      ['the secret without the Bearer scheme', BOOTSTRAP_SECRET, 'missing_bootstrap_credential'],
      ['a user token', 'USER', 'invalid_bootstrap_credential'],
      ['a worker token', 'WORKER', 'invalid_bootstrap_credential'],
    ])('refuses %s with 401 invalid_bootstrap_credential, audited, before validating the body', async (_name, authorization, reason) => {
      const header = authorization === 'USER' ? `Bearer ${userToken()}` : authorization === 'WORKER' ? `Bearer ${workerToken('gpu-1')}` : authorization;
      const call = http().post('/v1/internal/nodes/register');
      if (header !== undefined) call.set('Authorization', header);
      // An invalid body too: a stranger must not learn the validation rules.
      const response = await call.send({ ...registration, slots: 0 }).expect(401);
      expect(response.body.error.code).toBe('invalid_bootstrap_credential');
      expect(JSON.stringify(response.body)).not.toContain(BOOTSTRAP_SECRET);
      expect(t.nodes.registered).toHaveLength(0);
      expect(t.audit.events).toEqual([
        expect.objectContaining({ action: 'node.register', result: 'deny', reason, resource: 'node/gpu-1', requestId: response.headers['x-request-id'] }),
      ]);
    });

    it('answers 503 when the bootstrap secret file is missing or readable by others, and registers nobody', async () => {
      chmodSync(join(dir, 'bootstrap'), 0o644);
      expect((await register().expect(503)).body.error.code).toBe('dependency_unavailable');
      rmSync(join(dir, 'bootstrap'));
      await register().expect(503);
      expect(t.nodes.registered).toHaveLength(0);
    });
  });

  describe('POST /v1/internal/nodes/:id/token', () => {
    const renew = (nodeId: string, body: object, authorization = `Bearer ${BOOTSTRAP_SECRET}`) =>
      http().post(`/v1/internal/nodes/${nodeId}/token`).set('Authorization', authorization).send(body);

    it('mints a fresh worker token for the same incarnation, audited, and the new token heartbeats', async () => {
      const response = await renew('cpu-1', { incarnation: 3 }).expect(200);
      expect(response.body).toEqual({ node_id: 'cpu-1', incarnation: 3, worker_token: expect.any(String) });
      const payload = verify(response.body.worker_token, DEV_SECRET, { audience: t.config.auth.workerAudience }) as JwtPayload;
      expect(payload).toMatchObject({ sub: 'node:cpu-1', node_id: 'cpu-1', incarnation: 3 });
      expect(t.nodes.registered).toHaveLength(0);
      expect(t.audit.events.map((e) => [e.action, e.result, e.resource, e.reason])).toEqual([['token.mint', 'allow', 'node/cpu-1', 'renewal']]);
      await heartbeat('cpu-1', { incarnation: 3 }, response.body.worker_token).expect(200);
    });

    it('needs the bootstrap secret: a worker token or a wrong secret get 401, audited as token.renew', async () => {
      expect((await renew('cpu-1', { incarnation: 1 }, `Bearer ${workerToken('cpu-1')}`).expect(401)).body.error.code).toBe('invalid_bootstrap_credential');
      await renew('cpu-1', { incarnation: 1 }, 'Bearer wrong').expect(401);
      expect(t.audit.events.map((e) => [e.action, e.result, e.resource])).toEqual([
        ['token.renew', 'deny', 'node/cpu-1'],
        ['token.renew', 'deny', 'node/cpu-1'],
      ]);
    });

    it('answers 409 for a superseded incarnation and 404 for an unknown or DEAD node, minting nothing', async () => {
      t.nodes.heartbeatAnswer = 'superseded';
      expect((await renew('cpu-1', { incarnation: 1 }).expect(409)).body.error.code).toBe('node_superseded');
      t.nodes.heartbeatAnswer = 'unknown';
      expect((await renew('cpu-1', { incarnation: 1 }).expect(404)).body.error.code).toBe('node_not_found');
      expect(t.audit.events).toHaveLength(0);
    });

    it('validates the node id and the incarnation', async () => {
      await renew('CPU_1', { incarnation: 1 }).expect(400);
      await renew('cpu-1', { incarnation: 0 }).expect(400);
      await renew('cpu-1', {}).expect(400);
    });
  });

  describe('POST /v1/internal/nodes/:id/leave', () => {
    const leave = (nodeId: string, body: object, token = workerToken(nodeId)) =>
      http().post(`/v1/internal/nodes/${nodeId}/leave`).set('Authorization', `Bearer ${token}`).send(body);

    it('makes the ACTIVE incarnation DEAD at once and a DRAINING one stay DRAINING, each audited once; nothing to do (204 again) for an older incarnation', async () => {
      t.nodes.nodes = [fakeNode({ id: 'cpu-1', incarnation: 2 }), fakeNode({ id: 'cpu-2', status: 'DRAINING' })];
      await leave('cpu-1', { incarnation: 1 }, workerToken('cpu-1', 1)).expect(204);
      expect(t.nodes.nodes[0]).toMatchObject({ status: 'ACTIVE', leftAt: null });
      await leave('cpu-1', { incarnation: 2 }, workerToken('cpu-1', 2)).expect(204);
      expect(t.nodes.nodes[0]).toMatchObject({ status: 'DEAD', leftAt: expect.any(Date) });
      await leave('cpu-1', { incarnation: 2 }, workerToken('cpu-1', 2)).expect(204);
      await leave('cpu-2', { incarnation: 1 }).expect(204);
      await leave('cpu-2', { incarnation: 1 }).expect(204);
      expect(t.nodes.nodes[1]).toMatchObject({ status: 'DRAINING', leftAt: expect.any(Date) });
      expect(t.audit.events.map((e) => [e.action, e.result, e.resource, e.actorSubject])).toEqual([
        ['node.leave', 'allow', 'node/cpu-1', 'node:cpu-1'],
        ['node.leave', 'allow', 'node/cpu-2', 'node:cpu-2'],
      ]);
    });

    it("needs the node's own worker token", async () => {
      t.nodes.nodes = [fakeNode({ id: 'cpu-1' })];
      await http().post('/v1/internal/nodes/cpu-1/leave').send({ incarnation: 1 }).expect(401);
      await leave('cpu-1', { incarnation: 1 }, userToken()).expect(401);
      expect((await leave('cpu-1', { incarnation: 1 }, workerToken('cpu-2')).expect(403)).body.error.code).toBe('forbidden');
      await leave('cpu-1', {}).expect(400);
      expect(t.nodes.nodes[0].status).toBe('ACTIVE');
    });
  });

  describe('POST /v1/internal/nodes/:id/heartbeat', () => {
    it('answers 200 ok for the live incarnation', async () => {
      const response = await heartbeat('cpu-1', { incarnation: 1 }).expect(200);
      expect(response.body).toEqual({ status: 'ok' });
    });

    it('needs a worker token: none, a user token or the bootstrap secret get 401', async () => {
      await http().post('/v1/internal/nodes/cpu-1/heartbeat').send({ incarnation: 1 }).expect(401);
      await heartbeat('cpu-1', { incarnation: 1 }, userToken()).expect(401);
      await heartbeat('cpu-1', { incarnation: 1 }, BOOTSTRAP_SECRET).expect(401);
      expect(t.audit.events.every((e) => e.result === 'deny')).toBe(true);
      expect(t.audit.events).toHaveLength(3);
    });

    it("refuses another node's worker token, or another incarnation's, with 403", async () => {
      expect((await heartbeat('cpu-1', { incarnation: 1 }, workerToken('cpu-2')).expect(403)).body.error.code).toBe('forbidden');
      await heartbeat('cpu-1', { incarnation: 2 }, workerToken('cpu-1', 1)).expect(403);
      expect(t.audit.events.map((e) => [e.result, e.reason])).toEqual([
        ['deny', 'other_node'],
        ['deny', 'other_node'],
      ]);
    });

    it('answers 409 when a newer incarnation exists: the process must exit', async () => {
      t.nodes.heartbeatAnswer = 'superseded';
      const response = await heartbeat('cpu-1', { incarnation: 1 }).expect(409);
      expect(response.body.error.code).toBe('node_superseded');
    });

    it('answers 404 node_not_found when the node must register again', async () => {
      t.nodes.heartbeatAnswer = 'unknown';
      const response = await heartbeat('cpu-1', { incarnation: 1 }).expect(404);
      expect(response.body.error.code).toBe('node_not_found');
    });

    it('validates the node id and the incarnation', async () => {
      // The guard compares the token's node with the path first, so a bad id needs a token naming it.
      expect((await heartbeat('CPU_1', { incarnation: 1 }, workerToken('CPU_1')).expect(400)).body.error.details).toEqual([
        expect.objectContaining({ field: 'id' }),
      ]);
      await heartbeat('cpu-1', { incarnation: 'one' }).expect(400);
      await heartbeat('cpu-1', {}).expect(400);
    });
  });

  describe('POST /v1/internal/nodes/:id/assignments/:assignmentId/started', () => {
    const ASSIGNMENT = '6f1d2c3b-4a59-4e8f-9a7b-0c1d2e3f4a5b';
    const started = (nodeId: string, assignmentId: string, body: object, token = workerToken(nodeId)) =>
      http().post(`/v1/internal/nodes/${nodeId}/assignments/${assignmentId}/started`).set('Authorization', `Bearer ${token}`).send(body);

    it('marks an assignment placed on this node incarnation RUNNING, once; a second report is a 409', async () => {
      t.assignments.placed.push({ assignmentId: ASSIGNMENT, nodeId: 'cpu-1', incarnation: 1, group: 'cpu' });
      expect((await started('cpu-1', ASSIGNMENT, { incarnation: 1 }).expect(200)).body).toEqual({ assignment_id: ASSIGNMENT, state: 'RUNNING' });
      const again = await started('cpu-1', ASSIGNMENT, { incarnation: 1 }).expect(409);
      expect(again.body.error).toEqual(
        expect.objectContaining({ code: 'assignment_not_placed', message: expect.stringContaining('not PLACED on node cpu-1 incarnation 1') }),
      );
      expect(t.assignments.runningForMs).toEqual([0]);
    });

    it('passes on how long the attempt has run, for the ledger to back-date its start', async () => {
      t.assignments.placed.push({ assignmentId: ASSIGNMENT, nodeId: 'cpu-1', incarnation: 1, group: 'cpu' });
      await started('cpu-1', ASSIGNMENT, { incarnation: 1, running_for_ms: 250 }).expect(200);
      expect(t.assignments.runningForMs).toEqual([250]);
    });

    it('answers 409 for an assignment placed on another node or incarnation', async () => {
      t.assignments.placed.push({ assignmentId: ASSIGNMENT, nodeId: 'cpu-2', incarnation: 1, group: 'cpu' });
      expect((await started('cpu-1', ASSIGNMENT, { incarnation: 1 }).expect(409)).body.error.code).toBe('assignment_not_placed');
      expect((await started('cpu-2', ASSIGNMENT, { incarnation: 2 }, workerToken('cpu-2', 2)).expect(409)).body.error.code).toBe('assignment_not_placed');
      expect(t.assignments.placed).toHaveLength(1);
    });

    it("needs the node's own worker token for the body's incarnation: a user token 401, another node's or incarnation's 403", async () => {
      t.assignments.placed.push({ assignmentId: ASSIGNMENT, nodeId: 'cpu-1', incarnation: 1, group: 'cpu' });
      await started('cpu-1', ASSIGNMENT, { incarnation: 1 }, userToken()).expect(401);
      await started('cpu-1', ASSIGNMENT, { incarnation: 1 }, workerToken('cpu-2')).expect(403);
      await started('cpu-1', ASSIGNMENT, { incarnation: 1 }, workerToken('cpu-1', 2)).expect(403);
      expect(t.assignments.placed).toHaveLength(1);
    });

    it('validates the assignment id and the incarnation', async () => {
      expect((await started('cpu-1', 'not-a-uuid', { incarnation: 1 }).expect(400)).body.error.details).toEqual([
        expect.objectContaining({ field: 'assignmentId', problem: 'assignmentId must be a UUID' }),
      ]);
      await started('cpu-1', ASSIGNMENT, {}).expect(400);
      for (const running_for_ms of [-1, 2.5, '250']) {
        const { details } = (await started('cpu-1', ASSIGNMENT, { incarnation: 1, running_for_ms }).expect(400)).body.error;
        expect(details).toContainEqual(expect.objectContaining({ field: 'running_for_ms' }));
        expect(details.every((detail: { field: string }) => detail.field === 'running_for_ms')).toBe(true);
      }
    });
  });
});
