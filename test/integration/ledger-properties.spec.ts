import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { DataSource } from 'typeorm';
import { LedgerRepository } from '../../libs/db';
import { createLedgerDatabase } from './support/ledger-db';

// Random sequences of ledger operations against real Postgres; after every step the ledger must hold
// its invariants. A database of its own, so the running stack's nodes stay out of it.
const NODES = [
  { id: 'p-cpu-1', group: 'cpu', slots: 3, cpu: 4, mem: 4096, gpus: 0 },
  { id: 'p-gpu-1', group: 'gpu', slots: 3, cpu: 8, mem: 8192, gpus: 4 },
  { id: 'p-gpu-2', group: 'gpu', slots: 2, cpu: 4, mem: 8192, gpus: 2 },
];

type Op =
  | { kind: 'place'; cpu: number; mem: number; gpu: number }
  | { kind: 'end'; pick: number; lost: boolean }
  | { kind: 'retry'; pick: number }
  | { kind: 'drain' | 'undrain' | 'kill' | 'register'; node: number };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('place' as const), cpu: fc.integer({ min: 0, max: 3 }), mem: fc.integer({ min: 0, max: 3000 }), gpu: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('end' as const), pick: fc.nat(), lost: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('retry' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('drain' as const, 'undrain' as const, 'kill' as const, 'register' as const), node: fc.integer({ min: 0, max: NODES.length - 1 }) }) },
);

describe('ledger invariants under random operation sequences', () => {
  jest.setTimeout(180_000);
  let dataSource: DataSource;
  let ledger: LedgerRepository;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ dataSource, ledger, drop } = await createLedgerDatabase('mlis_props'));
  });

  afterAll(async () => {
    await drop?.();
  });

  async function register(index: number): Promise<void> {
    const n = NODES[index];
    await ledger.registerNode({
      nodeId: n.id,
      group: n.group,
      hostname: 'prop',
      pid: 1,
      slots: n.slots,
      cpuMillis: n.cpu * 1000,
      memMb: n.mem,
      gpus: Array.from({ length: n.gpus }, (_, i) => ({ index: i, model: 'sim', memory_mb: 1 })),
    });
  }

  /** Every invariant the ledger promises, checked from the tables themselves. */
  async function checkInvariants(): Promise<void> {
    const drift = await dataSource.query(`
      SELECT n.id FROM nodes n
      LEFT JOIN job_assignments a ON a.node_id = n.id AND a.state IN ('PLACED', 'RUNNING')
      GROUP BY n.id
      HAVING n.used_slots <> count(a.id)
          OR n.used_cpu_millis <> coalesce(sum(a.cpu_millis), 0)
          OR n.used_mem_mb <> coalesce(sum(a.mem_mb), 0)
          OR n.used_gpus <> coalesce(sum(cardinality(a.gpu_ids)), 0)
          OR n.used_slots > n.slots OR n.used_cpu_millis > n.cpu_millis OR n.used_mem_mb > n.mem_mb OR n.used_gpus > n.gpu_count`);
    expect(drift).toEqual([]);
    const doubleBooked = await dataSource.query(`
      SELECT a.node_id, g FROM job_assignments a, unnest(a.gpu_ids) g
      WHERE a.state IN ('PLACED', 'RUNNING') GROUP BY a.node_id, g HAVING count(*) > 1`);
    expect(doubleBooked).toEqual([]);
    const reservationsMatch = await dataSource.query(`
      SELECT count(*)::int AS n FROM (
        (SELECT a.node_id, g, a.id FROM job_assignments a, unnest(a.gpu_ids) g WHERE a.state IN ('PLACED', 'RUNNING'))
        EXCEPT (SELECT node_id, gpu_index, assignment_id FROM gpu_reservations)
      ) missing`);
    expect(reservationsMatch[0].n).toBe(0);
    const [{ n: orphans }] = await dataSource.query(`
      SELECT count(*)::int AS n FROM gpu_reservations r
      JOIN job_assignments a ON a.id = r.assignment_id WHERE a.state NOT IN ('PLACED', 'RUNNING')`);
    expect(orphans).toBe(0);
  }

  it('never over-commits, never double-books a GPU id, counters always equal the live assignments', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArbitrary, { minLength: 5, maxLength: 30 }), async (ops) => {
        await dataSource.query(`TRUNCATE gpu_reservations, job_assignments, jobs, nodes`);
        for (let i = 0; i < NODES.length; i++) await register(i);
        const live: { jobId: string; attempt: number }[] = [];
        const requeued: { jobId: string; attempt: number; exclude: string[] }[] = [];

        for (const op of ops) {
          if (op.kind === 'place' || op.kind === 'retry') {
            let jobId: string;
            let attempt = 1;
            let exclude: string[] = [];
            if (op.kind === 'retry') {
              if (requeued.length === 0) continue;
              ({ jobId, attempt, exclude } = requeued.splice(op.pick % requeued.length, 1)[0]);
            } else {
              jobId = randomUUID();
              await dataSource.query(
                `INSERT INTO jobs (id, tenant_id, submitted_by, task_type, cpu_millis, mem_mb, gpu, state, max_attempts, timeout_seconds)
                 VALUES ($1, 'default', 'prop', 'sleep', $2, $3, $4, 'QUEUED', 10, 60)`,
                [jobId, op.cpu * 1000, op.mem, op.gpu],
              );
            }
            const result = await ledger.placeJob({ jobId, attempt, excludeNodeIds: exclude }, 60);
            if (result.placed) {
              const [node] = await dataSource.query(`SELECT status FROM nodes WHERE id = $1`, [result.placement.nodeId]);
              expect(node.status).toBe('ACTIVE');
              expect(exclude).not.toContain(result.placement.nodeId);
              live.push({ jobId, attempt });
            } else {
              requeued.push({ jobId, attempt, exclude });
            }
          } else if (op.kind === 'end') {
            if (live.length === 0) continue;
            const { jobId, attempt } = live.splice(op.pick % live.length, 1)[0];
            const [assignment] = await dataSource.query(
              `SELECT node_id FROM job_assignments WHERE job_id = $1 AND attempt = $2`,
              [jobId, attempt],
            );
            await ledger.endAssignment({
              jobId,
              attempt,
              state: op.lost ? 'LOST' : 'SUCCEEDED',
              jobState: op.lost ? 'QUEUED' : 'SUCCEEDED',
            });
            if (op.lost) requeued.push({ jobId, attempt: attempt + 1, exclude: [assignment.node_id] });
          } else if (op.kind === 'drain' || op.kind === 'undrain') {
            await ledger.setNodeDraining(NODES[op.node].id, op.kind === 'drain');
          } else if (op.kind === 'kill') {
            await dataSource.query(`UPDATE nodes SET last_seen_at = now() - interval '1 hour' WHERE id = $1`, [NODES[op.node].id]);
            await ledger.markSilentNodesDead(15);
          } else {
            await register(op.node);
          }
          await checkInvariants();
        }

        // Ending every live attempt leaves an empty ledger.
        for (const { jobId, attempt } of live) {
          await ledger.endAssignment({ jobId, attempt, state: 'SUCCEEDED', jobState: 'SUCCEEDED' });
        }
        const [{ used }] = await dataSource.query(
          `SELECT coalesce(sum(used_slots + used_cpu_millis + used_mem_mb + used_gpus), 0)::int AS used FROM nodes`,
        );
        expect(used).toBe(0);
        const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM gpu_reservations`);
        expect(n).toBe(0);
      }),
      { numRuns: 60 },
    );
  });
});
