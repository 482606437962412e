import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { DataSource } from 'typeorm';
import { NodeView, preparedOn, type AssignmentsRepository, type NodesRepository, type SchedulingStore } from '@mlis/db';
import { createLedgerDatabase, ledgerInvariantViolations } from './support/ledger-db';

// Random sequences of ledger operations against real Postgres; after every step the ledger must hold
// its invariants. A database of its own, so the running stack's nodes stay out of it.
const NODES = [
  { id: 'p-cpu-1', group: 'cpu', slots: 3, cpu: 4, mem: 4096, gpus: 0 },
  { id: 'p-gpu-1', group: 'gpu', slots: 3, cpu: 8, mem: 8192, gpus: 4 },
  { id: 'p-gpu-2', group: 'gpu', slots: 2, cpu: 4, mem: 8192, gpus: 2 },
];

type Op =
  | { kind: 'submit'; cpu: number; mem: number; gpu: number; tenant: number; priority: number; preempt: boolean }
  | { kind: 'cycle' }
  | { kind: 'end'; pick: number; how: 'SUCCEEDED' | 'LOST' | 'PREEMPTED' }
  | { kind: 'cancel'; pick: number }
  | { kind: 'drain' | 'undrain' | 'kill' | 'register'; node: number };

// 'quota' has max_gpus 2 and max_running_jobs 2, and in its groups at most one job on cpu nodes and one GPU on
// gpu nodes: the ledger must never let it hold more.
const TENANTS = ['default', 'quota'];
const CYCLE = { liveWithinSeconds: 60, agingSeconds: 0, laneWindow: 8, holdDepth: 4 };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('submit' as const),
      cpu: fc.integer({ min: 0, max: 3 }),
      mem: fc.integer({ min: 0, max: 3000 }),
      gpu: fc.integer({ min: 0, max: 3 }),
      tenant: fc.integer({ min: 0, max: 1 }),
      priority: fc.integer({ min: 0, max: 2 }),
      preempt: fc.boolean(),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('cycle' as const) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('end' as const), pick: fc.nat(), how: fc.constantFrom('SUCCEEDED' as const, 'LOST' as const, 'PREEMPTED' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('drain' as const, 'undrain' as const, 'kill' as const, 'register' as const), node: fc.integer({ min: 0, max: NODES.length - 1 }) }) },
);

describe('ledger invariants under random operation sequences', () => {
  jest.setTimeout(180_000);
  let dataSource: DataSource;
  let nodes: NodesRepository;
  let scheduling: SchedulingStore;
  let assignments: AssignmentsRepository;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ dataSource, nodes, scheduling, assignments, drop } = await createLedgerDatabase('mlis_props'));
    await dataSource.query(
      `INSERT INTO tenants (id, name, max_gpus, max_running_jobs, group_limits)
       VALUES ('quota', 'Quota', 2, 2, '{"cpu": {"max_running_jobs": 1}, "gpu": {"max_gpus": 1}}')`,
    );
  });

  afterAll(async () => {
    await drop?.();
  });

  async function register(index: number): Promise<void> {
    const n = NODES[index];
    await nodes.registerNode({
      nodeId: n.id,
      group: n.group,
      hostname: 'prop',
      pid: 1,
      slots: n.slots,
      cpuMillis: n.cpu * 1000,
      memMb: n.mem,
      gpus: Array.from({ length: n.gpus }, (_, i) => ({ index: i, model: 'sim', memory_mb: 1 })),
      labels: {},
    });
  }

  // The scheduler reads nodes incrementally; after any step, what it holds must equal a full read.
  const view = new NodeView();
  const refresh = (nodeView: NodeView) => dataSource.transaction(async (m) => new Map((await nodeView.refresh(preparedOn(m), CYCLE.liveWithinSeconds)).nodes));

  it('never over-commits, never double-books a GPU id, counters always equal the live assignments', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArbitrary, { minLength: 5, maxLength: 30 }), async (ops) => {
        await dataSource.query(`TRUNCATE gpu_reservations, job_assignments, job_artifacts, jobs, nodes, tenant_usage, scheduler_decisions`);
        for (let i = 0; i < NODES.length; i++) await register(i);

        for (const op of ops) {
          if (op.kind === 'submit') {
            await dataSource.query(
              `INSERT INTO jobs (id, tenant_id, submitted_by, task_type, cpu_millis, mem_mb, gpu, priority, may_preempt, state, max_attempts, timeout_seconds)
               VALUES ($1, $2, 'prop', 'sleep', $3, $4, $5, $6, $7, 'QUEUED', 10, 60)`,
              [randomUUID(), TENANTS[op.tenant], op.cpu * 1000, op.mem, op.gpu, op.priority, op.preempt],
            );
          } else if (op.kind === 'cycle') {
            const { placed } = await scheduling.runCycle(CYCLE);
            for (const { jobId, attempt } of placed) {
              const [a] = await dataSource.query(
                `SELECT n.status, a.node_incarnation = n.incarnation AS current FROM job_assignments a JOIN nodes n ON n.id = a.node_id
                 WHERE a.job_id = $1 AND a.attempt = $2`,
                [jobId, attempt],
              );
              expect(a).toEqual({ status: 'ACTIVE', current: true });
            }
          } else if (op.kind === 'end') {
            const live: { job_id: string; attempt: number }[] = await dataSource.query(
              `SELECT job_id, attempt FROM job_assignments WHERE state IN ('PLACED', 'RUNNING') ORDER BY created_at, id`,
            );
            if (live.length === 0) continue;
            const { job_id: jobId, attempt } = live[op.pick % live.length];
            await assignments.endAssignment({ jobId, attempt, state: op.how, jobState: op.how === 'SUCCEEDED' ? 'SUCCEEDED' : 'QUEUED' });
          } else if (op.kind === 'cancel') {
            const open: { id: string }[] = await dataSource.query(`SELECT id FROM jobs WHERE state IN ('QUEUED', 'RUNNING') ORDER BY created_at, id`);
            if (open.length === 0) continue;
            await assignments.finishJob({ jobId: open[op.pick % open.length].id, state: 'CANCELLED' });
          } else if (op.kind === 'drain' || op.kind === 'undrain') {
            await nodes.setNodeDraining(NODES[op.node].id, op.kind === 'drain');
          } else if (op.kind === 'kill') {
            await dataSource.query(`UPDATE nodes SET last_seen_at = now() - interval '1 hour' WHERE id = $1`, [NODES[op.node].id]);
            await nodes.markSilentNodesDead(15, 3);
          } else {
            await register(op.node);
          }
          expect(await ledgerInvariantViolations(dataSource)).toEqual({});
          expect(await refresh(view)).toEqual(await refresh(new NodeView()));
        }

        // Ending every live attempt leaves an empty ledger.
        const live: { job_id: string; attempt: number }[] = await dataSource.query(
          `SELECT job_id, attempt FROM job_assignments WHERE state IN ('PLACED', 'RUNNING')`,
        );
        for (const { job_id: jobId, attempt } of live) {
          await assignments.endAssignment({ jobId, attempt, state: 'SUCCEEDED', jobState: 'SUCCEEDED' });
        }
        const [{ used }] = await dataSource.query(
          `SELECT coalesce(sum(used_slots + used_cpu_millis + used_mem_mb + used_gpus), 0)::int AS used FROM nodes`,
        );
        expect(used).toBe(0);
        const [{ held }] = await dataSource.query(`SELECT coalesce(sum(running_jobs + cpu_millis + mem_mb + gpus), 0)::int AS held FROM tenant_usage`);
        expect(held).toBe(0);
        const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM gpu_reservations`);
        expect(n).toBe(0);
      }),
      { numRuns: 60 },
    );
  });
});
