import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { createDataSource, JobsRepository, type NewJob } from '@mlis/db';
import { api, env, waitForJob } from './support/api';

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
