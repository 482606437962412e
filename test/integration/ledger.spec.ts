import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { LedgerRepository } from '../../libs/db';
import { createLedgerDatabase } from './support/ledger-db';

// The ledger alone against real Postgres, in a database of its own so the running stack's nodes stay out of it.
describe(LedgerRepository.name, () => {
  let dataSource: DataSource;
  let ledger: LedgerRepository;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ dataSource, ledger, drop } = await createLedgerDatabase('mlis_ledger', 20));
  });

  afterAll(async () => {
    await drop?.();
  });

  async function register(nodeId: string, group: string, slots: number, gpus = 0): Promise<number> {
    const { incarnation } = await ledger.registerNode({
      nodeId,
      group,
      hostname: 'test-host',
      pid: 1,
      slots,
      cpuMillis: slots * 1000,
      memMb: slots * 1024,
      gpus: Array.from({ length: gpus }, (_, index) => ({ index, model: 'simulated', memory_mb: 16384 })),
    });
    return incarnation;
  }

  async function insertJob(resources: { cpuMillis: number; memMb: number; gpu: number }): Promise<string> {
    const id = randomUUID();
    await dataSource.query(
      `INSERT INTO jobs (id, tenant_id, submitted_by, task_type, params, cpu_millis, mem_mb, gpu, state, max_attempts, timeout_seconds)
       VALUES ($1, 'default', 'test', 'sleep', '{}', $2, $3, $4, 'QUEUED', 3, 60)`,
      [id, resources.cpuMillis, resources.memMb, resources.gpu],
    );
    return id;
  }

  async function usage(nodeId: string) {
    const [row] = await dataSource.query(
      `SELECT used_slots, used_cpu_millis, used_mem_mb, used_gpus FROM nodes WHERE id = $1`,
      [nodeId],
    );
    return row;
  }

  it('40 concurrent placements onto 6 slots reserve exactly 6 and never two jobs on one GPU id', async () => {
    await register('race-gpu-1', 'gpu', 3, 3);
    await register('race-gpu-2', 'gpu', 3, 3);
    const jobs = await Promise.all(Array.from({ length: 40 }, () => insertJob({ cpuMillis: 1000, memMb: 512, gpu: 1 })));
    const results = await Promise.all(jobs.map((jobId) => ledger.placeJob({ jobId, attempt: 1, excludeNodeIds: [] }, 60)));

    const placed = results.filter((r) => r.placed);
    expect(placed).toHaveLength(6);
    const gpuKeys = placed.map((r) => (r.placed ? `${r.placement.nodeId}/${r.placement.gpuIds.join(',')}` : ''));
    expect(new Set(gpuKeys).size).toBe(6);
    expect(await usage('race-gpu-1')).toEqual({ used_slots: 3, used_cpu_millis: 3000, used_mem_mb: 1536, used_gpus: 3 });
    for (const r of results.filter((x) => !x.placed)) {
      expect(r).toMatchObject({ placed: false, pendingReason: 'insufficient_capacity' });
    }

    // Release everything: counters back to zero, no reservation left.
    for (const [i, r] of results.entries()) {
      if (!r.placed) continue;
      const written = await ledger.endAssignment({ jobId: jobs[i], attempt: 1, state: 'SUCCEEDED', jobState: 'SUCCEEDED', result: {} });
      expect(written).toEqual({ jobState: 'SUCCEEDED', released: true });
    }
    expect(await usage('race-gpu-1')).toEqual({ used_slots: 0, used_cpu_millis: 0, used_mem_mb: 0, used_gpus: 0 });
    const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM gpu_reservations`);
    expect(n).toBe(0);
    await dataSource.query(`UPDATE nodes SET status = 'DEAD' WHERE id LIKE 'race-%'`);
  });

  it('placing the same attempt twice returns the same placement and reserves once', async () => {
    await register('idem-1', 'cpu', 4);
    const jobId = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 });
    const first = await ledger.placeJob({ jobId, attempt: 1, excludeNodeIds: [] }, 60);
    const second = await ledger.placeJob({ jobId, attempt: 1, excludeNodeIds: [] }, 60);
    expect(second).toEqual(first);
    expect(await usage('idem-1')).toMatchObject({ used_slots: 1, used_cpu_millis: 1000 });

    // Ending it twice releases once; the job keeps the state of the first write.
    const end = { jobId, attempt: 1, state: 'LOST' as const, reason: 'test', jobState: 'QUEUED' as const };
    expect(await ledger.endAssignment(end)).toEqual({ jobState: 'QUEUED', released: true });
    expect(await ledger.endAssignment(end)).toEqual({ jobState: 'QUEUED', released: false });
    expect(await usage('idem-1')).toMatchObject({ used_slots: 0, used_cpu_millis: 0 });

    // A later write cannot move a finished job.
    await ledger.finishJob({ jobId, state: 'CANCELLED' });
    expect(await ledger.finishJob({ jobId, state: 'FAILED' })).toEqual({ jobState: 'CANCELLED' });
    await dataSource.query(`UPDATE nodes SET status = 'DEAD' WHERE id = 'idem-1'`);
  });

  it('fences a superseded attempt: its outcome moves neither the job nor the live attempt', async () => {
    await register('fence-1', 'cpu', 2);
    await register('fence-2', 'cpu', 2);
    const jobId = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 });
    const first = await ledger.placeJob({ jobId, attempt: 1, excludeNodeIds: [] }, 60);
    expect(first.placed).toBe(true);
    await ledger.endAssignment({ jobId, attempt: 1, state: 'LOST', reason: 'test', jobState: 'QUEUED' });
    const second = await ledger.placeJob({ jobId, attempt: 2, excludeNodeIds: first.placed ? [first.placement.nodeId] : [] }, 60);
    expect(second.placed).toBe(true);

    // A late "success" for attempt 1 (a zombie node) is refused by the attempt fence.
    const late = await ledger.endAssignment({ jobId, attempt: 1, state: 'SUCCEEDED', jobState: 'SUCCEEDED', result: { from: 'zombie' } });
    expect(late).toEqual({ jobState: 'RUNNING', released: false });
    const [job] = await dataSource.query(`SELECT state, result, attempts FROM jobs WHERE id = $1`, [jobId]);
    expect(job).toEqual({ state: 'RUNNING', result: null, attempts: 2 });
    const [a2] = await dataSource.query(`SELECT state FROM job_assignments WHERE job_id = $1 AND attempt = 2`, [jobId]);
    expect(a2.state).toBe('PLACED');

    expect(await ledger.endAssignment({ jobId, attempt: 2, state: 'SUCCEEDED', jobState: 'SUCCEEDED', result: {} })).toEqual({
      jobState: 'SUCCEEDED',
      released: true,
    });
    await dataSource.query(`UPDATE nodes SET status = 'DEAD' WHERE id LIKE 'fence-%'`);
  });

  it('never places on an excluded node, and says why the job waits', async () => {
    await register('excl-1', 'cpu', 2);
    const jobId = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 });
    const result = await ledger.placeJob({ jobId, attempt: 2, excludeNodeIds: ['excl-1'] }, 60);
    expect(result).toMatchObject({ placed: false, pendingReason: 'no_live_node' });
    const [job] = await dataSource.query(`SELECT pending_reason, pending_detail FROM jobs WHERE id = $1`, [jobId]);
    expect(job.pending_reason).toBe('no_live_node');
    await dataSource.query(`UPDATE nodes SET status = 'DEAD' WHERE id = 'excl-1'`);
  });

  it('a silent node is marked DEAD, stops receiving work, and must re-register with a new incarnation', async () => {
    const incarnation = await register('silent-1', 'cpu', 2);
    await dataSource.query(`UPDATE nodes SET last_seen_at = now() - interval '1 minute' WHERE id = 'silent-1'`);
    expect(await ledger.markSilentNodesDead(15)).toEqual(['silent-1']);
    expect(await ledger.heartbeatNode('silent-1', incarnation)).toBe('unknown');

    const jobId = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 });
    expect(await ledger.placeJob({ jobId, attempt: 1, excludeNodeIds: [] }, 60)).toMatchObject({ placed: false });

    const next = await register('silent-1', 'cpu', 2);
    expect(next).toBe(incarnation + 1);
    expect(await ledger.heartbeatNode('silent-1', next)).toBe('ok');
    expect(await ledger.heartbeatNode('silent-1', incarnation)).toBe('superseded');
    expect(await ledger.placeJob({ jobId, attempt: 1, excludeNodeIds: [] }, 60)).toMatchObject({ placed: true });
  });

  it('refuses a node in an unknown worker group', async () => {
    await expect(register('lost-1', 'tpu', 1)).rejects.toThrow(/unknown worker group "tpu"/);
  });
});
