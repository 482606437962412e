import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { JobsRepository, type AssignmentsRepository, type NodesRepository, type SchedulingStore } from '@mlis/db';
import { createLedgerDatabase } from './support/ledger-db';

/** How often Postgres planned a prepared statement of the connection for the values of a run, and used its generic plan. */
interface Plans {
  custom: number;
  generic: number;
}

// ADR 0054: what every job and every scheduling cycle runs is planned about once per connection, not at every run.
// One pooled connection, so that every statement below runs on the connection whose prepared statements are read.
describe('the statements every job and cycle runs', () => {
  let dataSource: DataSource;
  let nodes: NodesRepository;
  let scheduling: SchedulingStore;
  let assignments: AssignmentsRepository;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ dataSource, nodes, scheduling, assignments, drop } = await createLedgerDatabase('mlis_prepared', 1));
  });

  afterAll(async () => {
    await drop?.();
  });

  async function plans(): Promise<Map<string, Plans>> {
    const rows: { name: string; custom_plans: string; generic_plans: string }[] = await dataSource.query(
      `SELECT name, custom_plans, generic_plans FROM pg_prepared_statements WHERE name LIKE 'mlis\\_%'`,
    );
    return new Map(rows.map((row) => [row.name, { custom: Number(row.custom_plans), generic: Number(row.generic_plans) }]));
  }

  it('plan a job read and an end write for their values only at their first five runs, and a cycle never', async () => {
    await nodes.registerNode({ nodeId: 'prep-1', group: 'cpu', hostname: 'prep', pid: 1, slots: 8, cpuMillis: 8000, memMb: 8192, gpus: [], labels: {} });
    const jobs = new JobsRepository(dataSource);
    for (let run = 0; run < 8; run++) {
      const jobId = randomUUID();
      await dataSource.query(
        `INSERT INTO jobs (id, tenant_id, submitted_by, task_type, params, cpu_millis, mem_mb, gpu, priority, state, max_attempts, timeout_seconds)
         VALUES ($1, 'default', 'test', 'sleep', '{}', 1000, 256, 0, 0, 'QUEUED', 3, 60)`,
        [jobId],
      );
      expect(await scheduling.anyJobWaits()).toBe(true);
      expect((await scheduling.runCycle({ liveWithinSeconds: 60, agingSeconds: 0, laneWindow: 32, holdDepth: 16 })).placed).toHaveLength(1);
      await assignments.endAssignment({ jobId, attempt: 1, state: 'SUCCEEDED', jobState: 'SUCCEEDED', result: { slept: run } });
      expect((await jobs.findById('default', jobId))?.job.state).toBe('SUCCEEDED');
    }

    const byName = await plans();
    // Postgres plans a prepared statement with parameters for the values of each of its first five runs, then keeps
    // a generic plan when it costs no more: a read by key and a function call do.
    expect(byName.get('mlis_job_by_id')).toEqual({ custom: 5, generic: 3 });
    expect(byName.get('mlis_end_attempt_call')).toEqual({ custom: 5, generic: 3 });
    // A statement with no parameter has one plan.
    expect(byName.get('mlis_any_job_waits')).toEqual({ custom: 0, generic: 8 });
    // The cycle's transaction asks for generic plans: none of its statements is planned for its values.
    const cycle = [...byName].filter(([name]) => name.startsWith('mlis_cycle_'));
    expect(cycle.map(([name]) => name)).toEqual(expect.arrayContaining(['mlis_cycle_lock', 'mlis_cycle_read', 'mlis_cycle_assignments', 'mlis_cycle_reserve_nodes']));
    for (const [name, { custom, generic }] of cycle) expect({ name, custom, generic: generic > 0 }).toEqual({ name, custom: 0, generic: true });
    // Only for its own transactions: the connection is back to Postgres's default.
    expect(await dataSource.query(`SELECT current_setting('plan_cache_mode') AS mode`)).toEqual([{ mode: 'auto' }]);
  });
});
