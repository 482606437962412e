import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { JobsRepository, TenantsRepository, type AssignmentsRepository } from '@mlis/db';
import { JobRetention } from '../../apps/control/job-retention';
import { createLedgerDatabase, ledgerInvariantViolations } from './support/ledger-db';

// Jobs finished longer ago than MLIS_JOB_RETENTION_DAYS go, with their attempts and artifact links (ADR 0036).
describe('job retention', () => {
  let dataSource: DataSource;
  let assignments: AssignmentsRepository;
  let drop: (() => Promise<void>) | undefined;
  let lines: string[];
  const now = new Date();
  const daysAgo = (days: number) => new Date(now.getTime() - days * 24 * 3600 * 1000);
  const retention = (days: number) =>
    new JobRetention(new JobsRepository(dataSource), new TenantsRepository(dataSource), days, 60_000, (line) => lines.push(line));

  beforeAll(async () => {
    ({ dataSource, assignments, drop } = await createLedgerDatabase('mlis_job_retention', 4));
    await dataSource.query(`INSERT INTO tenants (id, name) VALUES ('other', 'Other')`);
  });

  afterAll(async () => {
    await drop?.();
  });

  beforeEach(() => {
    lines = [];
  });

  afterEach(async () => {
    expect(await ledgerInvariantViolations(dataSource)).toEqual({});
  });

  async function job(state: string, finishedAt: Date | null, tenant = 'default'): Promise<string> {
    const id = randomUUID();
    await dataSource.query(
      `INSERT INTO jobs (id, tenant_id, submitted_by, task_type, params, cpu_millis, mem_mb, gpu, state, attempts, max_attempts, timeout_seconds, created_at, finished_at)
       VALUES ($1, $2, 'test', 'sleep', '{}', 1000, 256, 0, $3, 1, 3, 60, $4, $5)`,
      [id, tenant, state, finishedAt ?? daysAgo(90), finishedAt],
    );
    return id;
  }

  async function attempt(jobId: string, state: string, extra: { preemptedBy?: string; reason?: string } = {}): Promise<void> {
    await dataSource.query(
      `INSERT INTO job_assignments (id, job_id, attempt, node_id, node_incarnation, group_name, slots, cpu_millis, mem_mb, state, reason, preempted_by, ended_at)
       VALUES ($1, $2, 1, 'gone-node', 1, 'cpu', 1, 1000, 256, $3, $4, $5, now())`,
      [randomUUID(), jobId, state, extra.reason ?? null, extra.preemptedBy ?? null],
    );
  }

  const ids = async (): Promise<string[]> => (await dataSource.query(`SELECT id FROM jobs ORDER BY id`)).map((row: { id: string }) => row.id);

  it('deletes finished jobs past the retention with their attempts and links, keeps the rest and the artifacts, audits each tenant', async () => {
    const old = await job('SUCCEEDED', daysAgo(40));
    await attempt(old, 'SUCCEEDED');
    const artifactId = randomUUID();
    await dataSource.query(
      `INSERT INTO artifacts (id, tenant_id, name, content_type, size_bytes, sha256, created_by) VALUES ($1, 'default', 'in.txt', 'text/plain', 1, $2, 'test')`,
      [artifactId, 'a'.repeat(64)],
    );
    await dataSource.query(`INSERT INTO job_artifacts (job_id, artifact_id, role) VALUES ($1, $2, 'input')`, [old, artifactId]);
    // An old preemptor, whose victim's job is still waiting: the victim's attempt keeps its reason.
    const preemptor = await job('SUCCEEDED', daysAgo(35));
    const victim = await job('QUEUED', null);
    await attempt(victim, 'PREEMPTED', { preemptedBy: preemptor, reason: 'preempted by a job of priority 100' });
    await job('FAILED', daysAgo(31), 'other');
    const recent = await job('CANCELLED', daysAgo(29));
    const running = await job('RUNNING', null);

    expect(await retention(30).sweep(now)).toBe(3);
    expect(await ids()).toEqual([victim, recent, running].sort());
    expect(await dataSource.query(`SELECT count(*)::int AS n FROM job_assignments WHERE job_id = $1`, [old])).toEqual([{ n: 0 }]);
    expect(await dataSource.query(`SELECT count(*)::int AS n FROM job_artifacts WHERE job_id = $1`, [old])).toEqual([{ n: 0 }]);
    expect(await dataSource.query(`SELECT count(*)::int AS n FROM artifacts WHERE id = $1`, [artifactId])).toEqual([{ n: 1 }]);
    expect(await dataSource.query(`SELECT state, reason, preempted_by FROM job_assignments WHERE job_id = $1`, [victim])).toEqual([
      { state: 'PREEMPTED', reason: 'preempted by a job of priority 100', preempted_by: null },
    ]);
    const before = daysAgo(30).toISOString();
    expect(
      await dataSource.query(`SELECT actor_subject, target_tenant, action, resource, reason FROM audit_events WHERE action = 'job.expire' ORDER BY target_tenant`),
    ).toEqual([
      { actor_subject: 'control', target_tenant: 'default', action: 'job.expire', resource: 'jobs', reason: `2 job(s) finished before ${before}` },
      { actor_subject: 'control', target_tenant: 'other', action: 'job.expire', resource: 'jobs', reason: `1 job(s) finished before ${before}` },
    ]);
    expect(lines).toEqual([`deleted 3 job(s) finished before ${before} (MLIS_JOB_RETENTION_DAYS=30)`]);

    // A second pass finds nothing; retention 0 deletes nothing at all.
    expect(await retention(30).sweep(now)).toBe(0);
    expect(await retention(0).sweep(new Date(now.getTime() + 365 * 24 * 3600 * 1000))).toBe(0);
    expect(await ids()).toEqual([victim, recent, running].sort());
    await dataSource.query(`DELETE FROM job_assignments`);
    await dataSource.query(`DELETE FROM jobs`);
  });

  it('works through a backlog longer than a batch in one pass', async () => {
    await dataSource.query(
      `INSERT INTO jobs (id, tenant_id, submitted_by, task_type, params, cpu_millis, mem_mb, gpu, state, max_attempts, timeout_seconds, created_at, finished_at)
       SELECT gen_random_uuid(), 'default', 'test', 'sleep', '{}', 1000, 256, 0, 'SUCCEEDED', 3, 60, $1, $1 FROM generate_series(1, 1200)`,
      [daysAgo(10)],
    );
    expect(await retention(7).sweep(now)).toBe(1200);
    expect(await ids()).toEqual([]);
    const batches = await dataSource.query(`SELECT reason FROM audit_events WHERE action = 'job.expire' AND reason LIKE '% before ${daysAgo(7).toISOString()}'`);
    expect(batches.map((row: { reason: string }) => Number(row.reason.split(' ')[0])).sort((a: number, b: number) => a - b)).toEqual([200, 500, 500]);
  });

  it("counts each job's final state once as it ends, and the totals stay when retention deletes the job", async () => {
    const totals = async () =>
      Object.fromEntries(
        (await dataSource.query(`SELECT state, total::int AS total FROM job_outcomes WHERE tenant_id = 'other'`)).map((row: { state: string; total: number }) => [row.state, row.total]),
      );
    const before = await totals();
    const waiting = await job('QUEUED', null, 'other');
    await assignments.finishJob({ jobId: waiting, state: 'CANCELLED' });
    await assignments.finishJob({ jobId: waiting, state: 'CANCELLED' });
    expect(await totals()).toEqual({ ...before, CANCELLED: (before.CANCELLED ?? 0) + 1 });
    await dataSource.query(`UPDATE jobs SET finished_at = $2 WHERE id = $1`, [waiting, daysAgo(10)]);
    expect(await retention(7).sweep(now)).toBe(1);
    expect(await totals()).toEqual({ ...before, CANCELLED: (before.CANCELLED ?? 0) + 1 });
  });
});
