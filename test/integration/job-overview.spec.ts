import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { JobsRepository } from '@mlis/db';
import { createLedgerDatabase } from './support/ledger-db';

// The console overview's job figures against real Postgres: what is live now, and what finished within each window.
describe("the overview's job counts and attention lists", () => {
  let dataSource: DataSource;
  let jobs: JobsRepository;
  let drop: (() => Promise<void>) | undefined;
  const now = Date.now();
  const ago = (ms: number) => new Date(now - ms);
  const HOUR = 3600_000;

  beforeAll(async () => {
    ({ dataSource, drop } = await createLedgerDatabase('mlis_job_overview', 4));
    jobs = new JobsRepository(dataSource);
    await dataSource.query(`INSERT INTO tenants (id, name) VALUES ('other', 'Other')`);
  });

  afterAll(async () => {
    await drop?.();
  });

  async function insert(state: string, createdAt: Date, finishedAt: Date | null, extra: { tenant?: string; errorCode?: string } = {}): Promise<string> {
    const id = randomUUID();
    await dataSource.query(
      `INSERT INTO jobs (id, tenant_id, submitted_by, task_type, params, cpu_millis, mem_mb, gpu, state, max_attempts, timeout_seconds, created_at, finished_at, error)
       VALUES ($1, $2, 'test', 'sleep', '{}', 1000, 256, 0, $3, 3, 60, $4, $5, $6)`,
      [id, extra.tenant ?? 'default', state, createdAt, finishedAt, extra.errorCode ? JSON.stringify({ code: extra.errorCode, message: 'x' }) : null],
    );
    return id;
  }

  it('counts QUEUED and RUNNING jobs of any age, final ones only since the window, and only the tenant’s own', async () => {
    const oldestQueued = await insert('QUEUED', ago(90 * 24 * HOUR), null);
    await insert('QUEUED', ago(10_000), null);
    await insert('RUNNING', ago(30 * 24 * HOUR), null);
    await insert('SUCCEEDED', ago(3 * HOUR), ago(2 * HOUR));
    await insert('SUCCEEDED', ago(40 * 24 * HOUR), ago(40 * 24 * HOUR));
    const recentlyExhausted = await insert('FAILED', ago(2 * HOUR), ago(30 * 60_000), { errorCode: 'MaxAttemptsExhausted' });
    await insert('FAILED', ago(5 * HOUR), ago(5 * HOUR), { errorCode: 'RunnerError' });
    await insert('FAILED', ago(3 * 24 * HOUR), ago(3 * 24 * HOUR), { errorCode: 'MaxAttemptsExhausted' });
    await insert('CANCELLED', ago(2 * 24 * HOUR), ago(2 * 24 * HOUR));
    await insert('QUEUED', ago(100 * 24 * HOUR), null, { tenant: 'other' });
    await insert('FAILED', ago(HOUR), ago(10_000), { tenant: 'other' });

    expect(Object.fromEntries(await jobs.countByState('default', ago(24 * HOUR)))).toEqual({ QUEUED: 2, RUNNING: 1, SUCCEEDED: 1, FAILED: 2 });
    const health = await jobs.health('default', { waitingSince: ago(60_000), failedSince: ago(HOUR), exhaustedSince: ago(24 * HOUR), limit: 5 });
    expect(health).toMatchObject({ oldestQueuedAt: ago(90 * 24 * HOUR), failedSince: 1 });
    expect(health.waitingLong.map((job) => job.id)).toEqual([oldestQueued]);
    expect(health.exhausted.map((job) => job.id)).toEqual([recentlyExhausted]);
    expect(await jobs.health('nobody', { waitingSince: ago(0), failedSince: ago(HOUR), exhaustedSince: ago(HOUR), limit: 5 })).toEqual({
      oldestQueuedAt: null,
      failedSince: 0,
      waitingLong: [],
      exhausted: [],
    });
  });
});
