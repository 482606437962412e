import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createDataSource, LedgerRepository } from '../../libs/db';

// `npm run bench:placement`: placement decision latency against real Postgres with 1,000 nodes,
// at 100 and at 10,000 queued jobs. Writes its table into docs/benchmarks.md.
const ROOT = resolve(__dirname, '../../..');
const NODE_COUNT = 1000;
const GPU_NODES = 200;
const DECISIONS = 1500;
const CONCURRENCY = 4;

function postgres(...args: string[]): string {
  return execFileSync('bash', [join(ROOT, 'scripts/postgres.sh'), ...args], { encoding: 'utf8' }).trim();
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface Row {
  queued: number;
  mode: string;
  p50: number;
  p99: number;
  max: number;
  perSecond: number;
}

async function run(queued: number): Promise<Row[]> {
  postgres('start');
  const name = `mlis_bench_${queued}_${Date.now()}`;
  postgres('createdb', name);
  const dataSource = createDataSource(postgres('url').replace(/\/[^/]*$/, `/${name}`), CONCURRENCY + 2);
  await dataSource.initialize();
  try {
    await dataSource.runMigrations();
    const ledger = new LedgerRepository(dataSource);
    await ledger.ensureWorkerGroups(['cpu', 'gpu']);
    for (let i = 0; i < NODE_COUNT; i++) {
      const gpu = i < GPU_NODES;
      await ledger.registerNode({
        nodeId: `${gpu ? 'gpu' : 'cpu'}-${i}`,
        group: gpu ? 'gpu' : 'cpu',
        hostname: 'bench',
        pid: i,
        slots: 8,
        cpuMillis: 32_000,
        memMb: 131_072,
        gpus: gpu ? Array.from({ length: 8 }, (_, index) => ({ index, model: 'sim', memory_mb: 81_920 })) : [],
      });
    }
    // The waiting queue: one in five jobs wants GPUs.
    await dataSource.query(
      `INSERT INTO jobs (id, tenant_id, submitted_by, task_type, cpu_millis, mem_mb, gpu, state, max_attempts, timeout_seconds, created_at)
       SELECT gen_random_uuid(), 'default', 'bench', 'sleep', 1000, 1024, CASE WHEN g % 5 = 0 THEN 1 + g % 4 ELSE 0 END,
              'QUEUED', 3, 60, now() + g * interval '1 millisecond'
       FROM generate_series(1, $1) g`,
      [queued],
    );
    await dataSource.query('ANALYZE');

    const rows: Row[] = [];
    for (const concurrency of [1, CONCURRENCY]) {
      // Cycle through the queue: each decision places one attempt, then hands it back as LOST so the
      // job waits again with its next attempt. The queue keeps its size and every decision is real.
      const queue: { jobId: string; attempt: number }[] = (
        await dataSource.query(`SELECT id FROM jobs WHERE state = 'QUEUED' ORDER BY created_at`)
      ).map((r: { id: string }) => ({ jobId: r.id, attempt: 1 }));
      const latencies: number[] = [];
      const started = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < DECISIONS) {
            const job = queue[next++ % queue.length];
            const attempt = job.attempt++;
            const t0 = performance.now();
            const result = await ledger.placeJob({ jobId: job.jobId, attempt, excludeNodeIds: [] }, 3600);
            latencies.push(performance.now() - t0);
            if (result.placed) {
              await ledger.endAssignment({ jobId: job.jobId, attempt, state: 'LOST', jobState: 'QUEUED' });
            }
          }
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      latencies.sort((a, b) => a - b);
      rows.push({
        queued,
        mode: concurrency === 1 ? 'sequential' : `${concurrency} concurrent placers`,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        max: latencies[latencies.length - 1],
        perSecond: DECISIONS / elapsed,
      });
      await dataSource.query(`DELETE FROM job_assignments`);
    }
    return rows;
  } finally {
    await dataSource.destroy();
    postgres('psql', '-q', '-c', `DROP DATABASE IF EXISTS ${name}`);
  }
}

async function main(): Promise<void> {
  const rows = [...(await run(100)), ...(await run(10_000))];
  const table = [
    '| queued jobs | mode | p50 ms | p99 ms | max ms | decisions/s |',
    '|---:|---|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.queued.toLocaleString('en')} | ${r.mode} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(2)} | ${r.perSecond.toFixed(0)} |`,
    ),
  ].join('\n');
  console.log(table);

  const file = join(ROOT, 'docs/benchmarks.md');
  const section = [
    '<!-- bench:placement:start -->',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'}), project-local Postgres 15.`,
    `${NODE_COUNT} nodes (${GPU_NODES} with 8 GPUs), ${DECISIONS} decisions per row; a decision is one \`placeJob\` transaction`,
    '(lock the job, read live nodes and GPU reservations, choose, reserve, insert the assignment); each placed attempt is handed',
    'back right away (LOST → QUEUED) so the queue keeps its size and capacity never runs out. Wall-clock: expect noise on a shared machine.',
    '',
    table,
    '<!-- bench:placement:end -->',
  ].join('\n');
  const current = readFileSync(file, 'utf8');
  const updated = current.replace(/<!-- bench:placement:start -->[\s\S]*<!-- bench:placement:end -->/, section);
  writeFileSync(file, updated);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
