import { randomUUID } from 'node:crypto';
import { api, poll, submit, TERMINAL, tokenFor, waitForJob, withDb } from './support/api';

// The test stack's GPU nodes: gpu-1 and gpu-2, two GPUs each. Classes are the default MLIS_PRIORITY_CLASSES.
describe('priorities and preemption on the real stack', () => {
  jest.setTimeout(120_000);
  const started: string[] = [];

  afterAll(async () => {
    for (const id of started) await api('POST', `/v1/jobs/${id}/cancel`);
    for (const id of started) await waitForJob(id, (j) => TERMINAL.includes(j.state));
  });

  async function submitJob(job: Record<string, unknown>): Promise<string> {
    const accepted = await submit({ task_type: 'sleep', cpu: 1, mem_mb: 256, ...job });
    started.push(accepted.id);
    return accepted.id as string;
  }

  it('an urgent job evicts a low-priority one (PREEMPTED, re-queued, not failed); a high but non-preempting job only waits', async () => {
    const low = [await submitJob({ gpu: 2, priority_class: 'low', params: { seconds: 120 } }), await submitJob({ gpu: 2, priority_class: 'low', params: { seconds: 120 } })];
    for (const id of low) await waitForJob(id, (j) => j.latest_assignment?.state === 'RUNNING');

    const high = await submitJob({ gpu: 2, priority_class: 'high', params: { seconds: 1 } });
    const waiting = await waitForJob(high, (j) => j.pending_reason === 'insufficient_capacity');
    expect(waiting).toMatchObject({ state: 'QUEUED', priority: 10, queue_position: 1 });

    const urgent = await submitJob({ gpu: 2, priority_class: 'urgent', params: { seconds: 1 } });
    const done = await waitForJob(urgent, (j) => TERMINAL.includes(j.state));
    expect(done).toMatchObject({ state: 'SUCCEEDED', attempts: 1 });

    // Exactly one low job gave way, for the urgent one; it is back in the queue with a new attempt.
    const rows = await withDb(
      async (db) =>
        (
          await db.query(
            `SELECT job_id, attempt, state, preempted_by FROM job_assignments WHERE job_id = ANY($1::uuid[]) AND preempted_by IS NOT NULL`,
            [[...low, high]],
          )
        ).rows,
    );
    expect(rows).toEqual([{ job_id: expect.any(String), attempt: 1, state: 'PREEMPTED', preempted_by: urgent }]);
    const victim = rows[0].job_id as string;
    expect(low).toContain(victim);
    const requeued = await waitForJob(victim, (j) => j.assignments[0]?.state === 'PREEMPTED');
    expect(['QUEUED', 'RUNNING']).toContain(requeued.state);
    expect(requeued.assignments[0]).toMatchObject({ attempt: 1, state: 'PREEMPTED', preempted_by: urgent });
    expect(requeued.error).toBeNull();

    // The freed GPUs go to the high job next (priority 10 before the re-queued low job's -10).
    expect((await waitForJob(high, (j) => TERMINAL.includes(j.state))).state).toBe('SUCCEEDED');
    const lowAgain = await waitForJob(victim, (j) => j.assignments.length === 2 && j.latest_assignment.state === 'RUNNING');
    expect(lowAgain).toMatchObject({ state: 'RUNNING', attempts: 2 });
  });

  it("shows a victim the job it gave way to only when that job is its own tenant's", async () => {
    // The GPUs free again: the last test's jobs are done with.
    for (const id of started.splice(0)) {
      await api('POST', `/v1/jobs/${id}/cancel`);
      await waitForJob(id, (j) => TERMINAL.includes(j.state));
    }
    const other = `preempt-other-${Date.now()}`;
    expect((await api('POST', '/v1/tenants', { id: other, name: other })).status).toBe(201);
    const low = [await submitJob({ gpu: 2, priority_class: 'low', params: { seconds: 120 } }), await submitJob({ gpu: 2, priority_class: 'low', params: { seconds: 120 } })];
    for (const id of low) await waitForJob(id, (j) => j.latest_assignment?.state === 'RUNNING');

    const asOther = { authorization: `Bearer ${tokenFor({ tenant: other })}` };
    const urgent = (await submit({ task_type: 'sleep', cpu: 1, mem_mb: 256, gpu: 2, priority_class: 'urgent', params: { seconds: 1 } }, asOther)).id as string;
    const [victim] = await poll('the victim of the other tenant\'s job', async () => {
      const rows = await withDb(async (db) => (await db.query(`SELECT job_id FROM job_assignments WHERE preempted_by = $1`, [urgent])).rows);
      return rows.length > 0 ? rows.map((row) => row.job_id as string) : undefined;
    });
    expect(low).toContain(victim);
    const requeued = await waitForJob(victim, (j) => j.assignments[0]?.state === 'PREEMPTED');
    // The ledger knows the preemptor; the victim's tenant is not shown another tenant's job id.
    expect(requeued.assignments[0]).toMatchObject({ attempt: 1, state: 'PREEMPTED', preempted_by: null });
    expect(JSON.stringify(requeued)).not.toContain(urgent);
  });

  it('asks a victim again when its request never reached the workflow: control resends a stale preemption request', async () => {
    const victim = await submitJob({ priority_class: 'low', params: { seconds: 120 } });
    await waitForJob(victim, (j) => j.latest_assignment?.state === 'RUNNING');
    // The job it gives way to, still waiting: a row no node could take (more CPU than any has), so no cycle places it,
    // and without a workflow, so nothing else moves it.
    const preemptor = randomUUID();
    await withDb((db) =>
      db.query(
        `INSERT INTO jobs (id, tenant_id, submitted_by, task_type, params, cpu_millis, mem_mb, gpu, priority, may_preempt, node_selector,
                           state, max_attempts, timeout_seconds)
         VALUES ($1, 'default', 'it-preemption', 'sleep', '{}', 1000000, 256, 0, 100, true, '{}', 'QUEUED', 1, 60)`,
        [preemptor],
      ),
    );
    try {
      // A cycle's request as the ledger holds it when the signal found no workflow (placed, not started yet) or no Temporal.
      const marked = await withDb(
        async (db) =>
          (
            await db.query(
              `UPDATE job_assignments SET preempt_requested_at = now() - interval '1 minute', preempted_by = $2
               WHERE job_id = $1 AND state = 'RUNNING' RETURNING attempt`,
              [victim, preemptor],
            )
          ).rows,
      );
      expect(marked).toEqual([{ attempt: 1 }]);

      // Control's periodic tick (every 5 s here) sends the request; the attempt gives its place back and the job runs again.
      const requeued = await waitForJob(victim, (j) => j.assignments[0]?.state === 'PREEMPTED', 45_000);
      expect(requeued.assignments[0]).toMatchObject({ attempt: 1, state: 'PREEMPTED' });
      expect(requeued.error).toBeNull();
      const again = await waitForJob(victim, (j) => j.assignments.length === 2 && j.latest_assignment.state === 'RUNNING');
      expect(again).toMatchObject({ state: 'RUNNING', attempts: 2 });
    } finally {
      await withDb((db) => db.query(`UPDATE jobs SET state = 'CANCELLED', pending_reason = NULL, finished_at = now() WHERE id = $1`, [preemptor]));
    }
  });

  it('withdraws a stale request whose preemptor no longer waits, and the victim runs on', async () => {
    const victim = await submitJob({ priority_class: 'low', params: { seconds: 120 } });
    await waitForJob(victim, (j) => j.latest_assignment?.state === 'RUNNING');
    // Asked to give way to a job that has since ended: the request never reached the workflow (no Temporal, say).
    const gone = await submitJob({ params: { seconds: 0.1 } });
    await waitForJob(gone, (j) => TERMINAL.includes(j.state));
    await withDb((db) =>
      db.query(`UPDATE job_assignments SET preempt_requested_at = now() - interval '1 minute', preempted_by = $2 WHERE job_id = $1 AND state = 'RUNNING'`, [
        victim,
        gone,
      ]),
    );
    // Control's periodic tick (every 5 s here) withdraws it instead of evicting the victim.
    await poll('the request withdrawn', async () =>
      withDb(async (db) => {
        const { rows } = await db.query(`SELECT preempt_requested_at FROM job_assignments WHERE job_id = $1 AND state = 'RUNNING'`, [victim]);
        return rows.length === 1 && rows[0].preempt_requested_at === null ? true : undefined;
      }), { timeoutMs: 45_000 },
    );
    const after = await api('GET', `/v1/jobs/${victim}`);
    expect(after.body).toMatchObject({ state: 'RUNNING', attempts: 1 });
    expect(after.body.assignments).toHaveLength(1);
  });
});
