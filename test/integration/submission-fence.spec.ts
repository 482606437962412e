import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { JobsRepository, type NewJob } from '@mlis/db';
import { poll } from './support/api';
import { createLedgerDatabase } from './support/ledger-db';

// The API starts a job's workflow inside the transaction that inserts the job's row, so the workflow's first ledger
// call can run before the commit. It waits on the submission fence instead of retrying on a timer.
describe('the submission fence', () => {
  let dataSource: DataSource;
  let jobs: JobsRepository;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ dataSource, drop } = await createLedgerDatabase('mlis_fence'));
    jobs = new JobsRepository(dataSource);
  });

  afterAll(async () => {
    await drop?.();
  });

  const newJob = (): NewJob => ({
    id: randomUUID(),
    tenantId: 'default',
    submittedBy: 'fence',
    taskType: 'sleep',
    params: { seconds: 0 },
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
  });

  const rowExists = async (id: string): Promise<boolean> => (await dataSource.query(`SELECT 1 FROM jobs WHERE id = $1`, [id])).length === 1;
  // Another connection blocked on the fence shows as an advisory lock in this database not granted.
  const waitingOnFence = async (): Promise<true | undefined> =>
    (
      await dataSource.query(
        `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      )
    ).length > 0
      ? true
      : undefined;

  it('holds a reader until the submission commits, then the row is there', async () => {
    const job = newJob();
    let reader: Promise<boolean> | undefined;
    await jobs.insert(job, async () => {
      reader = jobs.awaitSubmission(job.id).then(() => rowExists(job.id));
      await poll('a reader blocked on the submission fence', waitingOnFence);
    });
    expect(await reader).toBe(true);
  });

  it('releases the reader when the submission rolls back, and the row never appears', async () => {
    const job = newJob();
    let reader: Promise<boolean> | undefined;
    await expect(
      jobs.insert(job, async () => {
        reader = jobs.awaitSubmission(job.id).then(() => rowExists(job.id));
        await poll('a reader blocked on the submission fence', waitingOnFence);
        throw new Error('Temporal refused the start');
      }),
    ).rejects.toThrow('Temporal refused the start');
    expect(await reader).toBe(false);
  });

  it('lets a reader through at once when no submission is in flight', async () => {
    await jobs.awaitSubmission(randomUUID());
    expect(await waitingOnFence()).toBeUndefined();
  });
});
