import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import { getJobStatusQuery, JOB_WORKFLOW_VERSION, jobWorkflowId, SEARCH_ATTRIBUTES, type JobWorkflowInput } from '@mlis/contracts';
import { createDataSource, JobsRepository, type NewJob } from '@mlis/db';
import { api, env, poll, submit, tokenFor, waitForJob } from './support/api';

// The API places a new job before it starts the job's workflow, and starts it with that placement (ADR 0031).
describe('a job placed before its workflow started', () => {
  let temporal: Client;

  beforeAll(async () => {
    temporal = new Client({ connection: await Connection.connect({ address: env.temporalAddress }) });
  });

  afterAll(async () => {
    await temporal.connection.close();
  });

  it('runs from the placement in its workflow input: the first task dispatches it, 13 history events', async () => {
    // Nothing else runs between suites, so a cycle places this job at its first look.
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 0.05 } });
    const job = await waitForJob(accepted.id, (j) => j.state === 'SUCCEEDED');
    expect(job.assignments).toHaveLength(1);
    const [assignment] = job.assignments;

    const handle = temporal.workflow.getHandle(jobWorkflowId(job.id));
    const events = (await handle.fetchHistory()).events ?? [];
    const [payload] = events[0].workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
    const input = JSON.parse(Buffer.from(payload.data!).toString('utf8')) as JobWorkflowInput;
    expect(input.workflowVersion).toBe(JOB_WORKFLOW_VERSION);
    expect(input.placement).toMatchObject({ assignmentId: assignment.id, attempt: 1, nodeId: assignment.node_id, group: assignment.group });
    const scheduledAt = events.findIndex((event) => event.activityTaskScheduledEventAttributes);
    expect(events.slice(0, scheduledAt).filter((event) => event.markerRecordedEventAttributes)).toEqual([]);
    expect(events).toHaveLength(13);
    const attributes = (await handle.describe()).typedSearchAttributes;
    expect([attributes.get(SEARCH_ATTRIBUTES.state), attributes.get(SEARCH_ATTRIBUTES.node)]).toEqual(['SUCCEEDED', assignment.node_id]);
  });

  it('answers its status query while it runs, and no stack trace query: control records no promise stack traces (ADR 0044)', async () => {
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 3 } });
    await waitForJob(accepted.id, (j) => j.state === 'RUNNING');
    const handle = temporal.workflow.getHandle(jobWorkflowId(accepted.id));
    await expect(handle.query(getJobStatusQuery)).resolves.toMatchObject({ state: 'RUNNING', attempt: 1 });
    await expect(handle.query('__stack_trace')).rejects.toThrow('Workflow stack traces are not enabled on this worker');
    expect((await waitForJob(accepted.id, (j) => j.state !== 'RUNNING')).state).toBe('SUCCEEDED');
  });
});

// The API starts a job's workflow after the job's row has committed, without waiting for the start (ADR 0027). These
// jobs are inserted as the API inserts them, but nothing starts their workflows: what an API that died between its
// commit and the start leaves behind.
describe('a job whose workflow never started', () => {
  jest.setTimeout(120_000);
  let dataSource: DataSource;
  let jobs: JobsRepository;

  beforeAll(async () => {
    dataSource = await createDataSource(env.databaseUrl, 2).initialize();
    jobs = new JobsRepository(dataSource);
  });

  afterAll(async () => {
    await dataSource.destroy();
  });

  const acceptedWithoutWorkflow = async (seconds: number): Promise<string> => {
    const job: NewJob = {
      id: randomUUID(),
      tenantId: 'default',
      submittedBy: 'it-user',
      taskType: 'sleep',
      params: { seconds },
      paramsArtifactId: null,
      paramsSha256: null,
      cpuMillis: 1000,
      memMb: 256,
      gpu: 0,
      priority: 0,
      priorityClass: null,
      mayPreempt: false,
      workerGroup: null,
      nodeSelector: {},
      gpuModel: null,
      gpuMemoryMb: null,
      maxAttempts: 3,
      timeoutSeconds: 60,
      idempotencyKey: null,
      requestId: null,
    };
    await jobs.insert(job, {
      requestId: 'workflow-start-spec',
      actorTenant: job.tenantId,
      actorSubject: job.submittedBy,
      targetTenant: job.tenantId,
      action: 'job.submit',
      resource: `job/${job.id}`,
      result: 'allow',
      reason: null,
    });
    return job.id;
  };

  it('runs once a scheduling cycle has placed it: the stale-placement check starts its workflow', async () => {
    const id = await acceptedWithoutWorkflow(0.1);
    const job = await waitForJob(id, (j) => j.state === 'SUCCEEDED', 90_000);
    expect(job.assignments).toHaveLength(1);
    expect(job.latest_assignment.state).toBe('SUCCEEDED');
  });

  it('is cancelled on request: the API starts its workflow, then cancels it', async () => {
    // Long enough that a cycle placing it before the cancel arrives cannot let it finish first.
    const id = await acceptedWithoutWorkflow(60);
    const response = await api('POST', `/v1/jobs/${id}/cancel`);
    expect(response.status).toBe(202);
    const job = await waitForJob(id, (j) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(j.state), 60_000);
    expect(job.state).toBe('CANCELLED');
  });
});

// An operator terminated a job's workflow (Temporal Web UI or CLI): control ends the job at its next tick (ADR 0042).
describe('a job whose workflow was terminated', () => {
  jest.setTimeout(120_000);
  let temporal: Client;
  let dataSource: DataSource;

  beforeAll(async () => {
    temporal = new Client({ connection: await Connection.connect({ address: env.temporalAddress }) });
    dataSource = await createDataSource(env.databaseUrl, 2).initialize();
  });

  afterAll(async () => {
    await temporal.connection.close();
    await dataSource.destroy();
  });

  it('ends FAILED (WorkflowGone) within a control tick, not after its 900 s timeout, and gives the node its capacity back', async () => {
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 600 }, timeout_seconds: 900 });
    const running = await waitForJob(accepted.id, (j) => j.latest_assignment?.state === 'RUNNING');
    const nodeId = running.latest_assignment.node_id;
    const terminatedAt = Date.now();
    await temporal.workflow.getHandle(jobWorkflowId(accepted.id)).terminate('operator test');

    const failed = await waitForJob(accepted.id, (j) => j.state !== 'RUNNING', 60_000);
    console.log(`terminated workflow: job FAILED ${((Date.parse(failed.finished_at) - terminatedAt) / 1000).toFixed(1)} s after the termination`);
    expect(failed.state).toBe('FAILED');
    expect(failed.error).toMatchObject({ code: 'WorkflowGone' });
    expect(failed.latest_assignment).toMatchObject({ state: 'FAILED', reason: 'its job workflow closed without ending it (terminated or timed out)' });
    // The control tick is 5 s here; the job's timeout, the only other way out, is 900 s.
    expect(Date.parse(failed.finished_at) - terminatedAt).toBeLessThan(30_000);
    const [live] = await dataSource.query(`SELECT count(*)::int AS n FROM job_assignments WHERE node_id = $1 AND state IN ('PLACED', 'RUNNING')`, [nodeId]);
    const [node] = await dataSource.query(`SELECT used_slots FROM nodes WHERE id = $1`, [nodeId]);
    expect(node.used_slots).toBe(live.n);
  });

  it('ends a waiting job whose workflow was terminated before any placement', async () => {
    // A tenant allowed one running job: its second waits (quota_exceeded), its workflow waiting with it.
    const tenant = `terminated-${randomUUID().slice(0, 8)}`;
    expect((await api('POST', '/v1/tenants', { id: tenant, max_running_jobs: 1 })).status).toBe(201);
    const as = { authorization: `Bearer ${tokenFor({ tenant, sub: `${tenant}-user`, scopes: ['jobs:submit', 'jobs:read', 'jobs:cancel'] })}` };
    const first = await submit({ task_type: 'sleep', params: { seconds: 600 } }, as);
    const waiting = await submit({ task_type: 'sleep', params: { seconds: 1 } }, as);
    const read = async (id: string) => (await api('GET', `/v1/jobs/${id}`, undefined, as)).body;
    await poll('the second job waiting for its tenant', async () => ((await read(waiting.id)).pending_reason === 'quota_exceeded' ? true : undefined));
    // The API starts the workflow after the submission's answer (ADR 0027): terminate it once it runs.
    const handle = temporal.workflow.getHandle(jobWorkflowId(waiting.id));
    await poll('the waiting job’s workflow started', async () => ((await handle.describe()).status.name === 'RUNNING' ? true : undefined));
    await handle.terminate('operator test');

    const failed = await poll('the waiting job ended', async () => {
      const job = await read(waiting.id);
      return job.state === 'QUEUED' ? undefined : job;
    });
    expect(failed).toMatchObject({ state: 'FAILED', error: { code: 'WorkflowGone' } });
    expect((await api('POST', `/v1/jobs/${first.id}/cancel`, undefined, as)).status).toBe(202);
  });
});
