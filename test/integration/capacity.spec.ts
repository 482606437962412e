import { api, submit, TERMINAL, waitForJob, withDb } from './support/api';

interface Interval {
  node_id: string;
  start: number;
  end: number;
  cpu_millis: number;
  mem_mb: number;
  gpus: number;
}

/** The most that was ever reserved at once on each node, from the assignments' recorded lifetimes. */
function peakUsage(intervals: Interval[]): Map<string, { slots: number; cpu: number; mem: number; gpus: number }> {
  const peaks = new Map<string, { slots: number; cpu: number; mem: number; gpus: number }>();
  for (const probe of intervals) {
    const overlapping = intervals.filter((i) => i.node_id === probe.node_id && i.start <= probe.start && probe.start < i.end);
    const usage = {
      slots: overlapping.length,
      cpu: overlapping.reduce((sum, i) => sum + i.cpu_millis, 0),
      mem: overlapping.reduce((sum, i) => sum + i.mem_mb, 0),
      gpus: overlapping.reduce((sum, i) => sum + i.gpus, 0),
    };
    const peak = peaks.get(probe.node_id) ?? { slots: 0, cpu: 0, mem: 0, gpus: 0 };
    peaks.set(probe.node_id, {
      slots: Math.max(peak.slots, usage.slots),
      cpu: Math.max(peak.cpu, usage.cpu),
      mem: Math.max(peak.mem, usage.mem),
      gpus: Math.max(peak.gpus, usage.gpus),
    });
  }
  return peaks;
}

describe('the capacity ledger under concurrent submissions', () => {
  jest.setTimeout(240_000);

  it('50 concurrent jobs on limited capacity never over-commit a node and leave the ledger empty', async () => {
    // 3 cores each: one job per cpu node at a time, GPU jobs need one GPU id each.
    const requests = Array.from({ length: 50 }, (_, i) =>
      i % 5 === 0
        ? { task_type: 'gpu_demo', params: { seconds: 0.5 }, cpu: 1, mem_mb: 1024, gpu: 1 }
        : { task_type: 'sleep', params: { seconds: 0.5 }, cpu: 3, mem_mb: 512, gpu: 0 },
    );
    const accepted = await Promise.all(requests.map((request) => submit(request)));
    const jobs = await Promise.all(accepted.map((j) => waitForJob(j.id, (x) => TERMINAL.includes(x.state), 200_000)));
    expect(jobs.map((j) => j.state)).toEqual(jobs.map(() => 'SUCCEEDED'));

    const ids = accepted.map((j) => j.id);
    const { nodes, intervals, gpuPairs } = await withDb(async (db) => ({
      nodes: (await db.query(`SELECT id, slots, cpu_millis, mem_mb, gpu_count FROM nodes`)).rows,
      intervals: (
        await db.query(
          `SELECT node_id, extract(epoch FROM created_at) * 1000 AS start, extract(epoch FROM ended_at) * 1000 AS end,
                  cpu_millis, mem_mb, cardinality(gpu_ids) AS gpus
           FROM job_assignments WHERE job_id = ANY($1)`,
          [ids],
        )
      ).rows.map((r) => ({ ...r, start: Number(r.start), end: Number(r.end) })) as Interval[],
      gpuPairs: (
        await db.query(
          `SELECT a.node_id, g AS gpu, a.created_at, a.ended_at FROM job_assignments a, unnest(a.gpu_ids) g WHERE a.job_id = ANY($1)`,
          [ids],
        )
      ).rows,
    }));
    expect(intervals).toHaveLength(50);
    for (const [nodeId, peak] of peakUsage(intervals)) {
      const node = nodes.find((n) => n.id === nodeId)!;
      expect(peak.slots).toBeLessThanOrEqual(node.slots);
      expect(peak.cpu).toBeLessThanOrEqual(node.cpu_millis);
      expect(peak.mem).toBeLessThanOrEqual(node.mem_mb);
      expect(peak.gpus).toBeLessThanOrEqual(node.gpu_count);
    }
    // Never two live assignments on one GPU id.
    for (const a of gpuPairs) {
      const clashes = gpuPairs.filter(
        (b) => b !== a && b.node_id === a.node_id && b.gpu === a.gpu && b.created_at < a.ended_at && a.created_at < b.ended_at,
      );
      expect(clashes).toEqual([]);
    }

    const leftovers = await withDb(async (db) => ({
      counters: (await db.query(`SELECT id FROM nodes WHERE used_slots + used_cpu_millis + used_mem_mb + used_gpus <> 0`)).rows,
      reservations: (await db.query(`SELECT count(*)::int AS n FROM gpu_reservations`)).rows[0].n,
      live: (await db.query(`SELECT count(*)::int AS n FROM job_assignments WHERE state IN ('PLACED', 'RUNNING')`)).rows[0].n,
    }));
    expect(leftovers).toEqual({ counters: [], reservations: 0, live: 0 });
  });

  it('the database itself refuses a counter past capacity', async () => {
    await withDb(async (db) => {
      await expect(db.query(`UPDATE nodes SET used_slots = slots + 1 WHERE id = 'cpu-1'`)).rejects.toThrow(
        /nodes_used_slots_within_capacity/,
      );
      await expect(db.query(`UPDATE nodes SET used_gpus = gpu_count + 1 WHERE id = 'gpu-1'`)).rejects.toThrow(
        /nodes_used_gpus_within_capacity/,
      );
      const { rows } = await db.query(`SELECT used_slots FROM nodes WHERE id = 'cpu-1'`);
      expect(rows[0].used_slots).toBe(0);
    });
  });

  it('a job that does not fit now waits with a pending reason and runs when capacity frees', async () => {
    const blockers = await Promise.all(
      ['gpu-1', 'gpu-2'].map(() => submit({ task_type: 'gpu_demo', params: { seconds: 4 }, cpu: 1, mem_mb: 256, gpu: 2 })),
    );
    await Promise.all(blockers.map((b) => waitForJob(b.id, (j) => j.state === 'RUNNING')));
    const waiting = await submit({ task_type: 'gpu_demo', params: { seconds: 0.2 }, cpu: 1, mem_mb: 256, gpu: 2 });
    // "queued": no scheduling cycle has looked at it yet; wait for the cycle's explanation.
    const pending = await waitForJob(waiting.id, (j) => j.pending_reason !== null && j.pending_reason !== 'queued');
    expect(pending).toMatchObject({ state: 'QUEUED', pending_reason: 'insufficient_capacity' });
    expect(pending.pending_detail).toMatch(/gpu/);
    const done = await waitForJob(waiting.id, (j) => TERMINAL.includes(j.state));
    expect(done.state).toBe('SUCCEEDED');
    // Woken by the capacity signal, not by the 30 s safety-net timer of the test stack.
    const freed = await Promise.all(blockers.map((b) => waitForJob(b.id, (j) => TERMINAL.includes(j.state))));
    const firstRelease = Math.min(...freed.map((j) => Date.parse(j.latest_assignment.ended_at)));
    expect(Date.parse(done.latest_assignment.created_at) - firstRelease).toBeLessThan(30_000);
    const { body } = await api('GET', `/v1/jobs/${waiting.id}`);
    expect(body.pending_reason).toBeNull();
  });
});
