import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { AssignmentsRepository, JOB_FINISHED_CHANNEL, JobFinishedNotices, JobsRepository, laneWindowsSql, MetricsRepository, type NodesRepository, type SchedulingStore } from '@mlis/db';
import { nodeTaskQueue } from '@mlis/contracts';
import { createLedgerDatabase } from './support/ledger-db';

// The ledger alone against real Postgres, in a database of its own so the running stack's nodes stay out of it.
describe('the capacity ledger', () => {
  let dataSource: DataSource;
  let nodes: NodesRepository;
  let scheduling: SchedulingStore;
  let assignments: AssignmentsRepository;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ dataSource, nodes, scheduling, assignments, drop } = await createLedgerDatabase('mlis_ledger', 20));
  });

  afterAll(async () => {
    await drop?.();
  });

  const CYCLE = { liveWithinSeconds: 60, agingSeconds: 0, laneWindow: 32, holdDepth: 16 };

  async function register(nodeId: string, group: string, slots: number, gpus = 0, labels: Record<string, string> = {}, pid = 1): Promise<number> {
    const { incarnation } = await nodes.registerNode({
      nodeId,
      group,
      hostname: `host-of-${nodeId}`,
      pid,
      slots,
      cpuMillis: slots * 1000,
      memMb: slots * 1024,
      gpus: Array.from({ length: gpus }, (_, index) => ({ index, model: 'simulated', memory_mb: 16384 })),
      labels,
    });
    return incarnation;
  }

  async function insertJob(
    resources: { cpuMillis: number; memMb: number; gpu: number },
    extra: { tenant?: string; priority?: number; mayPreempt?: boolean; labels?: Record<string, string> } = {},
  ): Promise<string> {
    const id = randomUUID();
    await dataSource.query(
      `INSERT INTO jobs (id, tenant_id, submitted_by, task_type, params, cpu_millis, mem_mb, gpu, priority, may_preempt, node_selector,
                         state, max_attempts, timeout_seconds)
       VALUES ($1, $5, 'test', 'sleep', '{}', $2, $3, $4, $6, $7, $8, 'QUEUED', 3, 60)`,
      [id, resources.cpuMillis, resources.memMb, resources.gpu, extra.tenant ?? 'default', extra.priority ?? 0, extra.mayPreempt ?? false, JSON.stringify(extra.labels ?? {})],
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

  async function job(id: string) {
    const [row] = await dataSource.query(
      `SELECT j.state, j.attempts, j.pending_reason, j.pending_detail, array_position(q.job_ids, j.id) AS queue_position
       FROM jobs j LEFT JOIN scheduler_queue q ON true WHERE j.id = $1`,
      [id],
    );
    return row;
  }

  /** Ends the test's jobs (giving their reservations back) and retires its nodes, so later cycles ignore them. */
  async function retire(pattern: string): Promise<void> {
    const open: { id: string }[] = await dataSource.query(`SELECT id FROM jobs WHERE state IN ('QUEUED', 'RUNNING')`);
    for (const { id } of open) await assignments.finishJob({ jobId: id, state: 'CANCELLED' });
    await dataSource.query(`UPDATE nodes SET status = 'DEAD' WHERE id LIKE $1`, [pattern]);
  }

  it('10 concurrent cycles over 40 waiting jobs reserve exactly the 6 free GPUs, each GPU id once', async () => {
    await register('race-gpu-1', 'gpu', 3, 3);
    await register('race-gpu-2', 'gpu', 3, 3);
    const jobs = await Promise.all(Array.from({ length: 40 }, () => insertJob({ cpuMillis: 1000, memMb: 512, gpu: 1 })));
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => scheduling.runCycle(CYCLE)));

    const placed = outcomes.flatMap((o) => o.placed);
    expect(placed).toHaveLength(6);
    const placements = await Promise.all(jobs.map((id) => scheduling.placementOf(id, 1)));
    const gpuKeys = placements.flatMap((r) => (r.placed ? [`${r.placement.nodeId}/${r.placement.gpuIds.join(',')}`] : []));
    expect(gpuKeys).toHaveLength(6);
    expect(new Set(gpuKeys).size).toBe(6);
    expect(await usage('race-gpu-1')).toEqual({ used_slots: 3, used_cpu_millis: 3000, used_mem_mb: 1536, used_gpus: 3 });
    const waiting = placements.filter((r) => !r.placed);
    expect(waiting).toHaveLength(34);
    // A cycle looks at the first 32 waiting jobs of the lane: those wait with a reason and a distinct
    // queue position; the 2 behind them have not been looked at yet.
    expect(waiting.filter((r) => r.examined)).toHaveLength(32);
    const positions = (await Promise.all(jobs.map(job))).flatMap((row) => (row.queue_position === null ? [] : [row.queue_position]));
    expect([...positions].sort((a, b) => a - b)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
    const [usageRow] = await dataSource.query(`SELECT running_jobs, gpus FROM tenant_usage WHERE tenant_id = 'default'`);
    expect(usageRow).toEqual({ running_jobs: 6, gpus: 6 });

    // Release everything: counters back to zero, no reservation left; the next cycle fills the GPUs again.
    for (const { jobId, attempt } of placed) {
      const written = await assignments.endAssignment({ jobId, attempt, state: 'SUCCEEDED', jobState: 'SUCCEEDED', result: {} });
      // Placed, never started: an ended attempt without run time, with the GPU it held.
      expect(written).toEqual({ jobState: 'SUCCEEDED', ended: expect.objectContaining({ group: 'gpu', gpus: 1, runSeconds: null }) });
    }
    expect(await usage('race-gpu-1')).toEqual({ used_slots: 0, used_cpu_millis: 0, used_mem_mb: 0, used_gpus: 0 });
    expect((await scheduling.runCycle(CYCLE)).placed).toHaveLength(6);
    await retire('race-%');
  });

  it("looks at a lane's other jobs behind more than a window of jobs that no node matches", async () => {
    await register('lanes-cpu-1', 'cpu', 2);
    // Three jobs for a zone no node is in, then one any node can run: same tenant, same priority, one lane.
    const stuck = [];
    for (let i = 0; i < 3; i += 1) stuck.push(await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 }, { labels: { zone: 'nowhere' } }));
    const runnable = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 });
    const state = async (id: string): Promise<{ state: string; pending_reason: string | null }> =>
      (await dataSource.query(`SELECT state, pending_reason FROM jobs WHERE id = $1`, [id]))[0];
    // A window of two: the first cycle meets only two of the stuck jobs.
    for (let cycle = 0; cycle < 3; cycle += 1) await scheduling.runCycle({ ...CYCLE, laneWindow: 2 });
    expect(await state(runnable)).toEqual({ state: 'RUNNING', pending_reason: null });
    for (const id of stuck) expect(await state(id)).toEqual({ state: 'QUEUED', pending_reason: 'no_matching_group' });
    await retire('lanes-%');
  });

  it('reads each lane window through its own partial index, never walking past the other window’s jobs', async () => {
    // The tables are small here: without this the planner would rather read them whole, whatever the indexes.
    const plan: string = await dataSource.transaction(async (m) => {
      await m.query('SET LOCAL enable_seqscan = off');
      await m.query('SET LOCAL enable_bitmapscan = off');
      const explained = await m.query(`EXPLAIN (FORMAT JSON) ${laneWindowsSql('32')}`);
      return JSON.stringify(explained);
    });
    expect(plan).toContain('"Index Name":"jobs_unblocked_lanes"');
    expect(plan).toContain('"Index Name":"jobs_blocked_lanes"');
  });

  it("pages a tenant's jobs in one state, newest first, through the index that leads with the state (GET /v1/jobs?state=)", async () => {
    const plan: string = await dataSource.transaction(async (m) => {
      await m.query('SET LOCAL enable_seqscan = off');
      await m.query('SET LOCAL enable_bitmapscan = off');
      const explained = await m.query(
        `EXPLAIN (FORMAT JSON) SELECT * FROM jobs WHERE tenant_id = 'default' AND state = 'CANCELLED'
         AND (created_at, id) < (now(), gen_random_uuid()) ORDER BY created_at DESC, id DESC LIMIT 51`,
      );
      return JSON.stringify(explained);
    });
    expect(plan).toContain('"Index Name":"jobs_tenant_state_newest"');
    // Read in the index's order: no sort of the state's rows before the page is cut.
    expect(plan).not.toContain('"Node Type":"Sort"');
  });

  it('returns the same placement for an attempt however often it is asked, and releases once', async () => {
    await register('idem-1', 'cpu', 4);
    const jobId = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 });
    await scheduling.runCycle(CYCLE);
    const first = await scheduling.placementOf(jobId, 1);
    expect(first.placed).toBe(true);
    await scheduling.runCycle(CYCLE);
    expect(await scheduling.placementOf(jobId, 1)).toEqual(first);
    expect(await usage('idem-1')).toMatchObject({ used_slots: 1, used_cpu_millis: 1000 });

    // Ending it twice releases once; the job keeps the state of the first write.
    const end = { jobId, attempt: 1, state: 'LOST' as const, reason: 'test', jobState: 'QUEUED' as const };
    expect(await assignments.endAssignment(end)).toEqual({
      jobState: 'QUEUED',
      ended: { group: 'cpu', tenantId: 'default', taskType: 'sleep', gpus: 0, runSeconds: null, admissionWaitSeconds: null },
    });
    expect(await assignments.endAssignment(end)).toEqual({ jobState: 'QUEUED', ended: null });
    expect(await usage('idem-1')).toMatchObject({ used_slots: 0, used_cpu_millis: 0 });

    // A later write cannot move a finished job.
    await assignments.finishJob({ jobId, state: 'CANCELLED' });
    expect(await assignments.finishJob({ jobId, state: 'FAILED' })).toEqual({ jobState: 'CANCELLED', released: false });
    await retire('idem-%');
  });

  it('a cancel that lands after a cycle placed the waiting job gives the reservation back', async () => {
    await register('cancel-1', 'cpu', 1);
    const jobId = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 });
    // Placed at its first look: nobody to signal. The cycle answers the placement its workflow's awaitPlacement would
    // read, so the API can start the workflow with it (ADR 0031).
    const { placed } = await scheduling.runCycle(CYCLE);
    const read = await scheduling.placementOf(jobId, 1);
    expect(read.placed).toBe(true);
    expect(placed).toEqual([{ jobId, attempt: 1, waited: false, placement: read.placed ? read.placement : undefined }]);
    expect(placed[0].placement).toMatchObject({ attempt: 1, nodeId: 'cancel-1', group: 'cpu', taskQueue: nodeTaskQueue('cpu', 'cancel-1'), gpuIds: [] });
    expect(await assignments.finishJob({ jobId, state: 'CANCELLED' })).toEqual({ jobState: 'CANCELLED', released: true });
    expect(await usage('cancel-1')).toMatchObject({ used_slots: 0 });
    const [a] = await dataSource.query(`SELECT state FROM job_assignments WHERE job_id = $1`, [jobId]);
    expect(a.state).toBe('CANCELLED');
    await retire('cancel-%');
  });

  it('gives a cycle something to decide only while a job waits or the last queue order lists one (ADR 0046)', async () => {
    await retire('nothing-%');
    await scheduling.runCycle(CYCLE);
    expect(await scheduling.anyJobWaits()).toBe(false);
    // Asks more than any node has: it waits.
    const jobId = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 64 });
    expect(await scheduling.anyJobWaits()).toBe(true);
    await scheduling.runCycle(CYCLE);
    expect(await job(jobId)).toMatchObject({ state: 'QUEUED', queue_position: 1 });
    expect(await scheduling.anyJobWaits()).toBe(true);
    // Cancelled while waiting: no job waits, but the queue order still lists it until a cycle writes a new one.
    expect(await assignments.finishJob({ jobId, state: 'CANCELLED' })).toEqual({ jobState: 'CANCELLED', released: false });
    expect(await scheduling.anyJobWaits()).toBe(true);
    await scheduling.runCycle(CYCLE);
    expect(await job(jobId)).toMatchObject({ state: 'CANCELLED', queue_position: null });
    expect(await scheduling.anyJobWaits()).toBe(false);
  });

  it('a cancel that races a placement still in flight waits for it and gives the reservation back', async () => {
    await register('race-cancel-1', 'cpu', 1);
    const jobId = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 });
    // What a cycle's transaction writes for a placement, held open: the job row is locked, the assignment not yet visible.
    const cycle = dataSource.createQueryRunner();
    await cycle.connect();
    await cycle.startTransaction();
    await cycle.query(`UPDATE jobs SET state = 'RUNNING', attempts = 1 WHERE id = $1`, [jobId]);
    await cycle.query(`UPDATE nodes SET used_slots = 1, used_cpu_millis = 1000, used_mem_mb = 256 WHERE id = 'race-cancel-1'`);
    await cycle.query(
      `INSERT INTO job_assignments (id, job_id, attempt, node_id, node_incarnation, group_name, slots, cpu_millis, mem_mb, state)
       VALUES (gen_random_uuid(), $1, 1, 'race-cancel-1', 1, 'cpu', 1, 1000, 256, 'PLACED')`,
      [jobId],
    );
    await cycle.query(
      `INSERT INTO tenant_usage AS u (tenant_id, running_jobs, cpu_millis, mem_mb, gpus) VALUES ('default', 1, 1000, 256, 0)
       ON CONFLICT (tenant_id) DO UPDATE SET running_jobs = u.running_jobs + 1, cpu_millis = u.cpu_millis + 1000, mem_mb = u.mem_mb + 256`,
    );
    const cancel = assignments.finishJob({ jobId, state: 'CANCELLED' });
    // The cancel must wait for the placement rather than look past it.
    const early = await Promise.race([cancel.then(() => 'finished'), new Promise((resolve) => setTimeout(resolve, 300, 'waiting'))]);
    await cycle.commitTransaction();
    await cycle.release();
    expect(early).toBe('waiting');
    expect(await cancel).toEqual({ jobState: 'CANCELLED', released: true });
    expect(await usage('race-cancel-1')).toMatchObject({ used_slots: 0, used_cpu_millis: 0 });
    const [a] = await dataSource.query(`SELECT state FROM job_assignments WHERE job_id = $1`, [jobId]);
    expect(a.state).toBe('CANCELLED');
    await retire('race-cancel-%');
  });

  it('reads one job (one statement) exactly as a page of jobs reads it (two), its attempts in order', async () => {
    await register('read-1', 'cpu', 2, 0, { zone: 'z1' });
    await register('read-2', 'cpu', 2, 0, { zone: 'z1' });
    const jobId = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 }, { labels: { zone: 'z1' } });
    await scheduling.runCycle(CYCLE);
    await assignments.endAssignment({ jobId, attempt: 1, state: 'LOST', reason: 'test', jobState: 'QUEUED' });
    await scheduling.runCycle(CYCLE);
    const jobs = new JobsRepository(dataSource);

    const one = await jobs.findById('default', jobId);
    expect(one?.assignments.map((a) => [a.assignment.attempt, a.assignment.state])).toEqual([
      [1, 'LOST'],
      [2, 'PLACED'],
    ]);
    // Only this job ever ran on this test's nodes.
    const page = await jobs.list({ tenantId: 'default', nodeId: one?.assignments[1].assignment.nodeId, limit: 10 });
    expect(page).toEqual([one]);
    expect(one?.job.createdAt).toBeInstanceOf(Date);
    expect(one?.job.nodeSelector).toEqual({ zone: 'z1' });
    expect(await jobs.findById('another-tenant', jobId)).toBeNull();
    await assignments.finishJob({ jobId, state: 'CANCELLED' });
    await retire('read-%');
  });

  it('fences a superseded attempt: its outcome moves neither the job nor the live attempt', async () => {
    await register('fence-1', 'cpu', 2);
    await register('fence-2', 'cpu', 2);
    const jobId = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 });
    await scheduling.runCycle(CYCLE);
    const first = await scheduling.placementOf(jobId, 1);
    expect(first.placed).toBe(true);
    await assignments.endAssignment({ jobId, attempt: 1, state: 'LOST', reason: 'test', jobState: 'QUEUED' });
    await scheduling.runCycle(CYCLE);
    const second = await scheduling.placementOf(jobId, 2);
    expect(second.placed && first.placed && second.placement.nodeId !== first.placement.nodeId).toBe(true);

    // A late "success" for attempt 1 (a zombie node) is refused by the attempt fence.
    const late = await assignments.endAssignment({ jobId, attempt: 1, state: 'SUCCEEDED', jobState: 'SUCCEEDED', result: { from: 'zombie' } });
    expect(late).toEqual({ jobState: 'RUNNING', ended: null });
    const [row] = await dataSource.query(`SELECT state, result, attempts FROM jobs WHERE id = $1`, [jobId]);
    expect(row).toEqual({ state: 'RUNNING', result: null, attempts: 2 });
    const [a2] = await dataSource.query(`SELECT state FROM job_assignments WHERE job_id = $1 AND attempt = 2`, [jobId]);
    expect(a2.state).toBe('PLACED');

    expect(await assignments.endAssignment({ jobId, attempt: 2, state: 'SUCCEEDED', jobState: 'SUCCEEDED', result: {} })).toEqual({
      jobState: 'SUCCEEDED',
      ended: expect.objectContaining({ group: 'cpu' }),
    });
    await retire('fence-%');
  });

  it("notifies the long-polls of a job's end once the write that made it final has committed, and of nothing else (ADR 0043)", async () => {
    const listener = new Client({ connectionString: (dataSource.options as { url: string }).url });
    await listener.connect();
    // Each notification with its job's state as read when it arrives: what a woken long-poll reads.
    const heard: Promise<{ jobId: string; state: string }>[] = [];
    listener.on('notification', ({ payload }) => {
      if (payload) heard.push(dataSource.query(`SELECT state FROM jobs WHERE id = $1`, [payload]).then((rows: { state: string }[]) => ({ jobId: payload, state: rows[0]?.state })));
    });
    const notices = new JobFinishedNotices(dataSource);
    const sentAfterCommit: string[] = [];
    const ending = new AssignmentsRepository(dataSource, { send: (jobId) => (sentAfterCommit.push(jobId), notices.send(jobId)) });
    try {
      await listener.query(`LISTEN ${JOB_FINISHED_CHANNEL}`);
      await register('notice-1', 'cpu', 4);
      await register('notice-2', 'cpu', 4);
      const jobs: string[] = [];
      for (let i = 0; i < 7; i++) jobs.push(await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 }));
      const [requeued, first, second, oldCaller, quiet, cancelled, retried] = jobs;
      await scheduling.runCycle(CYCLE);

      // Two at once: the first notifies in its transaction, the second (another end write under way) after its commit.
      await Promise.all([first, second].map((jobId) => ending.endAssignment({ jobId, attempt: 1, state: 'SUCCEEDED', jobState: 'SUCCEEDED', result: {} })));
      expect(sentAfterCommit).toEqual([second]);
      // A re-queue is not an end; a superseded attempt's late success moves nothing.
      await ending.endAssignment({ jobId: requeued, attempt: 1, state: 'LOST', reason: 'test', jobState: 'QUEUED' });
      await scheduling.runCycle(CYCLE);
      await ending.endAssignment({ jobId: requeued, attempt: 1, state: 'SUCCEEDED', jobState: 'SUCCEEDED', result: {} });
      // A caller of the previous release (nine arguments) gets the NOTIFY inside its transaction; one that asks for
      // none gets none.
      const endBySql = async (jobId: string, notify: string) =>
        (await dataSource.query(`SELECT job_state FROM mlis_end_attempt($1, NULL, 'CANCELLED', 'test', 'CANCELLED', NULL, NULL, NULL, NULL${notify})`, [jobId]))[0].job_state;
      expect(await endBySql(oldCaller, '')).toBe('CANCELLED');
      expect(await endBySql(quiet, ', p_notify => false')).toBe('CANCELLED');
      await ending.finishJob({ jobId: cancelled, state: 'CANCELLED' });
      // An end write that committed without notifying (its process died before sending the notice), then its retry,
      // alone: the function finds the job final and notifies nothing, so the retry notifies after its commit.
      await dataSource.query(`SELECT mlis_end_attempt($1, 1, 'SUCCEEDED', NULL, 'SUCCEEDED', '{}', NULL, NULL, 1, NULL, p_notify => false)`, [retried]);
      await ending.endAssignment({ jobId: retried, attempt: 1, state: 'SUCCEEDED', jobState: 'SUCCEEDED', result: {} });
      expect(sentAfterCommit).toEqual([second, retried]);
      await notices.settled();

      const expected = [
        { jobId: first, state: 'SUCCEEDED' },
        { jobId: second, state: 'SUCCEEDED' },
        { jobId: oldCaller, state: 'CANCELLED' },
        { jobId: cancelled, state: 'CANCELLED' },
        { jobId: retried, state: 'SUCCEEDED' },
      ];
      const ours = async () => (await Promise.all(heard)).filter(({ jobId }) => jobs.includes(jobId));
      const deadline = Date.now() + 10_000;
      while ((await ours()).length < expected.length && Date.now() < deadline) await new Promise((done) => setTimeout(done, 20));
      // Every notification had committed before the wait began, and they arrive in commit order: none is still on its way.
      const byId = (a: { jobId: string }, b: { jobId: string }) => a.jobId.localeCompare(b.jobId);
      expect((await ours()).sort(byId)).toEqual(expected.sort(byId));
    } finally {
      await listener.end();
      await retire('notice-%');
    }
  });

  it('a retried re-queue that finds the next attempt placed answers QUEUED and leaves that attempt alone', async () => {
    // Two nodes: the next attempt never goes to the node incarnation that lost the job.
    await register('requeue-1', 'cpu', 2);
    await register('requeue-2', 'cpu', 2);
    const jobId = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 });
    await scheduling.runCycle(CYCLE);
    // The workflow's re-queue commits, but its answer is lost (control killed): a cycle places attempt 2 meanwhile.
    const requeue = { jobId, attempt: 1, state: 'LOST' as const, reason: 'test', jobState: 'QUEUED' as const };
    expect(await assignments.endAssignment(requeue)).toMatchObject({ jobState: 'QUEUED' });
    await scheduling.runCycle(CYCLE);
    expect((await scheduling.placementOf(jobId, 2)).placed).toBe(true);

    // The retry: the job did go back to the queue, so the workflow goes on to attempt 2 instead of giving up.
    expect(await assignments.endAssignment(requeue)).toEqual({ jobState: 'QUEUED', ended: null });
    const [row] = await dataSource.query(`SELECT state, attempts FROM jobs WHERE id = $1`, [jobId]);
    expect(row).toEqual({ state: 'RUNNING', attempts: 2 });
    const [a2] = await dataSource.query(`SELECT state FROM job_assignments WHERE job_id = $1 AND attempt = 2`, [jobId]);
    expect(a2.state).toBe('PLACED');
    // The same for a preemption's re-queue; a final write of the stale attempt still answers the job's own state.
    expect(await assignments.endAssignment({ ...requeue, state: 'PREEMPTED' })).toEqual({ jobState: 'QUEUED', ended: null });
    expect(await assignments.endAssignment({ ...requeue, state: 'FAILED', jobState: 'FAILED' })).toEqual({ jobState: 'RUNNING', ended: null });
    await assignments.finishJob({ jobId, state: 'CANCELLED' });
    await retire('requeue-%');
  });

  it('counts a loss against the incarnation that had taken over the node before it, not only the one placed on', async () => {
    const placedOn = await register('takeover-1', 'cpu', 2);
    const jobId = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 });
    await scheduling.runCycle(CYCLE);
    // The process restarts and takes over the node's queue (and the attempt placed on its predecessor), then dies too.
    expect(await register('takeover-1', 'cpu', 2)).toBeGreaterThan(placedOn);
    await assignments.endAssignment({ jobId, attempt: 1, state: 'LOST', reason: 'test', jobState: 'QUEUED' });
    await scheduling.runCycle(CYCLE);
    expect(await job(jobId)).toMatchObject({ state: 'QUEUED', pending_reason: 'no_live_node' });

    // A process that registers after the loss may run it.
    await register('takeover-1', 'cpu', 2);
    expect((await scheduling.runCycle(CYCLE)).placed).toEqual([expect.objectContaining({ jobId, attempt: 2, waited: true })]);
    await retire('takeover-%');
  });

  it('never places on the node incarnation that lost the job; the same node after it rejoined is fine', async () => {
    await register('excl-1', 'cpu', 2);
    const jobId = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 });
    await scheduling.runCycle(CYCLE);
    await assignments.endAssignment({ jobId, attempt: 1, state: 'LOST', reason: 'test', jobState: 'QUEUED' });
    await scheduling.runCycle(CYCLE);
    expect(await job(jobId)).toMatchObject({ state: 'QUEUED', pending_reason: 'no_live_node', pending_detail: expect.stringContaining('already lost this job') });

    await register('excl-1', 'cpu', 2);
    expect((await scheduling.runCycle(CYCLE)).placed).toEqual([expect.objectContaining({ jobId, attempt: 2, waited: true })]);
    await retire('excl-%');
  });

  it('a job lost on every node runs again when they come back; each attempt keeps the host and pid it was placed on', async () => {
    const first = new Map([
      ['everywhere-1', await register('everywhere-1', 'cpu', 1, 0, { pool: 'everywhere' }, 101)],
      ['everywhere-2', await register('everywhere-2', 'cpu', 1, 0, { pool: 'everywhere' }, 102)],
    ]);
    const jobId = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 }, { labels: { pool: 'everywhere' } });
    for (const attempt of [1, 2]) {
      await scheduling.runCycle(CYCLE);
      await assignments.endAssignment({ jobId, attempt, state: 'LOST', reason: 'test', jobState: 'QUEUED' });
    }
    await scheduling.runCycle(CYCLE);
    expect(await job(jobId)).toMatchObject({ state: 'QUEUED', pending_reason: 'no_live_node' });

    // Both processes restart: new incarnations, new pids.
    await register('everywhere-1', 'cpu', 1, 0, { pool: 'everywhere' }, 201);
    await register('everywhere-2', 'cpu', 1, 0, { pool: 'everywhere' }, 202);
    expect((await scheduling.runCycle(CYCLE)).placed).toEqual([expect.objectContaining({ jobId, attempt: 3, waited: true })]);
    const attempts: { attempt: number; node_id: string; node_incarnation: number; node_hostname: string; node_pid: number }[] = await dataSource.query(
      `SELECT attempt, node_id, node_incarnation, node_hostname, node_pid FROM job_assignments WHERE job_id = $1 ORDER BY attempt`,
      [jobId],
    );
    // The lost attempts name the processes that had them, not the nodes' current registrations.
    expect(attempts.map((a) => a.node_incarnation === first.get(a.node_id))).toEqual([true, true, false]);
    for (const a of attempts) {
      expect(a.node_hostname).toBe(`host-of-${a.node_id}`);
      expect(a.node_pid).toBe((a.node_incarnation === first.get(a.node_id) ? 100 : 200) + Number(a.node_id.slice(-1)));
    }
    await retire('everywhere-%');
  });

  it('a silent node is marked DEAD, stops receiving work, and must re-register with a new incarnation', async () => {
    const incarnation = await register('silent-1', 'cpu', 2);
    await dataSource.query(`UPDATE nodes SET last_seen_at = now() - interval '1 minute' WHERE id = 'silent-1'`);
    expect(await nodes.markSilentNodesDead(15, 3)).toEqual(['silent-1']);
    expect(await nodes.heartbeatNode('silent-1', incarnation)).toBe('unknown');

    const jobId = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 });
    expect((await scheduling.runCycle(CYCLE)).placed).toEqual([]);
    expect(await job(jobId)).toMatchObject({ pending_reason: 'no_live_node' });

    const next = await register('silent-1', 'cpu', 2);
    expect(next).toBe(incarnation + 1);
    expect(await nodes.heartbeatNode('silent-1', next)).toBe('ok');
    expect(await nodes.heartbeatNode('silent-1', incarnation)).toBe('superseded');
    expect((await scheduling.runCycle(CYCLE)).placed).toEqual([expect.objectContaining({ jobId, attempt: 1, waited: true })]);
    await retire('silent-%');
  });

  it('keeps a job over its tenant quota waiting with quota_exceeded, and places it once the quota allows', async () => {
    await register('quota-1', 'gpu', 4, 4);
    await dataSource.query(`INSERT INTO tenants (id, name, max_gpus) VALUES ('quota-t', 'Quota', 2)`);
    const first = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 2 }, { tenant: 'quota-t' });
    const second = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 1 }, { tenant: 'quota-t' });
    expect((await scheduling.runCycle(CYCLE)).placed).toEqual([expect.objectContaining({ jobId: first, attempt: 1, waited: false })]);
    expect(await job(second)).toMatchObject({
      state: 'QUEUED',
      pending_reason: 'quota_exceeded',
      pending_detail: 'tenant quota-t holds 2 GPUs; 1 more would pass max_gpus 2',
    });
    await assignments.endAssignment({ jobId: first, attempt: 1, state: 'SUCCEEDED', jobState: 'SUCCEEDED', result: {} });
    expect((await scheduling.runCycle(CYCLE)).placed).toEqual([expect.objectContaining({ jobId: second, attempt: 1, waited: true })]);
    const [counted] = await dataSource.query(`SELECT total::int FROM scheduler_decisions WHERE outcome = 'waiting' AND reason = 'quota_exceeded'`);
    expect(counted.total).toBeGreaterThanOrEqual(1);
    await retire('quota-%');
  });

  it('asks lower-priority running jobs to give way to a preempting job, and places it on their node', async () => {
    await register('pre-1', 'gpu', 2, 2);
    const low = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 2 }, { priority: -10 });
    await scheduling.runCycle(CYCLE);
    const urgent = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 2 }, { priority: 100, mayPreempt: true });
    const outcome = await scheduling.runCycle(CYCLE);
    expect(outcome.preempted).toEqual([{ jobId: low, attempt: 1, forJobId: urgent }]);
    expect(await job(urgent)).toMatchObject({ pending_reason: 'preempting' });
    // Asked once: the next cycle waits for the eviction instead of asking again.
    expect((await scheduling.runCycle(CYCLE)).preempted).toEqual([]);

    // The victim's workflow gives the attempt back: PREEMPTED, job QUEUED, and the urgent job takes the GPUs.
    expect(await assignments.endAssignment({ jobId: low, attempt: 1, state: 'PREEMPTED', reason: 'preempted', jobState: 'QUEUED' })).toEqual({
      jobState: 'QUEUED',
      ended: expect.objectContaining({ group: 'gpu', gpus: 2 }),
    });
    expect((await scheduling.runCycle(CYCLE)).placed).toEqual([expect.objectContaining({ jobId: urgent, attempt: 1, waited: true })]);
    expect(await job(low)).toMatchObject({ state: 'QUEUED', attempts: 1, pending_reason: 'insufficient_capacity' });
    await retire('pre-%');
  });

  it('places only on nodes whose labels match the selector', async () => {
    await register('label-a', 'cpu', 2, 0, { zone: 'a' });
    await register('label-b', 'cpu', 2, 0, { zone: 'b' });
    const jobId = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 }, { labels: { zone: 'b' } });
    await scheduling.runCycle(CYCLE);
    expect(await scheduling.placementOf(jobId, 1)).toMatchObject({ placed: true, placement: { nodeId: 'label-b' } });
    const nowhere = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 }, { labels: { zone: 'c' } });
    await scheduling.runCycle(CYCLE);
    expect(await job(nowhere)).toMatchObject({ pending_reason: 'no_matching_group', pending_detail: expect.stringContaining('label zone=c') });
    await retire('label-%');
  });

  it("back-dates an attempt's start by how long it ran, never before its placement, from the node's late report or its end write (ADR 0030)", async () => {
    await register('late-1', 'cpu', 4);
    const [reported, unreported, again] = [
      await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 }),
      await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 }),
      await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 }),
    ];
    await scheduling.runCycle(CYCLE);
    // Placed 10 s ago, so that back-dating has room; the jobs were submitted 20 s ago.
    await dataSource.query(`UPDATE job_assignments SET created_at = now() - interval '10 seconds' WHERE job_id = ANY($1::uuid[])`, [[reported, unreported, again]]);
    await dataSource.query(`UPDATE jobs SET created_at = now() - interval '20 seconds' WHERE id = ANY($1::uuid[])`, [[reported, unreported, again]]);
    const attemptOf = async (jobId: string): Promise<{ id: string; node_incarnation: number; ran: number; placed_before: number; waited: number }> => {
      const [row] = await dataSource.query(
        `SELECT a.id, a.node_incarnation, extract(epoch FROM now() - a.started_at)::float8 AS ran,
                extract(epoch FROM a.started_at - a.created_at)::float8 AS placed_before, extract(epoch FROM a.started_at - j.created_at)::float8 AS waited
           FROM job_assignments a JOIN jobs j ON j.id = a.job_id WHERE a.job_id = $1`,
        [jobId],
      );
      return row;
    };

    // The node reports 3 s into the run: started 3 s ago, admission wait 17 s.
    const first = await attemptOf(reported);
    const started = await assignments.markAssignmentRunning({ assignmentId: first.id, nodeId: 'late-1', incarnation: first.node_incarnation, runningForMs: 3000 });
    expect(started?.admissionWaitSeconds).toBeCloseTo(17, 0);
    expect((await attemptOf(reported)).ran).toBeCloseTo(3, 0);
    // A run time longer than the placement is old starts it at the placement.
    const other = await attemptOf(again);
    await assignments.markAssignmentRunning({ assignmentId: other.id, nodeId: 'late-1', incarnation: other.node_incarnation, runningForMs: 60_000 });
    expect((await attemptOf(again)).placed_before).toBe(0);

    // Never reported: the end write starts it 2 s before now and answers the admission wait (18 s); a reported
    // attempt keeps its start and answers none.
    const ended = await assignments.endAssignment({ jobId: unreported, attempt: 1, state: 'SUCCEEDED', jobState: 'SUCCEEDED', result: {}, ranMs: 2000 });
    expect(ended.ended?.admissionWaitSeconds).toBeCloseTo(18, 0);
    expect(ended.ended?.runSeconds).toBeCloseTo(2, 0);
    expect((await attemptOf(unreported)).ran).toBeCloseTo(2, 0);
    const reportedEnd = await assignments.endAssignment({ jobId: reported, attempt: 1, state: 'SUCCEEDED', jobState: 'SUCCEEDED', result: {}, ranMs: 50 });
    expect(reportedEnd.ended).toMatchObject({ admissionWaitSeconds: null, runSeconds: expect.closeTo(3, 0) });
    expect((await attemptOf(reported)).ran).toBeCloseTo(3, 0);
    await retire('late-%');
  });

  it('lists placements that never started once they are older than the given age', async () => {
    await register('stale-1', 'cpu', 2);
    const [late, started] = [await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 }), await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 })];
    await scheduling.runCycle(CYCLE);
    const [placed]: { id: string; node_incarnation: number }[] = await dataSource.query(
      'SELECT id, node_incarnation FROM job_assignments WHERE job_id = $1',
      [started],
    );
    const byNode = { assignmentId: placed.id, nodeId: 'stale-1', incarnation: placed.node_incarnation, runningForMs: 0 };
    // Only the node incarnation it was placed on may report it started: not another node, not a later incarnation.
    expect(await assignments.markAssignmentRunning({ ...byNode, nodeId: 'stale-2' })).toBeNull();
    expect(await assignments.markAssignmentRunning({ ...byNode, incarnation: byNode.incarnation + 1 })).toBeNull();
    // The job's first attempt to run: its admission wait; reported again, by the node or a pre-patch workflow: nothing.
    expect(await assignments.markAssignmentRunning(byNode)).toEqual({ group: 'cpu', tenantId: 'default', admissionWaitSeconds: expect.any(Number) });
    expect(await assignments.markAssignmentRunning(byNode)).toBeNull();
    expect(await assignments.markAssignmentRunning({ jobId: started, attempt: 1 })).toBeNull();
    expect(await scheduling.stalePlacements(60, 10)).toEqual([]);
    const ended = await assignments.endAssignment({ jobId: started, attempt: 1, state: 'SUCCEEDED', jobState: 'SUCCEEDED', result: {} });
    // Its run time is from the start the node reported to the end write, as the row records them.
    const [{ ran }]: { ran: number }[] = await dataSource.query(
      `SELECT extract(epoch FROM ended_at - started_at)::float8 AS ran FROM job_assignments WHERE job_id = $1`,
      [started],
    );
    expect(ended.ended?.runSeconds).toBeCloseTo(ran, 2);
    await dataSource.query(`UPDATE job_assignments SET created_at = now() - interval '2 minutes' WHERE job_id = ANY($1::uuid[])`, [[late, started]]);
    expect(await scheduling.stalePlacements(60, 10)).toEqual([late]);

    // A running attempt is listed once it has run past its job's timeout (60 s here) by the given age: its workflow
    // would have ended it, so most likely the workflow is gone.
    await assignments.finishJob({ jobId: late, state: 'CANCELLED' });
    const overdue = await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 });
    await scheduling.runCycle(CYCLE);
    expect(await assignments.markAssignmentRunning({ jobId: overdue, attempt: 1 })).not.toBeNull();
    await dataSource.query(`UPDATE job_assignments SET created_at = now() - interval '10 minutes' WHERE job_id = $1`, [overdue]);
    const startedAgo = async (seconds: number) => {
      await dataSource.query(`UPDATE job_assignments SET started_at = now() - make_interval(secs => $2) WHERE job_id = $1`, [overdue, seconds]);
      return scheduling.stalePlacements(60, 10);
    };
    expect(await startedAgo(110)).toEqual([]);
    expect(await startedAgo(130)).toEqual([overdue]);
    await assignments.finishJob({ jobId: overdue, state: 'CANCELLED' });
    await retire('stale-%');
  });

  it('lists live attempts whose preemption request is older than the given age, the oldest request first', async () => {
    await register('preempt-1', 'cpu', 3);
    const [older, newer, fresh] = [
      await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 }),
      await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 }),
      await insertJob({ cpuMillis: 1000, memMb: 256, gpu: 0 }),
    ];
    await scheduling.runCycle(CYCLE);
    // The job they give way to, still waiting: it needs more than the node has, so no cycle places it.
    const preemptor = await insertJob({ cpuMillis: 64_000, memMb: 256, gpu: 0 });
    const ask = (jobId: string, secondsAgo: number) =>
      dataSource.query(`UPDATE job_assignments SET preempt_requested_at = now() - make_interval(secs => $2), preempted_by = $3 WHERE job_id = $1`, [
        jobId,
        secondsAgo,
        preemptor,
      ]);
    expect(await scheduling.stalePreemptions(60, 10)).toEqual([]);
    await ask(newer, 90);
    await ask(older, 120);
    await ask(fresh, 5);
    expect(await scheduling.stalePreemptions(60, 10)).toEqual([
      { jobId: older, attempt: 1 },
      { jobId: newer, attempt: 1 },
    ]);
    expect(await scheduling.stalePreemptions(60, 1)).toEqual([{ jobId: older, attempt: 1 }]);
    const marked = async (): Promise<Record<string, boolean>> =>
      Object.fromEntries(
        (
          await dataSource.query(`SELECT job_id, preempt_requested_at IS NOT NULL AS marked FROM job_assignments WHERE job_id = ANY($1::uuid[]) AND state IN ('PLACED', 'RUNNING')`, [
            [older, newer, fresh],
          ])
        ).map((row: { job_id: string; marked: boolean }) => [row.job_id, row.marked]),
      );
    // While the preemptor waits, nothing is withdrawn.
    expect(await scheduling.withdrawStalePreemptions(60)).toBe(0);
    expect(await marked()).toEqual({ [older]: true, [newer]: true, [fresh]: true });
    // An attempt that has given its place back is not asked again.
    await assignments.endAssignment({ jobId: older, attempt: 1, state: 'PREEMPTED', reason: 'preempted', jobState: 'QUEUED' });
    expect(await scheduling.stalePreemptions(60, 10)).toEqual([{ jobId: newer, attempt: 1 }]);
    // Once the preemptor no longer waits (cancelled here), the stale request is withdrawn, not asked again; a fresh one stays.
    await assignments.finishJob({ jobId: preemptor, state: 'CANCELLED' });
    expect(await scheduling.stalePreemptions(60, 10)).toEqual([]);
    expect(await scheduling.withdrawStalePreemptions(60)).toBe(1);
    expect(await marked()).toEqual({ [newer]: false, [fresh]: true });
    await retire('preempt-%');
  });

  it('applies a registration or a drain only with its audit rows: a failed audit write leaves the node as it was', async () => {
    const first = await register('audited-1', 'cpu', 2);
    const failingAudit = async (): Promise<void> => {
      throw new Error('audit insert failed');
    };
    const input = { nodeId: 'audited-1', group: 'cpu', hostname: 'h', pid: 2, slots: 2, cpuMillis: 2000, memMb: 2048, gpus: [], labels: {} };
    await expect(nodes.registerNode(input, failingAudit)).rejects.toThrow('audit insert failed');
    await expect(nodes.setNodeDraining('audited-1', true, failingAudit)).rejects.toThrow('audit insert failed');
    const [row] = await dataSource.query(`SELECT incarnation, status, pid FROM nodes WHERE id = 'audited-1'`);
    expect(row).toEqual({ incarnation: first, status: 'ACTIVE', pid: 1 });
    await retire('audited-%');
  });

  it("reads a tenant's job changes a page at a time in (updated_at, id) order, the page after a full one included", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push(await insertJob({ cpuMillis: 0, memMb: 0, gpu: 0 }));
    // One instant for all three, as a burst written in one statement has.
    await dataSource.query(`UPDATE jobs SET updated_at = '2031-01-01T00:00:00.123456Z' WHERE id = ANY($1::uuid[])`, [ids]);
    const jobs = new JobsRepository(dataSource);
    const page = await jobs.changedSince('default', '2031-01-01 00:00:00.123456+00', 5, 2);
    expect(page.map((change) => change.id)).toEqual([...ids].sort().slice(0, 2));
    const rest = await jobs.changedAfter('default', page[1], 2);
    expect(rest).toEqual([{ id: [...ids].sort()[2], state: 'QUEUED', updated_at: page[1].updated_at }]);
    for (const id of ids) await assignments.finishJob({ jobId: id, state: 'CANCELLED' });
  });

  it('ranks the tenants with the most active jobs for the metrics that name tenants (ADR 0041); ended jobs do not count', async () => {
    const run = randomUUID().slice(0, 8);
    const [busy, quiet, done] = ['busy', 'quiet', 'done'].map((name) => `rank-${name}-${run}`);
    for (const tenant of [busy, quiet, done]) await dataSource.query(`INSERT INTO tenants (id, name) VALUES ($1, $1)`, [tenant]);
    for (let i = 0; i < 3; i += 1) await insertJob({ cpuMillis: 1_000_000, memMb: 256, gpu: 0 }, { tenant: busy });
    const running = await insertJob({ cpuMillis: 1_000_000, memMb: 256, gpu: 0 }, { tenant: quiet });
    await dataSource.query(`UPDATE jobs SET state = 'RUNNING' WHERE id = $1`, [running]);
    const ended = await insertJob({ cpuMillis: 1_000_000, memMb: 256, gpu: 0 }, { tenant: done });
    await dataSource.query(`UPDATE jobs SET state = 'SUCCEEDED', finished_at = now() WHERE id = $1`, [ended]);

    const ranked = (await new MetricsRepository(dataSource).topTenants(100)).filter((tenant) => tenant.endsWith(run));
    expect(ranked).toEqual([busy, quiet]);
  });

  it('refuses a node in an unknown worker group', async () => {
    await expect(register('lost-1', 'tpu', 1)).rejects.toThrow(/unknown worker group "tpu"/);
  });
});
