import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import request from 'supertest';
import type { EntityManager } from 'typeorm';
import type { ArtifactStore } from '@mlis/artifacts';
import { CONTROL_TASK_QUEUE, JOB_WORKFLOW_VERSION, type JobWorkflowInput } from '@mlis/contracts';
import { ARTIFACT_STORE } from '../artifacts/artifacts.service';
import { onUploadCommit } from '../testing/artifact-fakes';
import { fakeNode, FakeTemporalClient } from '../testing/fakes';
import { createTestApp, type TestApp } from '../testing/test-app';
import { MAX_PARAM_ARTIFACT_REFS } from './job-artifacts.service';
import { JobsController } from './jobs.controller';

const valid = { task_type: 'sleep', params: { seconds: 1 }, cpu: 1, mem_mb: 256, gpu: 0 };

/** Polls `condition` until it holds (2 s at most). */
async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in 2 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe(JobsController.name, () => {
  let t: TestApp;

  beforeEach(async () => {
    t = await createTestApp();
    t.nodes.nodes = [
      fakeNode({ id: 'cpu-1', cpuMillis: 4000, memMb: 8192 }),
      fakeNode({
        id: 'gpu-1',
        groupName: 'gpu',
        cpuMillis: 4000,
        memMb: 16384,
        gpuCount: 2,
        gpus: [0, 1].map((index) => ({ index, model: 'simulated', memory_mb: 16384 })),
      }),
    ];
  });

  afterEach(async () => {
    await t.app.close();
  });

  const http = () => request(t.app.getHttpServer());

  describe('POST /v1/jobs', () => {
    it('refuses a job past max_queued_jobs inside the insert: 429, nothing stored or started, the denial audited', async () => {
      t.tenants.put({ id: 'default', name: 'Default', maxQueuedJobs: 1 });
      t.tenants.queued = 1;
      const response = await http().post('/v1/jobs').set('X-Request-ID', 'req-full').send(valid).expect(429);
      expect(response.body.error.code).toBe('quota_exceeded');
      expect(response.headers['retry-after']).toBe('30');
      expect(t.jobs.records).toHaveLength(0);
      expect(t.temporal.started).toHaveLength(0);
      expect(t.audit.events).toEqual([expect.objectContaining({ requestId: 'req-full', result: 'deny', reason: 'quota_exceeded' })]);
    });

    it('accepts a job: 202, QUEUED, row inserted and workflow started with the contract input', async () => {
      const response = await http().post('/v1/jobs').send(valid).expect(202);
      expect(response.body).toMatchObject({
        task_type: 'sleep',
        params: { seconds: 1 },
        cpu: 1,
        mem_mb: 256,
        gpu: 0,
        priority: 0,
        state: 'QUEUED',
        tenant_id: 'default',
        submitted_by: 'anonymous',
        max_attempts: t.config.scheduling.defaultMaxAttempts,
        timeout_seconds: t.config.scheduling.defaultTimeoutSeconds,
        latest_assignment: null,
        assignments: [],
        error: null,
        result: null,
      });
      expect(t.jobs.records.map((r) => r.job.id)).toEqual([response.body.id]);
      expect(t.jobs.records[0].job.requestId).toBe(response.headers['x-request-id']);
      await waitFor(() => t.temporal.started.length === 1);
      const [started] = t.temporal.started;
      expect(started.workflowType).toBe('jobWorkflow');
      expect(started.options).toMatchObject({ taskQueue: CONTROL_TASK_QUEUE, workflowId: `job-${response.body.id}` });
      expect(started.options.args).toEqual([
        {
          jobId: response.body.id,
          tenantId: 'default',
          taskType: 'sleep',
          params: { seconds: 1 },
          paramsArtifactId: null,
          maxAttempts: t.config.scheduling.defaultMaxAttempts,
          timeoutSeconds: t.config.scheduling.defaultTimeoutSeconds,
          leaseSeconds: t.config.scheduling.leaseSeconds,
          scheduleToStartSeconds: t.config.scheduling.scheduleToStartSeconds,
          capacityRetrySeconds: t.config.scheduling.capacityRetrySeconds,
          workflowVersion: JOB_WORKFLOW_VERSION,
        },
      ]);
      expect(started.options.typedSearchAttributes.map((a) => [a.key.name, a.value])).toEqual([
        ['MlisTenant', 'default'],
        ['MlisTaskType', 'sleep'],
        ['MlisState', 'QUEUED'],
      ]);
      // The log context every activity of the job logs with; no `traced`: this API exports no spans (ADR 0019).
      expect(started.options.memo).toEqual({ request_id: response.headers['x-request-id'], tenant: 'default' });
    });

    it('applies defaults: cpu 1, mem_mb 256, gpu 0, and keeps the params as sent (the runner fills its own defaults)', async () => {
      const response = await http().post('/v1/jobs').send({ task_type: 'sleep' }).expect(202);
      expect(response.body).toMatchObject({ cpu: 1, mem_mb: 256, gpu: 0, params: {} });
      expect(t.jobs.records[0].job.cpuMillis).toBe(1000);
    });

    it('stores cpu in millicores and honours max_attempts and timeout_seconds', async () => {
      await http().post('/v1/jobs').send({ ...valid, cpu: 3, max_attempts: 5, timeout_seconds: 60 }).expect(202);
      expect(t.jobs.records[0].job).toMatchObject({ cpuMillis: 3000, maxAttempts: 5, timeoutSeconds: 60 });
    });

    it.each([
      ['an unknown field', { ...valid, colour: 'blue' }, 'colour'],
      ['a negative cpu', { ...valid, cpu: -1 }, 'cpu'],
      ['a fractional cpu', { ...valid, cpu: 0.5 }, 'cpu'],
      ['a non-integer mem_mb', { ...valid, mem_mb: 1.5 }, 'mem_mb'],
      ['a negative gpu', { ...valid, gpu: -2 }, 'gpu'],
      ['a string cpu', { ...valid, cpu: '2' }, 'cpu'],
      ['a missing task_type', { params: {} }, 'task_type'],
      ['params that are not an object', { ...valid, params: [1, 2] }, 'params'],
      ['max_attempts above 20', { ...valid, max_attempts: 21 }, 'max_attempts'],
      ['timeout_seconds of 0', { ...valid, timeout_seconds: 0 }, 'timeout_seconds'],
      ['timeout_seconds above a week', { ...valid, timeout_seconds: 604_801 }, 'timeout_seconds'],
    ])('rejects %s with 400 validation_failed naming the field', async (_name, body, field) => {
      const response = await http().post('/v1/jobs').send(body).expect(400);
      expect(response.body.error.code).toBe('validation_failed');
      expect(response.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
      expect(response.body.error.request_id).toBe(response.headers['x-request-id']);
      expect(t.jobs.records).toHaveLength(0);
      expect(t.temporal.started).toHaveLength(0);
    });

    it.each([
      ['a cpu that is no number', { ...valid, cpu: 'abc' }, [{ field: 'cpu', problem: 'cpu must be an integer number' }]],
      ['a timeout_seconds that is no number', { ...valid, timeout_seconds: true }, [{ field: 'timeout_seconds', problem: 'timeout_seconds must be an integer number' }]],
      ['a task_type that is no string', { ...valid, task_type: 123 }, [{ field: 'task_type', problem: 'task_type must be a string' }]],
      ['a gpu_model that is no string', { ...valid, gpu: 1, gpu_model: 5 }, [{ field: 'gpu_model', problem: 'gpu_model must be a string' }]],
      ['a cpu out of range', { ...valid, cpu: -1 }, [{ field: 'cpu', problem: 'cpu must not be less than 0' }]],
    ])('refuses %s with its one problem', async (_name, body, details) => {
      const response = await http().post('/v1/jobs').send(body).expect(400);
      expect(response.body.error).toMatchObject({ code: 'validation_failed', details });
      expect(t.jobs.records).toHaveLength(0);
    });

    it('rejects malformed JSON with 400 malformed_json', async () => {
      const response = await http()
        .post('/v1/jobs')
        .set('content-type', 'application/json')
        .send('{"task_type": "sleep",')
        .expect(400);
      expect(response.body.error).toMatchObject({ code: 'malformed_json', request_id: response.headers['x-request-id'] });
    });

    it('rejects an unknown task type with 422 unknown_task_type', async () => {
      const response = await http().post('/v1/jobs').send({ ...valid, task_type: 'train_gpt' }).expect(422);
      expect(response.body.error.code).toBe('unknown_task_type');
      expect(t.jobs.records).toHaveLength(0);
    });

    it("rejects params the runner refuses with 422 invalid_params and the runner's details", async () => {
      const response = await http().post('/v1/jobs').send({ ...valid, params: { seconds: 'soon' } }).expect(422);
      expect(response.body.error.code).toBe('invalid_params');
      expect(response.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'params.seconds' })]));
      expect(t.jobs.records).toHaveLength(0);
    });

    it('rejects an onnx tensor whose data does not match its dims with 422, before any model is loaded', async () => {
      const params = { model: 'artifact://0b5c3f7e-4f43-4b0e-9a55-6a1d2f6f9e01', inputs: { X: { type: 'float32', dims: [2, 3], data: [1, 2, 3] } } };
      const response = await http().post('/v1/jobs').send({ ...valid, task_type: 'onnx', params }).expect(422);
      expect(response.body.error).toMatchObject({
        code: 'invalid_params',
        details: [{ field: 'params.inputs.X.data', problem: 'has 3 elements but dims [2, 3] need 6' }],
      });
      expect(t.jobs.records).toHaveLength(0);
    });

    it('rejects a request no registered node could ever fit with 422 unschedulable naming the resource', async () => {
      const response = await http().post('/v1/jobs').send({ ...valid, mem_mb: 10_000_000 }).expect(422);
      expect(response.body.error.code).toBe('unschedulable');
      expect(response.body.error.message).toBe('no node registered has 10000000 MiB of memory (the most any has: 16384)');
      expect(response.body.error.details).toEqual([{ field: 'mem_mb', problem: expect.stringContaining('16384') }]);
      expect(t.jobs.records).toHaveLength(0);
    });

    it('is unschedulable when every resource fits some node but no node has them all', async () => {
      // 8 cores fit the 16-core CPU node, a GPU fits the 4-core GPU node; no node has both.
      t.nodes.nodes[0].cpuMillis = 16_000;
      const response = await http().post('/v1/jobs').send({ ...valid, cpu: 8, gpu: 1 }).expect(422);
      expect(response.body.error.message).toBe('no node registered with 1 GPU has 8 CPUs (the most any has: 4)');
      expect(response.body.error.details).toEqual([{ field: 'cpu', problem: response.body.error.message }]);
    });

    it('counts nodes in any status when judging schedulability', async () => {
      t.nodes.nodes = [fakeNode({ id: 'cpu-1', status: 'DEAD' })];
      await http().post('/v1/jobs').send({ ...valid, gpu: 1 }).expect(422);
      await http().post('/v1/jobs').send(valid).expect(202);
    });

    it('accepts any shape while no node was ever registered: the job waits', async () => {
      t.nodes.nodes = [];
      await http().post('/v1/jobs').send({ ...valid, gpu: 64 }).expect(202);
    });

    it('admits on a recent read of the nodes and reads them again before refusing', async () => {
      await http().post('/v1/jobs').send(valid).expect(202);
      await http().post('/v1/jobs').send(valid).expect(202);
      expect(t.nodes.listed).toBe(1);
      // Registered after that read: the cached shape refuses 8 GPUs, the fresh read admits.
      t.nodes.nodes.push(fakeNode({ id: 'gpu-8', groupName: 'gpu', gpuCount: 8, gpus: [...Array(8).keys()].map((index) => ({ index, model: 'simulated', memory_mb: 16384 })) }));
      await http().post('/v1/jobs').send({ ...valid, gpu: 8 }).expect(202);
      expect(t.nodes.listed).toBe(2);
      await http().post('/v1/jobs').send({ ...valid, gpu: 64 }).expect(422);
      expect(t.nodes.listed).toBe(3);
    });

    describe('placement requests', () => {
      it('stores selectors and a priority class (its priority, its preemption right) and returns them', async () => {
        t.nodes.nodes[1].labels = { zone: 'eu-1' };
        const response = await http()
          .post('/v1/jobs')
          .send({ ...valid, gpu: 1, worker_group: 'gpu', node_selector: { zone: 'eu-1' }, gpu_model: 'simulated', gpu_memory_mb: 8000, priority_class: 'urgent' })
          .expect(202);
        expect(response.body).toMatchObject({
          priority: 100,
          priority_class: 'urgent',
          may_preempt: true,
          worker_group: 'gpu',
          node_selector: { zone: 'eu-1' },
          gpu_model: 'simulated',
          gpu_memory_mb: 8000,
          pending_reason: 'queued',
          queue_position: null,
        });
        expect(t.jobs.records[0].job).toMatchObject({ priority: 100, mayPreempt: true, nodeSelector: { zone: 'eu-1' } });
      });

      it('gives a plain priority no preemption right and no class, and keeps it below the preempting class', async () => {
        const response = await http().post('/v1/jobs').send({ ...valid, priority: 99 }).expect(202);
        expect(response.body).toMatchObject({ priority: 99, priority_class: null, may_preempt: false, node_selector: {} });
        // At urgent's own priority it would go before urgent jobs and never be evicted by them.
        const refused = await http().post('/v1/jobs').send({ ...valid, priority: 100 }).expect(400);
        expect(refused.body.error.details).toEqual([{ field: 'priority', problem: 'must be between -10 and 99' }]);
      });

      it('refuses priority together with priority_class (400), an unknown class (422), and GPU selectors without GPUs (400), storing nothing', async () => {
        const both = await http().post('/v1/jobs').send({ ...valid, priority: 5, priority_class: 'high' }).expect(400);
        expect(both.body.error).toMatchObject({ code: 'validation_failed', details: [{ field: 'priority_class', problem: 'cannot be combined with priority' }] });
        const unknown = await http().post('/v1/jobs').send({ ...valid, priority_class: 'vip' }).expect(422);
        expect(unknown.body.error).toMatchObject({
          code: 'unknown_priority_class',
          message: 'unknown priority_class "vip"; the classes are low, normal, high, urgent',
          details: [{ field: 'priority_class', problem: 'one of low, normal, high, urgent' }],
        });
        const model = await http().post('/v1/jobs').send({ ...valid, gpu_model: 'A100' }).expect(400);
        expect(model.body.error.details).toEqual([{ field: 'gpu_model', problem: 'only meaningful with gpu > 0' }]);
        const selector = await http().post('/v1/jobs').send({ ...valid, node_selector: { zone: 5 } }).expect(400);
        expect(selector.body.error.details).toEqual([{ field: 'node_selector', problem: expect.stringContaining('node_selector "zone"') }]);
        expect(t.jobs.records).toHaveLength(0);
      });

      it('answers 422 unschedulable for an unknown group, labels or a GPU model no node has', async () => {
        const group = await http().post('/v1/jobs').send({ ...valid, worker_group: 'tpu' }).expect(422);
        expect(group.body.error).toMatchObject({ code: 'unschedulable', message: 'no worker group "tpu"; the groups are cpu, gpu' });
        const labels = await http().post('/v1/jobs').send({ ...valid, node_selector: { zone: 'mars' } }).expect(422);
        expect(labels.body.error.message).toBe('no node registered has the labels zone=mars');
        const model = await http().post('/v1/jobs').send({ ...valid, gpu: 1, gpu_model: 'H100' }).expect(422);
        expect(model.body.error.message).toBe('no node registered has 1 GPU of model H100 (the most any has: 0)');
        expect(model.body.error.details).toEqual([{ field: 'gpu_model', problem: model.body.error.message }]);
        const memory = await http().post('/v1/jobs').send({ ...valid, gpu: 2, worker_group: 'gpu', gpu_memory_mb: 20_000 }).expect(422);
        expect(memory.body.error).toMatchObject({
          code: 'unschedulable',
          message: 'no node in group gpu has 2 GPUs with at least 20000 MiB each (the most any has: 0)',
          details: [{ field: 'gpu_memory_mb' }],
        });
        expect(t.jobs.records).toHaveLength(0);
      });

      it('answers 422 unschedulable for a job over the tenant max_gpus', async () => {
        // Set before the app first reads the tenant: it checks submissions against the row it read (ADR 0048).
        t.tenants.put({ id: 'default', name: 'Default tenant', maxGpus: 1 });
        const quota = await http().post('/v1/jobs').send({ ...valid, gpu: 2 }).expect(422);
        expect(quota.body.error.details).toEqual([{ field: 'gpu', problem: "exceeds the tenant's max_gpus 1" }]);
        expect(t.jobs.records).toHaveLength(0);
      });

      it('validates the request fields: selector size and patterns, gpu_model length, gpu_memory_mb range, class and group names', async () => {
        const labels = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 'v']));
        const many = await http().post('/v1/jobs').send({ ...valid, node_selector: labels(17) }).expect(400);
        expect(many.body.error.details).toEqual([{ field: 'node_selector', problem: 'node_selector must have at most 16 entries' }]);
        const key = await http().post('/v1/jobs').send({ ...valid, node_selector: { '-zone': 'a' } }).expect(400);
        expect(key.body.error.details).toEqual([{ field: 'node_selector', problem: expect.stringContaining('node_selector key "-zone" must match') }]);
        const list = await http().post('/v1/jobs').send({ ...valid, node_selector: ['zone=a'] }).expect(400);
        expect(list.body.error.details).toEqual([{ field: 'node_selector', problem: 'node_selector must be an object of string values' }]);
        const longModel = await http().post('/v1/jobs').send({ ...valid, gpu: 1, gpu_model: 'x'.repeat(101) }).expect(400);
        expect(longModel.body.error.details).toEqual([{ field: 'gpu_model', problem: expect.stringContaining('100') }]);
        const negative = await http().post('/v1/jobs').send({ ...valid, gpu: 1, gpu_memory_mb: -1 }).expect(400);
        expect(negative.body.error.details).toEqual([{ field: 'gpu_memory_mb', problem: expect.stringContaining('0') }]);
        const fraction = await http().post('/v1/jobs').send({ ...valid, gpu: 1, gpu_memory_mb: 1.5 }).expect(400);
        expect(fraction.body.error.details[0].field).toBe('gpu_memory_mb');
        const bothWithoutGpu = await http().post('/v1/jobs').send({ ...valid, gpu_model: 'simulated', gpu_memory_mb: 0 }).expect(400);
        expect(bothWithoutGpu.body.error).toMatchObject({
          code: 'validation_failed',
          message: 'gpu_model and gpu_memory_mb need gpu > 0',
          details: [
            { field: 'gpu_model', problem: 'only meaningful with gpu > 0' },
            { field: 'gpu_memory_mb', problem: 'only meaningful with gpu > 0' },
          ],
        });
        // Not a class name at all: the form the document states.
        const upper = await http().post('/v1/jobs').send({ ...valid, priority_class: 'URGENT' }).expect(400);
        expect(upper.body.error.details).toEqual([{ field: 'priority_class', problem: expect.stringContaining('lowercase letters') }]);
        const group = await http().post('/v1/jobs').send({ ...valid, worker_group: 'GPU' }).expect(400);
        expect(group.body.error.details).toEqual([{ field: 'worker_group', problem: expect.stringContaining('lowercase letters') }]);
        expect(t.jobs.records).toHaveLength(0);

        // At the limits: 16 labels (a node carries them all), a 100-character model, 0 MiB (any GPU).
        t.nodes.nodes[1].labels = labels(16);
        t.nodes.nodes[1].gpus = [{ index: 0, model: 'm'.repeat(100), memory_mb: 1024 }];
        await http()
          .post('/v1/jobs')
          .send({ ...valid, gpu: 1, node_selector: labels(16), gpu_model: 'm'.repeat(100), gpu_memory_mb: 0 })
          .expect(202);
        expect(t.jobs.records[0].job).toMatchObject({ gpuModel: 'm'.repeat(100), gpuMemoryMb: 0, nodeSelector: labels(16) });
      });

      it('gives the default priority 0, no class and no preemption right when neither priority nor class is given', async () => {
        const response = await http().post('/v1/jobs').send(valid).expect(202);
        expect(response.body).toMatchObject({
          priority: 0,
          priority_class: null,
          may_preempt: false,
          worker_group: null,
          gpu_model: null,
          gpu_memory_mb: null,
        });
      });

      it('gives a non-preempting class its priority without the preemption right', async () => {
        const response = await http().post('/v1/jobs').send({ ...valid, priority_class: 'low' }).expect(202);
        expect(response.body).toMatchObject({ priority: -10, priority_class: 'low', may_preempt: false });
      });

      it('treats a replay with the same key but other placement fields as a conflict, and an identical one as a replay', async () => {
        t.nodes.nodes[1].labels = { a: '1', b: '2' };
        const request = { ...valid, gpu: 1, worker_group: 'gpu', node_selector: { a: '1', b: '2' }, priority_class: 'high' };
        await http().post('/v1/jobs').set('Idempotency-Key', 'k-place').send(request).expect(202);
        // Key order in the selector does not make it another request.
        await http().post('/v1/jobs').set('Idempotency-Key', 'k-place').send({ ...request, node_selector: { b: '2', a: '1' } }).expect(200);
        for (const changed of [
          { worker_group: 'cpu', gpu: 0 },
          { node_selector: { a: '1' } },
          { gpu_model: 'simulated' },
          { gpu_memory_mb: 1 },
          { priority_class: 'urgent' },
        ]) {
          const response = await http().post('/v1/jobs').set('Idempotency-Key', 'k-place').send({ ...request, ...changed }).expect(409);
          expect(response.body.error.code).toBe('idempotency_conflict');
        }
        expect(t.jobs.records).toHaveLength(1);
      });

      it('accepts a job for a configured group no node has joined yet: it waits', async () => {
        t.nodes.workerGroups = ['cpu', 'gpu', 'batch'];
        await http().post('/v1/jobs').send({ ...valid, worker_group: 'batch' }).expect(202);
      });
    });

    it('accepts the job while its workflow cannot start, and starts it once Temporal answers', async () => {
      t.temporal.startError = new Error('14 UNAVAILABLE: No connection established');
      const response = await http().post('/v1/jobs').send(valid).expect(202);
      expect(response.body.state).toBe('QUEUED');
      expect(t.jobs.records).toHaveLength(1);
      expect(t.temporal.started).toHaveLength(0);
      t.temporal.startError = undefined;
      await waitFor(() => t.temporal.started.length === 1);
      expect(t.temporal.started[0].options.workflowId).toBe(`job-${response.body.id}`);
    });

    it('starts the workflow with attempt 1\'s placement when the cycle before the start placed the job (ADR 0031)', async () => {
      const placement = { assignmentId: 'a1', attempt: 1, nodeId: 'node-1', group: 'cpu', taskQueue: 'mlis-node-cpu-node-1', gpuIds: [] };
      t.scheduler.newJobPlacement = placement;
      const response = await http().post('/v1/jobs').send(valid).expect(202);
      await waitFor(() => t.temporal.started.length === 1);
      expect(t.scheduler.newJobs).toEqual([response.body.id]);
      // The API inserted the row itself: no read of the placement before the cycle (ADR 0047).
      expect(t.scheduler.insertedJustNow).toEqual([true]);
      expect(t.temporal.started[0].options.args).toEqual([expect.objectContaining({ jobId: response.body.id, placement })]);
      // Placed is RUNNING in the ledger: the workflow starts with the search attributes its first task would have set.
      expect(t.temporal.started[0].options.typedSearchAttributes.map((a) => [a.key.name, a.value])).toEqual([
        ['MlisTenant', 'default'],
        ['MlisTaskType', 'sleep'],
        ['MlisState', 'RUNNING'],
        ['MlisWorkerGroup', 'cpu'],
        ['MlisNode', 'node-1'],
      ]);
    });

    it('starts the workflow without a placement when the cycle before the start fails: the workflow places the job itself', async () => {
      t.scheduler.failWith = new Error('could not obtain the scheduler lock');
      const response = await http().post('/v1/jobs').send(valid).expect(202);
      await waitFor(() => t.temporal.started.length === 1);
      expect(t.scheduler.newJobs).toEqual([response.body.id]);
      const [input] = t.temporal.started[0].options.args as JobWorkflowInput[];
      expect(input.jobId).toBe(response.body.id);
      expect(input).not.toHaveProperty('placement');
    });

    it('lets its background starts finish before it stops', async () => {
      const stopping = await createTestApp();
      stopping.nodes.nodes = t.nodes.nodes;
      stopping.temporal.startError = new Error('14 UNAVAILABLE: No connection established');
      const accepted = await request(stopping.app.getHttpServer()).post('/v1/jobs').send(valid).expect(202);
      // The first start failed; the retry a second later reaches Temporal, and the app waits for it.
      stopping.temporal.startError = undefined;
      await stopping.app.close();
      expect(stopping.temporal.started.map((s) => s.options.workflowId)).toEqual([`job-${accepted.body.id}`]);
    });

    describe('Idempotency-Key', () => {
      it('returns the first job with 200 for the same key and body, starting nothing new', async () => {
        const first = await http().post('/v1/jobs').set('Idempotency-Key', 'k-1').send(valid).expect(202);
        const again = await http()
          .post('/v1/jobs')
          .set('Idempotency-Key', 'k-1')
          .send({ gpu: 0, mem_mb: 256, cpu: 1, params: { seconds: 1 }, task_type: 'sleep' })
          .expect(200);
        expect(again.body.id).toBe(first.body.id);
        expect(t.jobs.records).toHaveLength(1);
        expect(t.temporal.started).toHaveLength(1);
      });

      it('starts the workflow of the first job on a replay when it never started (its API died after the commit)', async () => {
        const first = await http().post('/v1/jobs').set('Idempotency-Key', 'k-lost').send(valid).expect(202);
        t.temporal.started.length = 0;
        await http().post('/v1/jobs').set('Idempotency-Key', 'k-lost').send(valid).expect(200);
        expect(t.temporal.started.map((s) => s.options.workflowId)).toEqual([`job-${first.body.id}`]);
        // The replay did not insert the row: its placement is read first, as a cycle may have made it long ago.
        expect(t.scheduler.insertedJustNow).toEqual([true, false]);
      });

      it('treats explicit resource defaults as the same body', async () => {
        const first = await http()
          .post('/v1/jobs')
          .set('Idempotency-Key', 'k-2')
          .send({ task_type: 'sleep', params: valid.params })
          .expect(202);
        const again = await http().post('/v1/jobs').set('Idempotency-Key', 'k-2').send(valid).expect(200);
        expect(again.body.id).toBe(first.body.id);
      });

      it('answers 409 idempotency_conflict for the same key with a different body', async () => {
        await http().post('/v1/jobs').set('Idempotency-Key', 'k-3').send(valid).expect(202);
        const response = await http()
          .post('/v1/jobs')
          .set('Idempotency-Key', 'k-3')
          .send({ ...valid, params: { seconds: 2 } })
          .expect(409);
        expect(response.body.error.code).toBe('idempotency_conflict');
        expect(t.jobs.records).toHaveLength(1);
      });

      it('replays the winner when a concurrent submission with the same key committed first', async () => {
        const first = await http().post('/v1/jobs').set('Idempotency-Key', 'k-race').send(valid).expect(202);
        // This request's lookup ran before the winner committed; its insert then hits the unique key.
        const lookup = t.jobs.findByIdempotencyKey.bind(t.jobs);
        let lookups = 0;
        t.jobs.findByIdempotencyKey = async (tenantId, key) => (++lookups === 1 ? null : lookup(tenantId, key));
        const again = await http().post('/v1/jobs').set('Idempotency-Key', 'k-race').send(valid).expect(200);
        expect(again.body.id).toBe(first.body.id);
        expect(lookups).toBe(2);
        expect(t.jobs.records).toHaveLength(1);
      });

      it('replays an accepted job while the tenant is out of submission tokens, taking none', async () => {
        t.tenants.put({ id: 'default', name: 'Default', submitRatePerMinute: 1 });
        const first = await http().post('/v1/jobs').set('Idempotency-Key', 'k-rate').send(valid).expect(202);
        expect(t.tenants.tokens.get('default')).toBe(0);
        // The answer was lost; the client sends the same submission again.
        const again = await http().post('/v1/jobs').set('Idempotency-Key', 'k-rate').send(valid).expect(200);
        expect(again.body.id).toBe(first.body.id);
        expect(t.tenants.tokens.get('default')).toBe(0);
        expect(t.audit.events.filter((event) => event.result === 'deny')).toEqual([]);
        // A new submission still waits for a token.
        expect((await http().post('/v1/jobs').send(valid).expect(429)).body.error.code).toBe('rate_limited');
      });

      it('keeps different keys apart', async () => {
        await http().post('/v1/jobs').set('Idempotency-Key', 'a').send(valid).expect(202);
        await http().post('/v1/jobs').set('Idempotency-Key', 'b').send(valid).expect(202);
        expect(t.jobs.records).toHaveLength(2);
      });

      it('rejects a key longer than 200 characters with 400', async () => {
        const response = await http().post('/v1/jobs').set('Idempotency-Key', 'x'.repeat(201)).send(valid).expect(400);
        expect(response.body.error.details).toEqual([expect.objectContaining({ field: 'Idempotency-Key' })]);
      });
    });
  });

  describe('artifacts in params and results', () => {
    const NODES = () => [fakeNode({ id: 'cpu-1', cpuMillis: 4000, memMb: 8192 })];

    /** An artifact row (and its bytes in the app's real fs store) of `tenantId`. */
    async function artifact(app: TestApp, tenantId: string, bytes = Buffer.from('hello')): Promise<string> {
      const store = app.app.get<ArtifactStore>(ARTIFACT_STORE);
      const stored = await store.put(Readable.from([bytes]));
      const id = randomUUID();
      await app.artifacts.insert({} as EntityManager, {
        id,
        tenantId,
        name: null,
        contentType: 'application/json',
        sizeBytes: stored.sizeBytes,
        sha256: stored.sha256,
        createdBy: 'someone',
        expiresAt: null,
      });
      return id;
    }

    it('answers 422 artifact_not_found naming each bad reference, whether missing, malformed or another tenant’s; nothing stored', async () => {
      const theirs = await artifact(t, 'other');
      const response = await http()
        .post('/v1/jobs')
        .send({ task_type: 'echo', params: { a: `artifact://${randomUUID()}`, list: ['x', { b: `artifact://${theirs}` }], c: 'artifact://nope' } })
        .expect(422);
      expect(response.body.error.code).toBe('artifact_not_found');
      expect(response.body.error.details).toEqual([
        { field: 'params.a', problem: expect.stringMatching(/not found/) },
        { field: 'params.list[1].b', problem: `artifact ${theirs} not found` },
        { field: 'params.c', problem: 'not an artifact reference: artifact://<uuid>' },
      ]);
      expect(t.jobs.records).toHaveLength(0);
      expect(t.artifacts.links).toHaveLength(0);
      expect(t.temporal.started).toHaveLength(0);
      // Only the other tenant's artifact is a denial worth auditing; its owner is named, the caller is not told.
      expect(t.audit.events).toEqual([
        expect.objectContaining({ action: 'job.submit', resource: `artifact/${theirs}`, result: 'deny', reason: 'other_tenant', targetTenant: 'other' }),
      ]);
    });

    it('links each referenced artifact once as an input and keeps the params inline', async () => {
      const mine = await artifact(t, 'default');
      const params = { input: `artifact://${mine}`, again: [`artifact://${mine}`] };
      const response = await http().post('/v1/jobs').send({ task_type: 'echo', params }).expect(202);
      expect(response.body).toMatchObject({ params, params_artifact: null, result: null, result_artifact: null });
      expect(t.artifacts.links).toEqual([{ jobId: response.body.id, artifactId: mine, role: 'input' }]);
      expect(t.temporal.started[0].options.args[0]).toMatchObject({ params, paramsArtifactId: null });
    });

    it(`refuses more than ${MAX_PARAM_ARTIFACT_REFS} distinct references with 400 before looking any up`, async () => {
      const refs = Array.from({ length: MAX_PARAM_ARTIFACT_REFS + 1 }, () => `artifact://${randomUUID()}`);
      const small = await createTestApp({ MLIS_API_BODY_LIMIT_BYTES: '65536' });
      try {
        const response = await request(small.app.getHttpServer()).post('/v1/jobs').send({ task_type: 'echo', params: { refs } }).expect(400);
        expect(response.body.error).toMatchObject({ code: 'validation_failed', details: [{ field: 'params' }] });
      } finally {
        await small.app.close();
      }
    });

    describe('with params over MLIS_INLINE_PAYLOAD_MAX_BYTES', () => {
      let big: TestApp;
      // Over 4096 - 1024 (the envelope kept for the other fields of a payload), under the test app's 4096-byte body limit.
      const params = { text: 'x'.repeat(3100), b: 1, a: 2 };
      // What the artifact must hold, written out: keys sorted, no white space.
      const storedJson = `{"a":2,"b":1,"text":"${'x'.repeat(3100)}"}`;
      const storedSha256 = createHash('sha256').update(storedJson).digest('hex');

      beforeEach(async () => {
        big = await createTestApp({ MLIS_INLINE_PAYLOAD_MAX_BYTES: '4096' });
        big.nodes.nodes = NODES();
      });
      afterEach(() => big.app.close());

      it('stores them as the job’s params artifact: the row and the workflow input carry only its id', async () => {
        const response = await request(big.app.getHttpServer()).post('/v1/jobs').send({ task_type: 'echo', params }).expect(202);
        const jobId: string = response.body.id;
        expect(response.body).toMatchObject({ params: null, params_artifact: expect.any(String) });
        const artifactId: string = response.body.params_artifact;

        expect(big.jobs.records[0].job).toMatchObject({ params: {}, paramsArtifactId: artifactId, paramsSha256: storedSha256 });
        expect(big.temporal.started[0].options.args[0]).toMatchObject({ params: {}, paramsArtifactId: artifactId });
        expect(big.artifacts.rows).toEqual([
          expect.objectContaining({
            id: artifactId,
            tenantId: 'default',
            name: `params-${jobId}.json`,
            contentType: 'application/json',
            sizeBytes: storedJson.length,
            sha256: storedSha256,
            createdBy: 'anonymous',
          }),
        ]);
        expect(big.artifacts.links).toEqual([{ jobId, artifactId, role: 'params' }]);
        // Recorded before the bytes were committed, cleared with the row.
        expect(big.artifacts.pendingUploads.size).toBe(0);
        const stored = await big.app.get<ArtifactStore>(ARTIFACT_STORE).get(big.artifacts.rows[0].sha256);
        const chunks: Buffer[] = [];
        for await (const chunk of stored) chunks.push(chunk as Buffer);
        expect(Buffer.concat(chunks).toString('utf8')).toBe(storedJson);
      });

      it('commits their bytes before the submission’s transaction, not inside it (ADR 0061)', async () => {
        const order: string[] = [];
        onUploadCommit(big.app.get<ArtifactStore>(ARTIFACT_STORE), () => order.push('bytes committed'));
        const insert = big.jobs.insert.bind(big.jobs);
        jest.spyOn(big.jobs, 'insert').mockImplementation(async (...args) => {
          order.push('job inserted');
          return insert(...args);
        });
        await request(big.app.getHttpServer()).post('/v1/jobs').send({ task_type: 'echo', params }).expect(202);
        expect(order).toEqual(['bytes committed', 'job inserted']);
        expect(big.artifacts.pendingUploads.size).toBe(0);
      });

      it('keeps neither their bytes nor their pending upload record when the submission is refused inside the insert', async () => {
        big.tenants.put({ id: 'default', name: 'Default', maxQueuedJobs: 1 });
        big.tenants.queued = 1;
        await request(big.app.getHttpServer()).post('/v1/jobs').send({ task_type: 'echo', params }).expect(429);
        expect(big.artifacts.rows).toHaveLength(0);
        expect(big.artifacts.pendingUploads.size).toBe(0);
        expect(await big.app.get<ArtifactStore>(ARTIFACT_STORE).exists(storedSha256)).toBe(false);
      });

      it('replays the same params (any key order) by content and refuses changed ones', async () => {
        const server = big.app.getHttpServer();
        const first = await request(server).post('/v1/jobs').set('Idempotency-Key', 'k-big').send({ task_type: 'echo', params }).expect(202);
        const again = await request(server)
          .post('/v1/jobs')
          .set('Idempotency-Key', 'k-big')
          .send({ task_type: 'echo', params: { a: 2, b: 1, text: params.text } })
          .expect(200);
        expect(again.body.id).toBe(first.body.id);
        const changed = await request(server)
          .post('/v1/jobs')
          .set('Idempotency-Key', 'k-big')
          .send({ task_type: 'echo', params: { ...params, a: 3 } })
          .expect(409);
        expect(changed.body.error.code).toBe('idempotency_conflict');
        expect(big.artifacts.rows).toHaveLength(1);
        expect(big.temporal.started).toHaveLength(1);

        // Retention deleted the params artifact after the job ended: the repeat still compares, by the job's own digest.
        big.jobs.records[0].job.state = 'SUCCEEDED';
        big.artifacts.rows.length = 0;
        const later = await request(server).post('/v1/jobs').set('Idempotency-Key', 'k-big').send({ task_type: 'echo', params }).expect(200);
        expect(later.body.id).toBe(first.body.id);
        await request(server).post('/v1/jobs').set('Idempotency-Key', 'k-big').send({ task_type: 'echo', params: { ...params, a: 3 } }).expect(409);
      });
    });

    describe('GET /v1/jobs/:id/result', () => {
      it('answers 409 result_not_available until the job SUCCEEDED', async () => {
        const id = randomUUID();
        t.jobs.seed({ id, state: 'RUNNING' });
        const response = await http().get(`/v1/jobs/${id}/result`).expect(409);
        expect(response.body.error.code).toBe('result_not_available');
      });

      it('returns an inline result as JSON', async () => {
        const id = randomUUID();
        t.jobs.seed({ id, state: 'SUCCEEDED', result: { slept: 1 } });
        const response = await http().get(`/v1/jobs/${id}/result`).expect(200).expect('content-type', /application\/json/);
        expect(JSON.parse(response.text)).toEqual({ slept: 1 });
        expect((await http().get(`/v1/jobs/${id}`).expect(200)).body).toMatchObject({ result: { slept: 1 }, result_artifact: null });
      });

      it('streams a result kept as an artifact, with its length; 404 once that artifact is gone', async () => {
        const result = JSON.stringify({ vectors: Array.from({ length: 100 }, (_, i) => [i, i + 0.5]) });
        const artifactId = await artifact(t, 'default', Buffer.from(result));
        const id = randomUUID();
        t.jobs.seed({ id, state: 'SUCCEEDED', result: null, resultArtifactId: artifactId });

        expect((await http().get(`/v1/jobs/${id}`).expect(200)).body).toMatchObject({ result: null, result_artifact: artifactId });
        const response = await http().get(`/v1/jobs/${id}/result`).expect(200).expect('content-type', /application\/json/);
        expect(response.headers['content-length']).toBe(String(result.length));
        expect(response.text).toBe(result);

        t.artifacts.rows.splice(0);
        const gone = await http().get(`/v1/jobs/${id}/result`).expect(404);
        expect(gone.body.error.code).toBe('artifact_not_found');
      });

      it("answers 404 for another tenant's job", async () => {
        const id = randomUUID();
        t.jobs.seed({ id, tenantId: 'other', state: 'SUCCEEDED', result: { secret: true } });
        const response = await http().get(`/v1/jobs/${id}/result`).expect(404);
        expect(response.body.error.code).toBe('job_not_found');
      });
    });
  });

  describe('GET /v1/jobs/:id', () => {
    it('returns the job with its assignments, latest last', async () => {
      const id = randomUUID();
      t.jobs.seed({ id, state: 'RUNNING', attempts: 2 }, [
        { state: 'LOST', reason: 'lease expired', nodeId: 'gpu-1', groupName: 'gpu', gpuIds: [0, 1] },
        { state: 'PREEMPTED', reason: 'preempted by a higher-priority job', preemptedBy: '00000000-0000-4000-8000-0000000000aa' },
        { state: 'RUNNING' },
      ]);
      const response = await http().get(`/v1/jobs/${id}`).expect(200);
      expect(response.body.assignments.map((a: { attempt: number }) => a.attempt)).toEqual([1, 2, 3]);
      expect(response.body.assignments[1]).toMatchObject({ state: 'PREEMPTED', preempted_by: '00000000-0000-4000-8000-0000000000aa' });
      expect(response.body.assignments[0]).toMatchObject({
        state: 'LOST',
        node_id: 'gpu-1',
        worker_uid: 'gpu-1',
        group: 'gpu',
        gpu_ids: [0, 1],
        cuda_visible_devices: '0,1',
        hostname: 'host-a',
        pid: 4242,
      });
      expect(response.body.latest_assignment).toMatchObject({ attempt: 3, state: 'RUNNING', cuda_visible_devices: '', preempted_by: null });
    });

    it('answers 400 validation_failed for a non-UUID id', async () => {
      const response = await http().get('/v1/jobs/not-a-uuid').expect(400);
      expect(response.body.error).toMatchObject({ code: 'validation_failed', details: [{ field: 'id', problem: expect.any(String) }] });
    });

    it('answers 404 job_not_found for an unknown id', async () => {
      const response = await http().get(`/v1/jobs/${randomUUID()}`).expect(404);
      expect(response.body.error.code).toBe('job_not_found');
    });

    it("does not show another tenant's job", async () => {
      const id = randomUUID();
      t.jobs.seed({ id, tenantId: 'other' });
      await http().get(`/v1/jobs/${id}`).expect(404);
    });
  });

  describe('GET /v1/jobs/:id?wait=', () => {
    // Blank, hexadecimal and exponent forms too: Number() would have read them as 0, 16 and 10. A value that is no
    // integer has that one problem, not also "must not be greater than 60" and "must not be less than 0".
    const notAnInteger = 'wait must be an integer number';
    it.each([
      ['61', 'wait must not be greater than 60'],
      ['-1', 'wait must not be less than 0'],
      ...['1.5', 'soon', '', '%0A', '%20', '0x10', '1e1', '5&wait=6'].map((wait) => [wait, notAnInteger]),
    ])('answers 400 validation_failed for wait=%s, saying what is wrong with it', async (wait, problem) => {
      const response = await http().get(`/v1/jobs/${randomUUID()}?wait=${wait}`).expect(400);
      expect(response.body.error.code).toBe('validation_failed');
      expect(response.body.error.details).toEqual([{ field: 'wait', problem }]);
      expect(response.body.error.message).toBe(`invalid request: ${problem}`);
    });

    it('answers a final job at once without waiting', async () => {
      const id = randomUUID();
      t.jobs.seed({ id, state: 'SUCCEEDED' });
      const started = Date.now();
      const response = await http().get(`/v1/jobs/${id}?wait=60`).expect(200);
      expect(response.body.state).toBe('SUCCEEDED');
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(t.finished.subscribed).toBe(0);
    });

    it('answers as soon as the feed says the job became final, with the final row', async () => {
      const id = randomUUID();
      t.jobs.seed({ id, state: 'RUNNING' });
      const started = Date.now();
      const pending = http().get(`/v1/jobs/${id}?wait=60`).then((r) => r);
      await waitFor(() => t.finished.subscribed === 1);
      const record = t.jobs.records.find((r) => r.job.id === id);
      if (!record) throw new Error('seeded job missing');
      record.job.state = 'FAILED';
      t.finished.notify(id);
      const response = await pending;
      expect(response.status).toBe(200);
      expect(response.body.state).toBe('FAILED');
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(t.finished.subscribed).toBe(0);
    });

    it('answers with the current state when the wait ends first', async () => {
      const id = randomUUID();
      t.jobs.seed({ id, state: 'QUEUED' });
      const started = Date.now();
      const response = await http().get(`/v1/jobs/${id}?wait=1`).expect(200);
      expect(response.body.state).toBe('QUEUED');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      expect(t.finished.subscribed).toBe(0);
    });

    it('waits for a job it accepted without reading it first: one read, once the feed says it became final (ADR 0049)', async () => {
      const accepted = await http().post('/v1/jobs').send(valid).expect(202);
      const reads = jest.spyOn(t.jobs, 'findById');
      const pending = http().get(`/v1/jobs/${accepted.body.id}?wait=60`).then((r) => r);
      // The waiter alone: the replica stopped listening for the job when the long-poll took it.
      await waitFor(() => t.finished.subscribed === 1 && t.temporal.started.length === 1);
      expect(reads).not.toHaveBeenCalled();
      const record = t.jobs.records.find((r) => r.job.id === accepted.body.id);
      if (!record) throw new Error('accepted job missing');
      record.job.state = 'SUCCEEDED';
      t.finished.notify(accepted.body.id);
      const response = await pending;
      expect(response.status).toBe(200);
      expect(response.body.state).toBe('SUCCEEDED');
      expect(reads).toHaveBeenCalledTimes(1);
      expect(t.finished.subscribed).toBe(0);
    });

    it('reads first a job it accepted whose end it heard before the long-poll came', async () => {
      const accepted = await http().post('/v1/jobs').send(valid).expect(202);
      const record = t.jobs.records.find((r) => r.job.id === accepted.body.id);
      if (!record) throw new Error('accepted job missing');
      record.job.state = 'FAILED';
      t.finished.notify(accepted.body.id);
      const started = Date.now();
      const response = await http().get(`/v1/jobs/${accepted.body.id}?wait=60`).expect(200);
      expect(response.body.state).toBe('FAILED');
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it('answers with the current state a job it accepted when the wait ends first', async () => {
      const accepted = await http().post('/v1/jobs').send(valid).expect(202);
      const response = await http().get(`/v1/jobs/${accepted.body.id}?wait=1`).expect(200);
      expect(response.body).toMatchObject({ id: accepted.body.id, state: 'QUEUED' });
      expect(t.finished.subscribed).toBe(0);
    });

    it("answers another tenant's long-poll for a job it accepted 404 at once, without reading it, and audits the denial", async () => {
      const real = await createTestApp({}, { auth: 'real' });
      try {
        real.nodes.nodes = [fakeNode({ id: 'cpu-1', cpuMillis: 4000, memMb: 8192 })];
        const server = real.app.getHttpServer();
        const accepted = await request(server).post('/v1/jobs').set('Authorization', `Bearer ${real.userToken()}`).send(valid).expect(202);
        const reads = jest.spyOn(real.jobs, 'findById');
        const other = real.userToken({ tenant: 'other', sub: 'mallory' });
        const started = Date.now();
        const response = await request(server).get(`/v1/jobs/${accepted.body.id}?wait=60`).set('Authorization', `Bearer ${other}`).expect(404);
        expect(response.body.error.code).toBe('job_not_found');
        expect(Date.now() - started).toBeLessThan(2_000);
        expect(reads).not.toHaveBeenCalled();
        expect(real.audit.events).toContainEqual(
          expect.objectContaining({ action: 'job.read', result: 'deny', reason: 'other_tenant', actorTenant: 'other', targetTenant: 'default' }),
        );
      } finally {
        await real.app.close();
      }
    });

    it("answers another tenant's job 404 at once, without waiting", async () => {
      const id = randomUUID();
      t.jobs.seed({ id, tenantId: 'other', state: 'QUEUED' });
      const started = Date.now();
      const response = await http().get(`/v1/jobs/${id}?wait=60`).expect(404);
      expect(response.body.error.code).toBe('job_not_found');
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(t.finished.subscribed).toBe(0);
    });
  });

  describe('GET /v1/jobs', () => {
    it('pages newest first with an opaque cursor, stable when created_at ties', async () => {
      const tie = new Date('2025-02-01T00:00:00.000Z');
      const ids = Array.from({ length: 5 }, () => randomUUID());
      for (const id of ids) t.jobs.seed({ id, createdAt: tie });
      const older = randomUUID();
      t.jobs.seed({ id: older, createdAt: new Date('2025-01-01T00:00:00.000Z') });

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: request.Response = await http()
          .get('/v1/jobs')
          .query(cursor ? { limit: 2, cursor } : { limit: 2 })
          .expect(200);
        expect(page.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.body.items.map((job: { id: string }) => job.id));
        cursor = page.body.next_cursor;
      } while (cursor);

      expect(seen).toEqual([...[...ids].sort().reverse(), older]);
    });

    it('defaults to 20 items and filters by state', async () => {
      for (let i = 0; i < 25; i++) t.jobs.seed({ id: randomUUID(), state: i % 5 === 0 ? 'RUNNING' : 'QUEUED' });
      const all = await http().get('/v1/jobs').expect(200);
      expect(all.body.items).toHaveLength(20);
      expect(all.body.next_cursor).toEqual(expect.any(String));
      const running = await http().get('/v1/jobs?state=RUNNING').expect(200);
      expect(running.body.items).toHaveLength(5);
      expect(running.body.next_cursor).toBeNull();
    });

    it('filters by task type, group, submitter, node and submission time, all together', async () => {
      const match = randomUUID();
      const at = new Date('2025-03-01T12:00:00.000Z');
      t.jobs.seed({ id: match, taskType: 'gpu_demo', workerGroup: 'gpu', submittedBy: 'alice', createdAt: at }, [{ nodeId: 'gpu-1' }]);
      t.jobs.seed({ id: randomUUID(), taskType: 'sleep', workerGroup: 'gpu', submittedBy: 'alice', createdAt: at }, [{ nodeId: 'gpu-1' }]);
      t.jobs.seed({ id: randomUUID(), taskType: 'gpu_demo', workerGroup: 'gpu', submittedBy: 'bob', createdAt: at }, [{ nodeId: 'gpu-1' }]);
      t.jobs.seed({ id: randomUUID(), taskType: 'gpu_demo', workerGroup: 'gpu', submittedBy: 'alice', createdAt: at }, [{ nodeId: 'gpu-2' }]);
      t.jobs.seed({ id: randomUUID(), taskType: 'gpu_demo', workerGroup: 'gpu', submittedBy: 'alice', createdAt: new Date('2025-03-02T00:00:00.000Z') }, [{ nodeId: 'gpu-1' }]);
      const query = 'task_type=gpu_demo&worker_group=gpu&submitted_by=alice&node=gpu-1&created_after=2025-03-01T00:00:00Z&created_before=2025-03-01T23:59:59Z';
      const page = await http().get(`/v1/jobs?${query}`).expect(200);
      expect(page.body.items.map((job: { id: string }) => job.id)).toEqual([match]);
    });

    it('takes a date alone, and a time with an offset, as instants', async () => {
      // A date alone is its midnight UTC (from, inclusive); 23:59:59.5+01:00 is 22:59:59.5 UTC (until, exclusive).
      const seeded = ['2025-02-28T23:59:59.999Z', '2025-03-01T00:00:00.000Z', '2025-03-01T22:59:59.499Z', '2025-03-01T22:59:59.500Z'].map((at) => {
        const id = randomUUID();
        t.jobs.seed({ id, createdAt: new Date(at) });
        return id;
      });
      const page = await http().get('/v1/jobs?created_after=2025-03-01&created_before=2025-03-01T23:59:59.5%2B01:00').expect(200);
      expect(page.body.items.map((job: { id: string }) => job.id).sort()).toEqual([seeded[1], seeded[2]].sort());
    });

    it.each([
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=', 'limit'],
      ['limit=0x10', 'limit'],
      ['state=SLEEPING', 'state'],
      ['cursor=bm9wZQ', 'cursor'],
      ['colour=blue', 'colour'],
      ['created_after=yesterday', 'created_after'],
      ['created_before=2025-13-01T00:00:00Z', 'created_before'],
      // ISO 8601, but not an instant JavaScript reads as one (a week date, an ordinal date, a comma fraction), or one
      // it would read in the server's own zone (no zone given).
      ['created_after=2026-W01', 'created_after'],
      ['created_after=2026-123', 'created_after'],
      ['created_after=2026-01-01T10:00:00,5Z', 'created_after'],
      ['created_before=2026-01-01T10:00', 'created_before'],
    ])('rejects ?%s with 400 validation_failed', async (query, field) => {
      const response = await http().get(`/v1/jobs?${query}`).expect(400);
      expect(response.body.error.code).toBe('validation_failed');
      expect(response.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    });
  });

  describe('POST /v1/jobs/:id/cancel', () => {
    it('asks the workflow to cancel and answers 202 with the job', async () => {
      const id = randomUUID();
      t.jobs.seed({ id, state: 'RUNNING' });
      const response = await http().post(`/v1/jobs/${id}/cancel`).expect(202);
      expect(response.body).toMatchObject({ id, state: 'RUNNING' });
      expect(t.temporal.cancelled).toEqual([`job-${id}`]);
    });

    it.each(['SUCCEEDED', 'FAILED', 'CANCELLED'] as const)('answers 409 job_already_finished for a %s job', async (state) => {
      const id = randomUUID();
      t.jobs.seed({ id, state });
      const response = await http().post(`/v1/jobs/${id}/cancel`).expect(409);
      expect(response.body.error.code).toBe('job_already_finished');
      expect(t.temporal.cancelled).toEqual([]);
    });

    it('starts a workflow that has not started yet, then cancels it', async () => {
      const id = randomUUID();
      t.jobs.seed({ id });
      await http().post(`/v1/jobs/${id}/cancel`).expect(202);
      expect(t.temporal.started.map((s) => s.options.workflowId)).toEqual([`job-${id}`]);
      expect(t.temporal.cancelled).toEqual([`job-${id}`]);
    });

    it('answers 409 when the workflow closed between the read and the cancel, starting nothing', async () => {
      const id = randomUUID();
      const record = t.jobs.seed({ id, state: 'RUNNING' });
      await t.temporal.workflow.start('jobWorkflow', { taskQueue: CONTROL_TASK_QUEUE, workflowId: `job-${id}`, args: [], typedSearchAttributes: [] });
      t.temporal.cancelError = FakeTemporalClient.notFound(`job-${id}`);
      const original = t.jobs.findById.bind(t.jobs);
      let reads = 0;
      t.jobs.findById = async (tenantId, jobId) => {
        reads += 1;
        if (reads > 1) record.job.state = 'SUCCEEDED';
        return original(tenantId, jobId);
      };
      const response = await http().post(`/v1/jobs/${id}/cancel`).expect(409);
      expect(response.body.error.code).toBe('job_already_finished');
      expect(t.temporal.started).toHaveLength(1);
    });

    it('writes the allow row before the cancel goes out: an audit write that fails sends no cancel', async () => {
      const id = randomUUID();
      t.jobs.seed({ id, state: 'RUNNING' });
      t.audit.failing = true;
      await http().post(`/v1/jobs/${id}/cancel`).expect(500);
      expect(t.temporal.cancelled).toEqual([]);
      t.audit.failing = false;
      await http().post(`/v1/jobs/${id}/cancel`).expect(202);
      expect(t.audit.events).toEqual([expect.objectContaining({ action: 'job.cancel', result: 'allow', resource: `job/${id}` })]);
      expect(t.temporal.cancelled).toEqual([`job-${id}`]);
    });

    it('answers 503 when Temporal is unreachable', async () => {
      const id = randomUUID();
      t.jobs.seed({ id });
      t.temporal.cancelError = new Error('14 UNAVAILABLE');
      const response = await http().post(`/v1/jobs/${id}/cancel`).expect(503);
      expect(response.body.error.code).toBe('dependency_unavailable');
    });

    it('answers 404 for an unknown job and 400 for a non-UUID id', async () => {
      expect((await http().post(`/v1/jobs/${randomUUID()}/cancel`).expect(404)).body.error.code).toBe('job_not_found');
      expect((await http().post('/v1/jobs/nope/cancel').expect(400)).body.error.code).toBe('validation_failed');
    });
  });
});
