import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { AssignmentsRepository, JOB_FINISHED_CHANNEL, JobFinishedNotices, NodesRepository, SchedulingStore, type CycleOptions } from '@mlis/db';
import { postgres, startDurablePostgres, withBenchDatabase } from './support/durable-postgres';
import { median, percentile } from './support/stats';

// `npm run bench:ledger`: how many attempts a second the ledger can end (`mlis_end_attempt`, the write every job ends
// with), against a durable local Postgres, by how many writers at once and how many tenants the jobs belong to, and by
// how the API's long-polls learn of the end: as built (ADR 0043: inside a lone end write's transaction, after the
// commit of one that overlaps others), inside every end write's transaction (as before ADR 0043), or not at all.
// Every end of one tenant's job updates that tenant's two shared rows (`tenant_usage`, `job_outcomes`), and Postgres
// serialises the commits of every transaction that notifies: this benchmark measures what those two points of
// contention cost. Writes its table into docs/benchmarks.md.
const ROOT = resolve(__dirname, '../../..');
const NODE_COUNT = 64;
const SLOTS = 64;
/** Attempts ended by one timed pass. */
const ENDS = 4000;
const WRITERS = [1, 8, 32];
const ROUNDS = 3;
const TENANT_COUNTS = [1, 16];
const CYCLE: CycleOptions = { liveWithinSeconds: 3600, agingSeconds: 600, laneWindow: 512, holdDepth: 16 };
/**
 * How an end's notification is sent: as built (ADR 0043: inside the end write's transaction when it is the process's
 * only end write under way, else after its commit, several to a statement), always inside the transaction (before
 * ADR 0043), or not at all.
 */
const NOTIFY_MODES = ['as built', 'in transaction', 'none'] as const;
type NotifyMode = (typeof NOTIFY_MODES)[number];
/** Where `mlis_end_attempt` notifies when its caller asks it to (migration 1767000000000). */
const CALLER_CHOOSES = 'IF terminal AND p_notify THEN';

/** One timed pass: ENDS attempts ended. */
interface Sample {
  perSecond: number;
  p50: number;
  p99: number;
  /** Cores the whole machine kept busy (from /proc/stat): near all of them, the pass was CPU-bound. */
  coresBusy: number;
  /** Of the ends notified, the share notified after their commit (`JobFinishedNotices`) rather than inside it. */
  afterCommit: number;
}

/** A row of the table: the medians of its rounds' samples, and the range of their rates. */
interface Row extends Sample {
  tenants: number;
  writers: number;
  notify: NotifyMode;
  minPerSecond: number;
  maxPerSecond: number;
}

/** `ENDS` queued jobs spread round robin over the first `tenants` tenants, placed by scheduling cycles. */
async function placeJobs(dataSource: DataSource, scheduling: SchedulingStore, tenants: number): Promise<{ job_id: string; attempt: number }[]> {
  await dataSource.query(
    `INSERT INTO jobs (id, tenant_id, submitted_by, task_type, cpu_millis, mem_mb, gpu, priority, state, max_attempts, timeout_seconds, created_at)
     SELECT gen_random_uuid(), 't' || (g % $2), 'bench', 'sleep', 1000, 64, 0, 0, 'QUEUED', 3, 60, clock_timestamp()
     FROM generate_series(1, $1) g`,
    [ENDS, tenants],
  );
  while ((await scheduling.runCycle(CYCLE)).placed.length > 0);
  const placed: { job_id: string; attempt: number }[] = await dataSource.query(`SELECT job_id, attempt FROM job_assignments WHERE state = 'PLACED'`);
  if (placed.length !== ENDS) throw new Error(`placed ${placed.length} jobs, expected ${ENDS}`);
  return placed;
}

/** Ends every attempt in `placed`, `writers` at a time, each through its own pool connection; per-call latencies in ms. */
async function endAll(assignments: AssignmentsRepository, placed: { job_id: string; attempt: number }[], writers: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const writer = async (): Promise<void> => {
    while (next < placed.length) {
      const { job_id: jobId, attempt } = placed[next++];
      const t0 = performance.now();
      await assignments.endAssignment({ jobId, attempt, state: 'SUCCEEDED', jobState: 'SUCCEEDED' });
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
  return latencies;
}

/** Busy and total jiffies of all cores so far (/proc/stat's first line). */
function cpuJiffies(): { busy: number; total: number } {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

async function run(dataSource: DataSource, url: string): Promise<Row[]> {
  // Like the API's JobFinishedFeed: one connection listening, so the notifications are delivered and read.
  const listener = new Client({ connectionString: url });
  let notified = 0;
  try {
    const nodes = new NodesRepository(dataSource);
    const scheduling = new SchedulingStore(dataSource);
    const noticeFailures: string[] = [];
    const notices = new JobFinishedNotices(dataSource, (message) => noticeFailures.push(message));
    let sentAfterCommit = 0;
    const sendingNone = new AssignmentsRepository(dataSource, { send: () => undefined });
    // Each way of notifying: who ends the attempts, and the ledger function they call (put back after each pass).
    const [{ definition }] = await dataSource.query(
      `SELECT pg_get_functiondef(p.oid) AS definition FROM pg_proc p WHERE p.proname = 'mlis_end_attempt'`,
    );
    if (definition.split(CALLER_CHOOSES).length !== 2) throw new Error(`mlis_end_attempt no longer holds exactly one "${CALLER_CHOOSES}"`);
    const passes: Record<NotifyMode, { assignments: AssignmentsRepository; definition: string }> = {
      'as built': {
        assignments: new AssignmentsRepository(dataSource, { send: (jobId) => (sentAfterCommit++, notices.send(jobId)) }),
        definition,
      },
      // The function notifying whatever its caller asks; nothing sent after the commit.
      'in transaction': { assignments: sendingNone, definition: definition.replace(CALLER_CHOOSES, 'IF terminal THEN') },
      none: { assignments: sendingNone, definition: definition.replace(CALLER_CHOOSES, 'IF false THEN') },
    };
    await nodes.ensureWorkerGroups(['cpu']);
    for (let t = 0; t < Math.max(...TENANT_COUNTS); t++) await dataSource.query(`INSERT INTO tenants (id, name) VALUES ($1, $1)`, [`t${t}`]);
    for (let i = 0; i < NODE_COUNT; i++) {
      await nodes.registerNode({
        nodeId: `cpu-${i}`,
        group: 'cpu',
        hostname: 'bench',
        pid: i,
        slots: SLOTS,
        cpuMillis: SLOTS * 1000,
        memMb: SLOTS * 64,
        gpus: [],
        labels: {},
      });
    }
    await listener.connect();
    listener.on('notification', () => (notified += 1));
    await listener.query(`LISTEN ${JOB_FINISHED_CHANNEL}`);

    const measure = async (tenants: number, writers: number, notify: NotifyMode): Promise<Sample> => {
      const placed = await placeJobs(dataSource, scheduling, tenants);
      await dataSource.query('ANALYZE');
      await dataSource.query(passes[notify].definition);
      const before = notified;
      const sentAfterCommitBefore = sentAfterCommit;
      const cpu0 = cpuJiffies();
      const t0 = performance.now();
      const latencies = await endAll(passes[notify].assignments, placed, writers);
      // The pass ends once the last notification has been sent.
      await notices.settled();
      const seconds = (performance.now() - t0) / 1000;
      const cpu1 = cpuJiffies();
      await dataSource.query(definition);
      if (noticeFailures.length > 0) throw new Error(`notifications failed: ${noticeFailures.join('; ')}`);
      if (notify !== 'none') await waitFor(() => notified - before === ENDS, `${ENDS} notifications (have ${notified - before})`);
      else if (notified !== before) throw new Error(`${notified - before} notifications in a pass that sends none`);
      latencies.sort((a, b) => a - b);
      const coresBusy = (cpus().length * (cpu1.busy - cpu0.busy)) / (cpu1.total - cpu0.total);
      const afterCommit = (sentAfterCommit - sentAfterCommitBefore) / ENDS;
      return { perSecond: ENDS / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), coresBusy, afterCommit };
    };

    const configs = TENANT_COUNTS.flatMap((tenants) => WRITERS.flatMap((writers) => NOTIFY_MODES.map((notify) => ({ tenants, writers, notify }))));
    const samples: Sample[][] = configs.map(() => []);
    // Round after round through every row, each way of notifying in turn, so a drift of this shared machine falls on
    // all of them; a row reports the median of its rounds.
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [index, { tenants, writers, notify }] of configs.entries()) {
        const sample = await measure(tenants, writers, notify);
        console.log(`round ${round}: ${tenants} tenant(s), ${writers} writer(s), notified ${notify}: ${sample.perSecond.toFixed(0)} ends/s`);
        samples[index].push(sample);
      }
    }
    const [{ total }] = await dataSource.query(`SELECT coalesce(sum(total), 0)::int AS total FROM job_outcomes WHERE state = 'SUCCEEDED'`);
    if (total !== configs.length * ROUNDS * ENDS) throw new Error(`job_outcomes counts ${total} SUCCEEDED, expected ${configs.length * ROUNDS * ENDS}`);
    return configs.map((config, index) => {
      const of = (figure: keyof Sample): number => median(samples[index].map((sample) => sample[figure]));
      const rates = samples[index].map((sample) => sample.perSecond);
      return { ...config, perSecond: of('perSecond'), minPerSecond: Math.min(...rates), maxPerSecond: Math.max(...rates), p50: of('p50'), p99: of('p99'), coresBusy: of('coresBusy'), afterCommit: of('afterCommit') };
    });
  } finally {
    await listener.end();
  }
}

async function main(): Promise<void> {
  const stopPostgres = startDurablePostgres();
  let rows: Row[];
  let settings: string;
  let fsyncs: string;
  try {
    settings = postgres(
      'psql',
      '-At',
      '-c',
      `SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', 'commit_delay', 'server_version')`,
    );
    // Commits wait for the disk's flush; a server of DATABASE_URL has its disk elsewhere.
    fsyncs = process.env.DATABASE_URL ? 'not measured (DATABASE_URL)' : `${postgres('test-fsync')} a second`;
    rows = await withBenchDatabase(`mlis_bench_ledger_${Date.now()}`, Math.max(...WRITERS), run);
  } finally {
    stopPostgres();
  }
  const table = [
    '| tenants | writers at once | notified | ends/s | ends/s by round, lowest-highest | end p50 ms | end p99 ms | cores busy | notified after the commit |',
    '|---:|---:|---|---:|---|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.tenants} | ${r.writers} | ${r.notify} | ${r.perSecond.toFixed(0)} | ${r.minPerSecond.toFixed(0)}-${r.maxPerSecond.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.coresBusy.toFixed(2)} | ${r.notify === 'as built' ? `${(100 * r.afterCommit).toFixed(0)} %` : '—'} |`,
    ),
  ].join('\n');
  console.log(table);
  const section = [
    '<!-- bench:ledger:start -->',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown cpu'}), Node ${process.version},`,
    `Postgres (${settings}); the disk's fdatasync of one 8 kB write: ${fsyncs} (pg_test_fsync).`,
    `${NODE_COUNT} nodes of ${SLOTS} slots. A pass places ${ENDS.toLocaleString('en')} jobs (untimed), then times ending their attempts as SUCCEEDED`,
    '(`AssignmentsRepository.endAssignment`, one `mlis_end_attempt` call and transaction each), a number of writers at once,',
    'each on a connection of its own; the jobs belong to 1 or 16 tenants, round robin. Notified "as built" (ADR 0043): inside',
    "the end write's transaction when no other end write of the process is under way, else after its commit, the ids that",
    'arrive while a notifying statement is in flight going out in the next one (the pass ends when the last has gone);',
    '"in transaction": the `pg_notify` inside `mlis_end_attempt` for every end, as before ADR 0043; "none": no notification.',
    "One connection LISTENs throughout, as the API's does, and hears every end notified. Cores busy:",
    `the whole machine's CPU over the pass (this benchmark and Postgres share its cores). ${ROUNDS} rounds through every row,`,
    'each way of notifying in turn; a row gives the medians of its passes.',
    '',
    table,
    '<!-- bench:ledger:end -->',
  ].join('\n');
  const file = join(ROOT, 'docs/benchmarks.md');
  const current = readFileSync(file, 'utf8');
  if (!current.includes('<!-- bench:ledger:start -->')) throw new Error('docs/benchmarks.md has no bench:ledger section');
  writeFileSync(file, current.replace(/<!-- bench:ledger:start -->[\s\S]*<!-- bench:ledger:end -->/, section));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
