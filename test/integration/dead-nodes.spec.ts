import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { NodeView, preparedOn, type AssignmentsRepository, type NodesRepository, type SchedulingStore } from '@mlis/db';
import { nodeForgetAudit, NodeReaper, WITHDRAW_SETTLE_SECONDS } from '../../apps/control/node-reaper';
import { createLedgerDatabase, ledgerInvariantViolations } from './support/ledger-db';

// Why a node is DEAD (it said it was stopping, or went silent), and its deletion after the retention (ADR 0034): what
// goes, what stays, and what their attempts keep.
describe('DEAD nodes', () => {
  let dataSource: DataSource;
  let nodes: NodesRepository;
  let scheduling: SchedulingStore;
  let assignments: AssignmentsRepository;
  let drop: (() => Promise<void>) | undefined;
  const RETENTION_SECONDS = 3600;
  const CYCLE = { liveWithinSeconds: 60, agingSeconds: 0, laneWindow: 32, holdDepth: 16 };

  beforeAll(async () => {
    ({ dataSource, nodes, scheduling, assignments, drop } = await createLedgerDatabase('mlis_dead_nodes', 4));
  });

  afterAll(async () => {
    await drop?.();
  });

  afterEach(async () => {
    const violations = await ledgerInvariantViolations(dataSource);
    await dataSource.query(`DELETE FROM nodes`);
    expect(violations).toEqual({});
  });

  async function register(nodeId: string, pid = 1): Promise<number> {
    const registered = await nodes.registerNode({ nodeId, group: 'cpu', hostname: `host-of-${nodeId}`, pid, slots: 1, cpuMillis: 1000, memMb: 1024, gpus: [], labels: { pool: nodeId } });
    return registered.incarnation;
  }

  /** Puts the node's status change (and last heartbeat) `ageSeconds` in the past, as if it had happened then. */
  async function age(nodeId: string, status: 'ACTIVE' | 'DRAINING' | 'DEAD', ageSeconds: number): Promise<void> {
    await dataSource.query(
      `UPDATE nodes SET status = $2, last_seen_at = now() - make_interval(secs => $3),
         gone_at = CASE WHEN $2 = 'DEAD' OR left_at IS NOT NULL THEN now() - make_interval(secs => $3) END
       WHERE id = $1`,
      [nodeId, status, ageSeconds],
    );
  }

  /** A job placed on `nodeId` (labels pin it there); returns its id once attempt 1 is PLACED. */
  async function placeJobOn(nodeId: string): Promise<string> {
    const jobId = randomUUID();
    await dataSource.query(
      `INSERT INTO jobs (id, tenant_id, submitted_by, task_type, params, cpu_millis, mem_mb, gpu, node_selector, state, max_attempts, timeout_seconds)
       VALUES ($1, 'default', 'test', 'sleep', '{}', 1000, 256, 0, $2, 'QUEUED', 3, 60)`,
      [jobId, JSON.stringify({ pool: nodeId })],
    );
    expect((await scheduling.runCycle(CYCLE)).placed).toEqual([expect.objectContaining({ jobId, attempt: 1 })]);
    return jobId;
  }

  const forget = (limit = 100) => nodes.forgetDeadNodes(RETENTION_SECONDS, limit, nodeForgetAudit('retention-test'));

  const ids = async (): Promise<string[]> => (await dataSource.query(`SELECT id FROM nodes ORDER BY id`)).map((row: { id: string }) => row.id);

  it('a node that leaves records when: an ACTIVE one is DEAD at once, a DRAINING one stays DRAINING until silent; registering again clears it', async () => {
    const leftAt = async (id: string) => {
      const [row] = await dataSource.query(`SELECT status, left_at, gone_at FROM nodes WHERE id = $1`, [id]);
      // Gone (DEAD, or left) since it left: the time the withdrawal's settling and the retention count from.
      if (row.left_at !== null) expect(row.gone_at).toEqual(row.left_at);
      if (row.status === 'ACTIVE') expect(row.gone_at).toBeNull();
      return { status: row.status, left_at: row.left_at } as { status: string; left_at: Date | null };
    };
    const active = await register('leaving');
    const drained = await register('drained');
    await nodes.setNodeDraining('drained', true);
    expect(await nodes.leaveNode('leaving', active - 1)).toBe(false);
    expect(await nodes.leaveNode('leaving', active)).toBe(true);
    expect(await nodes.leaveNode('leaving', active)).toBe(false);
    expect(await leftAt('leaving')).toEqual({ status: 'DEAD', left_at: expect.any(Date) });
    expect(await nodes.leaveNode('drained', drained)).toBe(true);
    expect(await nodes.leaveNode('drained', drained)).toBe(false);
    expect(await leftAt('drained')).toEqual({ status: 'DRAINING', left_at: expect.any(Date) });
    await dataSource.query(`UPDATE nodes SET last_seen_at = now() - interval '1 minute' WHERE id = 'drained'`);
    expect(await nodes.markSilentNodesDead(15, 3)).toEqual(['drained']);
    expect(await leftAt('drained')).toEqual({ status: 'DEAD', left_at: expect.any(Date) });

    await register('leaving');
    expect(await leftAt('leaving')).toEqual({ status: 'ACTIVE', left_at: null });
    // DEAD by then, so it registers ACTIVE (a drain outlives a restart only while the node is DRAINING).
    await register('drained');
    expect(await leftAt('drained')).toEqual({ status: 'ACTIVE', left_at: null });
  });

  it('deletes only nodes DEAD for longer than the retention with no live attempt, each with a node.forget audit row', async () => {
    for (const id of ['old-dead', 'young-dead', 'old-active', 'old-draining', 'old-dead-busy']) await register(id);
    const busyJob = await placeJobOn('old-dead-busy');
    await age('old-dead', 'DEAD', RETENTION_SECONDS + 60);
    await age('young-dead', 'DEAD', RETENTION_SECONDS - 60);
    await age('old-active', 'ACTIVE', RETENTION_SECONDS + 60);
    await age('old-draining', 'DRAINING', RETENTION_SECONDS + 60);
    await age('old-dead-busy', 'DEAD', RETENTION_SECONDS + 60);

    expect(await forget()).toEqual(['old-dead']);
    expect(await ids()).toEqual(['old-active', 'old-dead-busy', 'old-draining', 'young-dead']);
    expect(await dataSource.query(`SELECT request_id, actor_subject, action, resource, result FROM audit_events WHERE action = 'node.forget' AND resource LIKE 'node/old-%'`)).toEqual([
      { request_id: 'retention-test', actor_subject: 'control', action: 'node.forget', resource: 'node/old-dead', result: 'allow' },
    ]);

    // Once its attempt has ended, the busy node goes too; its attempt keeps the node's id, incarnation, host and pid.
    const [placed] = await dataSource.query(`SELECT node_id, node_incarnation, node_hostname, node_pid FROM job_assignments WHERE job_id = $1`, [busyJob]);
    await assignments.endAssignment({ jobId: busyJob, attempt: 1, state: 'LOST', reason: 'node died', jobState: 'FAILED' });
    // Giving the attempt's capacity back changed the node row, not when it went DEAD.
    expect(await forget()).toEqual(['old-dead-busy']);
    expect(await dataSource.query(`SELECT node_id, node_incarnation, node_hostname, node_pid FROM job_assignments WHERE job_id = $1`, [busyJob])).toEqual([placed]);
    expect(placed).toMatchObject({ node_id: 'old-dead-busy', node_hostname: 'host-of-old-dead-busy' });
    expect(await forget()).toEqual([]);
  });

  it('names the attempts placed on nodes gone for longer than the settling time and never started there (ADR 0038)', async () => {
    const nodeIds = ['gone-dead', 'gone-left', 'gone-left-draining', 'gone-just-now', 'gone-started', 'gone-and-back', 'alive'];
    const incarnations = new Map<string, number>();
    for (const id of nodeIds) incarnations.set(id, await register(id));
    const jobs = new Map<string, string>();
    for (const id of nodeIds) jobs.set(id, await placeJobOn(id));
    const [started] = await dataSource.query(`SELECT id FROM job_assignments WHERE job_id = $1`, [jobs.get('gone-started')]);
    expect(await assignments.markAssignmentRunning({ assignmentId: started.id, nodeId: 'gone-started', incarnation: incarnations.get('gone-started')!, runningForMs: 0 })).not.toBeNull();

    await age('gone-dead', 'DEAD', 10);
    expect(await nodes.leaveNode('gone-left', incarnations.get('gone-left')!)).toBe(true);
    await nodes.setNodeDraining('gone-left-draining', true);
    expect(await nodes.leaveNode('gone-left-draining', incarnations.get('gone-left-draining')!)).toBe(true);
    await dataSource.query(`UPDATE nodes SET gone_at = now() - interval '10 seconds' WHERE id IN ('gone-left', 'gone-left-draining')`);
    await age('gone-just-now', 'DEAD', 0);
    await age('gone-started', 'DEAD', 10);
    // DEAD, then back as a new incarnation: it polls the same queue, so its placement stands.
    await age('gone-and-back', 'DEAD', 10);
    await register('gone-and-back');

    const gone = ['gone-dead', 'gone-left', 'gone-left-draining'].map((id) => ({ jobId: jobs.get(id), attempt: 1 }));
    expect(await scheduling.placementsOnGoneNodes(2, 100)).toEqual(gone);
    expect(await scheduling.placementsOnGoneNodes(2, 2)).toEqual(gone.slice(0, 2));
    // Once settled, the node that went a moment ago is named too.
    await age('gone-just-now', 'DEAD', 10);
    expect(await scheduling.placementsOnGoneNodes(2, 100)).toEqual([...gone, { jobId: jobs.get('gone-just-now'), attempt: 1 }]);

    // An attempt its workflow has ended is named no more.
    await assignments.endAssignment({ jobId: jobs.get('gone-dead')!, attempt: 1, state: 'LOST', reason: 'withdrawn', jobState: 'FAILED' });
    expect((await scheduling.placementsOnGoneNodes(2, 100)).map(({ jobId }) => jobId)).not.toContain(jobs.get('gone-dead'));
    for (const id of nodeIds.filter((id) => id !== 'gone-dead')) {
      await assignments.endAssignment({ jobId: jobs.get(id)!, attempt: 1, state: 'LOST', reason: 'test over', jobState: 'FAILED' });
    }
  });

  it('keeps gone_at itself, for writers that do not name it (the release before it, during an upgrade)', async () => {
    await register('old-writer');
    const goneAt = async () => (await dataSource.query(`SELECT gone_at FROM nodes WHERE id = 'old-writer'`))[0].gone_at as Date | null;
    // The previous release's reaper: status only.
    await dataSource.query(`UPDATE nodes SET status = 'DEAD', updated_at = now() WHERE id = 'old-writer'`);
    const went = await goneAt();
    expect(went).toEqual(expect.any(Date));
    // Later writes to a gone node keep the time it went; its registration (status and left_at written) clears it.
    await dataSource.query(`UPDATE nodes SET status = 'DEAD', left_at = now(), used_slots = 0 WHERE id = 'old-writer'`);
    expect(await goneAt()).toEqual(went);
    await dataSource.query(`UPDATE nodes SET status = 'ACTIVE', left_at = NULL WHERE id = 'old-writer'`);
    expect(await goneAt()).toBeNull();
    // A write that contradicts the status is refused.
    await expect(dataSource.query(`UPDATE nodes SET gone_at = now() WHERE id = 'old-writer'`)).rejects.toThrow(/nodes_gone_at_when_gone/);
  });

  it('counts a node gone from when it went, not from its last change: releases on it postpone neither withdrawal nor deletion', async () => {
    const { incarnation } = await nodes.registerNode({ nodeId: 'busy-gone', group: 'cpu', hostname: 'h', pid: 1, slots: 2, cpuMillis: 2000, memMb: 2048, gpus: [], labels: { pool: 'busy-gone' } });
    const started = await placeJobOn('busy-gone');
    const unstarted = await placeJobOn('busy-gone');
    const [attempt] = await dataSource.query(`SELECT id FROM job_assignments WHERE job_id = $1`, [started]);
    expect(await assignments.markAssignmentRunning({ assignmentId: attempt.id, nodeId: 'busy-gone', incarnation, runningForMs: 0 })).not.toBeNull();
    await dataSource.query(`UPDATE nodes SET last_seen_at = now() - interval '1 minute' WHERE id = 'busy-gone'`);
    expect(await nodes.markSilentNodesDead(15, 3)).toEqual(['busy-gone']);
    await dataSource.query(`UPDATE nodes SET gone_at = now() - interval '10 seconds' WHERE id = 'busy-gone'`);

    // The started attempt's lease runs out: its release gives the node's capacity back (the row changes) just now.
    await assignments.endAssignment({ jobId: started, attempt: 1, state: 'LOST', reason: 'lease expired', jobState: 'FAILED' });
    expect(await scheduling.placementsOnGoneNodes(2, 100)).toEqual([{ jobId: unstarted, attempt: 1 }]);
    await assignments.endAssignment({ jobId: unstarted, attempt: 1, state: 'LOST', reason: 'withdrawn', jobState: 'FAILED' });
    await dataSource.query(`UPDATE nodes SET gone_at = now() - make_interval(secs => $1) WHERE id = 'busy-gone'`, [RETENTION_SECONDS + 60]);
    expect(await forget()).toEqual(['busy-gone']);
  });

  it('deletes at most the batch, oldest first', async () => {
    for (const [id, extra] of [['batch-a', 30], ['batch-b', 10], ['batch-c', 20]] as const) {
      await register(id);
      await age(id, 'DEAD', RETENTION_SECONDS + extra);
    }
    expect(await forget(2)).toEqual(['batch-a', 'batch-c']);
    expect(await forget(2)).toEqual(['batch-b']);
    expect(await ids()).toEqual([]);
  });

  it('a node that registers again under a deleted id gets a higher incarnation, so the old process stays fenced out', async () => {
    const old = await register('reborn', 100);
    await age('reborn', 'DEAD', RETENTION_SECONDS + 60);
    expect(await forget()).toEqual(['reborn']);
    const view = new NodeView();
    const seen = await dataSource.transaction(async (m) => new Map((await view.refresh(preparedOn(m), 60)).nodes));
    expect(seen.has('reborn')).toBe(false);

    const fresh = await register('reborn', 200);
    expect(fresh).toBeGreaterThan(old);
    expect(await nodes.heartbeatNode('reborn', old)).toBe('superseded');
    expect(await nodes.heartbeatNode('reborn', fresh)).toBe('ok');
    // The view that read before the deletion picks the new row up, with its new incarnation.
    const after = await dataSource.transaction(async (m) => new Map((await view.refresh(preparedOn(m), 60)).nodes));
    expect(after.get('reborn')).toMatchObject({ incarnation: fresh, status: 'ACTIVE' });
  });

  it("control's reaper marks silent nodes DEAD and deletes those past the retention, and leaves the rest", async () => {
    await register('silent');
    await register('long-gone');
    await register('alive');
    await dataSource.query(`UPDATE nodes SET last_seen_at = now() - interval '1 minute' WHERE id = 'silent'`);
    await age('long-gone', 'DEAD', RETENTION_SECONDS + 60);
    const lines: string[] = [];
    const withdrawals: number[] = [];
    const withdraw = async (settledSeconds: number): Promise<number> => {
      withdrawals.push(settledSeconds);
      return 1;
    };
    const options = { deadAfterSeconds: 15, heartbeatSeconds: 3, retentionSeconds: RETENTION_SECONDS };
    const reaper = new NodeReaper(nodes, withdraw, options, (line) => lines.push(line));
    expect(await reaper.sweep()).toEqual({ dead: ['silent'], withdrawn: 1, forgotten: ['long-gone'] });
    expect(await ids()).toEqual(['alive', 'silent']);
    // After the silent node went DEAD, in the same pass: its placements are withdrawn once the settling time has passed.
    expect(withdrawals).toEqual([WITHDRAW_SETTLE_SECONDS]);
    expect(lines).toEqual([
      'node silent marked DEAD after 15s without a heartbeat',
      'asked the workflows of 1 attempt(s) placed on gone nodes, never started there, to place their jobs again',
      `deleted 1 node(s) DEAD for over ${RETENTION_SECONDS}s: long-gone`,
    ]);
    const [audit] = await dataSource.query(`SELECT actor_subject, request_id FROM audit_events WHERE resource = 'node/long-gone'`);
    expect(audit).toMatchObject({ actor_subject: 'control', request_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  });

  it('counts a node silent only while an API was up to hear it: every API gone, or one back for less than the window, marks none (ADR 0062)', async () => {
    const DEAD_AFTER = 15;
    const HEARTBEAT = 3;
    await register('quiet');
    await dataSource.query(`UPDATE nodes SET last_seen_at = now() - interval '1 minute' WHERE id = 'quiet'`);
    /** Puts the API process `id` up since `upSecondsAgo`, last seen `seenSecondsAgo`. */
    const apiInstance = (id: string, upSecondsAgo: number, seenSecondsAgo: number) =>
      dataSource.query(
        `INSERT INTO api_instances (id, up_since, last_seen_at) VALUES ($1, now() - make_interval(secs => $2), now() - make_interval(secs => $3))
         ON CONFLICT (id) DO UPDATE SET up_since = EXCLUDED.up_since, last_seen_at = EXCLUDED.last_seen_at`,
        [id, upSecondsAgo, seenSecondsAgo],
      );
    const first = randomUUID();
    const second = randomUUID();
    try {
      // The only API went quiet 30 s ago (all of them down): the node's silence is theirs.
      await apiInstance(first, 3600, 30);
      expect(await nodes.markSilentNodesDead(DEAD_AFTER, HEARTBEAT)).toEqual([]);
      // One is back, but for less than the window: the node may not have had its chance to heartbeat yet.
      await apiInstance(second, 5, 0);
      expect(await nodes.markSilentNodesDead(DEAD_AFTER, HEARTBEAT)).toEqual([]);

      // The API's own writes: a gap longer than two beats and a second starts its unbroken run again.
      await apiInstance(second, 3600, 2 * HEARTBEAT + 2);
      await nodes.recordApiInstance(second, HEARTBEAT);
      const [restarted] = await dataSource.query(`SELECT now() - up_since < interval '1 second' AS fresh FROM api_instances WHERE id = $1`, [second]);
      expect(restarted.fresh).toBe(true);
      expect(await nodes.markSilentNodesDead(DEAD_AFTER, HEARTBEAT)).toEqual([]);
      // A write within the slack keeps the run going: up for the whole window and seen just now, so the silence is the node's.
      await apiInstance(second, 3600, HEARTBEAT);
      await nodes.recordApiInstance(second, HEARTBEAT);
      const [kept] = await dataSource.query(
        `SELECT now() - up_since > interval '1 hour' - interval '1 second' AS kept FROM api_instances WHERE id = $1`,
        [second],
      );
      expect(kept.kept).toBe(true);
      expect(await nodes.markSilentNodesDead(DEAD_AFTER, HEARTBEAT)).toEqual(['quiet']);
      // A process silent for over a day is forgotten by the next write of any other.
      const gone = randomUUID();
      await apiInstance(gone, 3 * 86_400, 2 * 86_400);
      await nodes.recordApiInstance(second, HEARTBEAT);
      expect((await dataSource.query(`SELECT id FROM api_instances ORDER BY id`)).map((row: { id: string }) => row.id)).toEqual([first, second].sort());
    } finally {
      await dataSource.query(`DELETE FROM api_instances`);
    }
    // No API process seen for a day (every API older than ADR 0062, or rolled back to such a release; an outage that
    // long): silence alone counts, as before.
    for (const lastApiSeenSecondsAgo of [null, 86_400 + 60]) {
      if (lastApiSeenSecondsAgo !== null) await apiInstance(randomUUID(), 2 * 86_400, lastApiSeenSecondsAgo);
      await register('quiet');
      await dataSource.query(`UPDATE nodes SET last_seen_at = now() - interval '1 minute' WHERE id = 'quiet'`);
      expect({ lastApiSeenSecondsAgo, dead: await nodes.markSilentNodesDead(DEAD_AFTER, HEARTBEAT) }).toEqual({ lastApiSeenSecondsAgo, dead: ['quiet'] });
    }
    await dataSource.query(`DELETE FROM api_instances`);
  });

  it('one sweep works through a backlog longer than a batch, and names the first 20 in its log line', async () => {
    await dataSource.query(
      `INSERT INTO nodes (id, group_name, hostname, pid, status, slots, cpu_millis, mem_mb, gpus, labels, gone_at, last_seen_at)
       SELECT 'backlog-' || lpad(i::text, 3, '0'), 'cpu', 'h', 1, 'DEAD', 1, 1000, 1024, '[]', '{}', now() - interval '2 days', now() - interval '2 days'
       FROM generate_series(1, 250) i`,
    );
    const lines: string[] = [];
    const options = { deadAfterSeconds: 15, heartbeatSeconds: 3, retentionSeconds: RETENTION_SECONDS };
    const reaper = new NodeReaper(nodes, async () => 0, options, (line) => lines.push(line));
    expect((await reaper.sweep()).forgotten).toHaveLength(250);
    expect(await ids()).toEqual([]);
    const first20 = Array.from({ length: 20 }, (_, i) => `backlog-${String(i + 1).padStart(3, '0')}`).join(', ');
    expect(lines).toEqual([`deleted 250 node(s) DEAD for over ${RETENTION_SECONDS}s: ${first20}, …`]);
    const [{ count }] = await dataSource.query(`SELECT count(*)::int AS count FROM audit_events WHERE action = 'node.forget' AND resource LIKE 'node/backlog-%'`);
    expect(count).toBe(250);
  });
});
