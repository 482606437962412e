import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import type { AssignmentsRepository, NodesRepository } from '@mlis/db';
import { createLedgerDatabase, ledgerInvariantViolations } from './support/ledger-db';
import { ROOT } from './support/stack-env';

// Two separate OS processes, each a control replica running scheduling cycles as fast as it can
// against one Postgres, while this process keeps submitting jobs and ending attempts.
const CYCLES_PER_PROCESS = 120;
const CONTROL_REPLICA = `
const { createDataSource, SchedulingStore } = require(${JSON.stringify(join(ROOT, 'dist/libs/db'))});
(async () => {
  const dataSource = createDataSource(process.env.DATABASE_URL, 4);
  await dataSource.initialize();
  const scheduling = new SchedulingStore(dataSource);
  let placed = 0;
  for (let i = 0; i < ${CYCLES_PER_PROCESS}; i++) {
    placed += (await scheduling.runCycle({ liveWithinSeconds: 60, agingSeconds: 0, laneWindow: 16, holdDepth: 8 })).placed.length;
  }
  await dataSource.destroy();
  console.log(JSON.stringify({ placed }));
})().catch((error) => { console.error(error); process.exit(1); });
`;

function runReplica(databaseUrl: string): Promise<{ placed: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CONTROL_REPLICA], { env: { ...process.env, DATABASE_URL: databaseUrl } });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim()) as { placed: number }) : reject(new Error(`replica exited ${code}: ${err}`))));
  });
}

describe('two control processes scheduling against one Postgres', () => {
  let dataSource: DataSource;
  let nodes: NodesRepository;
  let assignments: AssignmentsRepository;
  let drop: (() => Promise<void>) | undefined;
  let databaseUrl: string;

  beforeAll(async () => {
    ({ dataSource, nodes, assignments, drop } = await createLedgerDatabase('mlis_replicas'));
    databaseUrl = (dataSource.options as { url: string }).url;
  });

  afterAll(async () => {
    await drop?.();
  });

  it('never double-books a GPU id or over-commits a node, and both replicas place work', async () => {
    for (const [nodeId, gpus] of [['r-gpu-1', 4], ['r-gpu-2', 2], ['r-gpu-3', 8]] as const) {
      await nodes.registerNode({
        nodeId,
        group: 'gpu',
        hostname: 'replica-test',
        pid: 1,
        slots: gpus,
        cpuMillis: gpus * 2000,
        memMb: gpus * 4096,
        gpus: Array.from({ length: gpus }, (_, index) => ({ index, model: 'sim', memory_mb: 16384 })),
        labels: {},
      });
    }
    const submitJob = async (): Promise<void> => {
      await dataSource.query(
        `INSERT INTO jobs (id, tenant_id, submitted_by, task_type, cpu_millis, mem_mb, gpu, state, max_attempts, timeout_seconds)
         VALUES ($1, 'default', 'replicas', 'sleep', 1000, 1024, $2, 'QUEUED', 3, 60)`,
        [randomUUID(), 1 + Math.floor(Math.random() * 3)],
      );
    };
    for (let i = 0; i < 40; i++) await submitJob();

    let replicasDone = false;
    const replicas = Promise.all([runReplica(databaseUrl), runReplica(databaseUrl)]).finally(() => (replicasDone = true));
    // Churn while they run: finish a live attempt, cancel a job (waiting, or just placed), submit a new one.
    let ended = 0;
    let cancelled = 0;
    while (!replicasDone) {
      const open: { id: string }[] = await dataSource.query(`SELECT id FROM jobs WHERE state IN ('QUEUED', 'RUNNING') ORDER BY random() LIMIT 1`);
      if (open.length > 0) {
        await assignments.finishJob({ jobId: open[0].id, state: 'CANCELLED' });
        cancelled += 1;
      }
      const live: { job_id: string; attempt: number }[] = await dataSource.query(
        `SELECT job_id, attempt FROM job_assignments WHERE state IN ('PLACED', 'RUNNING') ORDER BY random() LIMIT 1`,
      );
      if (live.length > 0) {
        await assignments.endAssignment({ jobId: live[0].job_id, attempt: live[0].attempt, state: 'SUCCEEDED', jobState: 'SUCCEEDED' });
        ended += 1;
      }
      await submitJob();
    }
    const [first, second] = await replicas;

    expect(first.placed).toBeGreaterThan(0);
    expect(second.placed).toBeGreaterThan(0);
    const [{ n: assignmentCount }] = await dataSource.query(`SELECT count(*)::int AS n FROM job_assignments`);
    expect(assignmentCount).toBe(first.placed + second.placed);
    expect(ended).toBeGreaterThan(0);

    expect(await ledgerInvariantViolations(dataSource)).toEqual({});
    expect(cancelled).toBeGreaterThan(0);
    console.log(
      `two replicas: ${first.placed} + ${second.placed} placements in ${CYCLES_PER_PROCESS} cycles each, ${ended} attempts ended and ${cancelled} jobs cancelled meanwhile`,
    );
  });
});
