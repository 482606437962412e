import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { mintUserToken, SCOPES } from '@mlis/auth';
import { loadConfig } from '@mlis/config';
import { startDurablePostgres } from './support/durable-postgres';
import { jsonClient } from './support/json-client';
import { percentile } from './support/stats';
import { script, startBenchStack } from './support/stack';

// Part of `npm run bench:inference`: 200 `embed` jobs through the real stack (API, Temporal, Postgres ledger, control,
// one cpu node with 4 slots) with batching off and on; jobs/s from the first submission to the last finish, per-job
// latency from the job's own timestamps, and the node process's peak RSS (VmHWM). Writes its table into docs/benchmarks.md.
// Then, on the same stack, the artifact transfer benchmark (test/bench/artifacts.bench.ts) prints upload/download MB/s.
// Ports: TEMPORAL_PORT, TEMPORAL_UI_PORT, MLIS_API_PORT, MLIS_PG_PORT as for `npm run up` (defaults 7233, 8233, 8001, 55432).
const ROOT = resolve(__dirname, '../../..');
const STATE_DIR = join(ROOT, '.mlis/bench-inference');
const JOBS = 200;
const SLOTS = 4;
const NODE = `cpu-1:cpu:${SLOTS}:${SLOTS}:8192:0`;

interface Job {
  id: string;
  state: string;
  created_at: string;
  finished_at: string | null;
  result: { batch_size: number; cache: string; execution_provider: string } | null;
}

interface Row {
  label: string;
  jobsPerSecond: number;
  p50: number;
  p99: number;
  meanBatch: number;
  rssMb: number;
}

/** The artifact transfer benchmark (upload/download MB/s against dd) on this stack while it is up. */
function measureTransfers(stackEnv: Record<string, string>, token: string): void {
  execFileSync('node', [join(ROOT, 'dist/test/bench/artifacts.bench.js')], { env: { ...process.env, ...stackEnv, MLIS_TOKEN: token }, stdio: 'inherit' });
}

async function measure(env: Record<string, string>, label: string, batch: Record<string, string>, transfers = false): Promise<Row> {
  const stackEnv = { ...env, ...batch };
  startBenchStack(stackEnv);
  try {
    const config = loadConfig({ ...process.env, ...stackEnv });
    const token = mintUserToken(readFileSync(config.auth.devSecretFile, 'utf8').trim(), config.auth, { sub: 'bench', tenant: 'default', scope: SCOPES.join(' ') });
    // A fresh connection per request: a pooled one from the previous run's API (stopped since) would fail.
    const call = jsonClient<Job>(config.apiUrl, token, false);
    const submit = (i: number) => call('POST', '/v1/jobs', { task_type: 'inference', params: { mode: 'embed', text: `Benchmark sentence number ${i} about GPUs, queues and schedulers.` }, cpu: 1, mem_mb: 256 });
    const finish = async (id: string): Promise<Job> => {
      const deadline = Date.now() + 300_000;
      for (;;) {
        const job = await call('GET', `/v1/jobs/${id}`);
        if (job.finished_at) return job;
        if (Date.now() > deadline) throw new Error(`job ${id} did not finish in 300 s`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    // The node loads its model on the first job: measure warm.
    await finish((await submit(-1)).id);
    const accepted: Job[] = [];
    for (let i = 0; i < JOBS; i += 20) accepted.push(...(await Promise.all(Array.from({ length: Math.min(20, JOBS - i) }, (_, k) => submit(i + k)))));
    const jobs: Job[] = [];
    for (const job of accepted) jobs.push(await finish(job.id));
    const failed = jobs.filter((j) => j.state !== 'SUCCEEDED');
    if (failed.length > 0) throw new Error(`${failed.length} jobs did not succeed, e.g. ${failed[0].id} ${failed[0].state}`);
    const start = Math.min(...jobs.map((j) => Date.parse(j.created_at)));
    const end = Math.max(...jobs.map((j) => Date.parse(j.finished_at as string)));
    const latencies = jobs.map((j) => Date.parse(j.finished_at as string) - Date.parse(j.created_at)).sort((a, b) => a - b);
    if (transfers) measureTransfers(stackEnv, token);
    const pid = script('scripts/stack.sh', ['pid', 'node-cpu-1'], stackEnv);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return {
      label,
      jobsPerSecond: JOBS / ((end - start) / 1000),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      meanBatch: jobs.reduce((sum, j) => sum + (j.result?.batch_size ?? 0), 0) / JOBS,
      rssMb: hwm ? Number(hwm[1]) / 1024 : Number.NaN,
    };
  } finally {
    script('scripts/stack.sh', ['stop'], stackEnv);
  }
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0];
  const stopPostgres = startDurablePostgres();
  const database = `mlis_bench_inference_${Date.now()}`;
  script('scripts/postgres.sh', ['createdb', database]);
  const databaseUrl = script('scripts/postgres.sh', ['url']).replace(/\/[^/]*$/, `/${database}`);
  // Migrations run as the owner, which grants the runtime role (DATABASE_URL) its rights.
  const migrationDatabaseUrl = script('scripts/postgres.sh', ['owner-url']).replace(/\/[^/]*$/, `/${database}`);
  const temporalPort = process.env.TEMPORAL_PORT ?? '7233';
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    MLIS_TEMPORAL_DIR: join(STATE_DIR, 'temporal'),
    MLIS_STATE_DIR: STATE_DIR,
    MLIS_AUTH_DEV_SECRET_FILE: join(STATE_DIR, 'secrets', 'dev-signing-key'),
    MLIS_WORKER_BOOTSTRAP_SECRET_FILE: join(STATE_DIR, 'secrets', 'worker-bootstrap-secret'),
    MLIS_STACK_NODES: NODE,
    MLIS_WORKER_GROUPS: 'cpu',
  };
  script('temporal/dev-server.sh', ['start'], env);
  const rows: Row[] = [];
  try {
    script('scripts/secrets.sh', ['ensure'], env);
    execFileSync('node', [join(ROOT, 'dist/db/run-migrations.js')], { env: { ...process.env, ...env, MLIS_MIGRATION_DATABASE_URL: migrationDatabaseUrl }, stdio: 'inherit' });
    rows.push(await measure(env, 'off', { MLIS_BATCH_MAX_WAIT_MS: '0' }));
    rows.push(await measure(env, `on: wait 5 ms, max ${SLOTS}`, { MLIS_BATCH_MAX_WAIT_MS: '5', MLIS_BATCH_MAX_SIZE: String(SLOTS) }, true));
  } finally {
    script('temporal/dev-server.sh', ['stop'], env);
    script('scripts/postgres.sh', ['psql', '-q', '-c', `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`]);
    stopPostgres();
  }

  const section = [
    '<!-- bench:inference-stack:start -->',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores (${cpus()[0].model.trim()}), Node ${process.version}: the whole stack on this`,
    `machine (Postgres, Temporal dev server, api, control, one node \`${NODE}\`), ${JOBS} \`embed\` jobs of one sentence submitted 20 at a`,
    'time over HTTP after one warm-up job; jobs/s from the first `created_at` to the last `finished_at`, latency per job the same two stamps.',
    `1-minute load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after.`,
    '',
    '| batching | jobs/s | job p50 ms | job p99 ms | mean batch size | node peak RSS MB |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.label} | ${r.jobsPerSecond.toFixed(1)} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.meanBatch.toFixed(2)} | ${r.rssMb.toFixed(0)} |`),
    '<!-- bench:inference-stack:end -->',
  ].join('\n');
  console.log(section);
  const file = join(ROOT, 'docs/benchmarks.md');
  const current = readFileSync(file, 'utf8');
  const marked = /<!-- bench:inference-stack:start -->[\s\S]*<!-- bench:inference-stack:end -->/;
  writeFileSync(file, marked.test(current) ? current.replace(marked, section) : `${current.trimEnd()}\n\n### Through the stack\n\n${section}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
