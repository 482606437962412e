import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { mintUserToken, SCOPES } from '@mlis/auth';
import { loadConfig } from '@mlis/config';
import { jobWorkflowId } from '@mlis/contracts';
import { RAW_WORKFLOW_QUEUE } from './e2e-raw.workflow';
import { parsePid } from '../support/pid';
import { startDurablePostgres } from './support/durable-postgres';
import { jsonClient } from './support/json-client';
import { script, startBenchStack } from './support/stack';
import { median, percentile } from './support/stats';

// `npm run bench:e2e`: the job path end to end against raw Temporal, in one run on one machine (issue #11).
//  (a) raw baseline: a workflow running one 10 ms activity on a remote task queue, workflow and activity workers in two
//      processes of their own (test/bench/e2e-raw-worker.ts), on the same dev server, C callers each starting one and
//      waiting for its result;
//  (b) MLIS over HTTP: C clients each submitting a `sleep` job (0.01 s, cpu 1) and waiting for it through the long-poll
//      (GET /v1/jobs/:id?wait=60), on the README's stack (api, control, nodes cpu-1 cpu-2 gpu-1 gpu-2, default settings)
//      with 16 slots and 16 cores per node: 64 slots, more than the most clients, as the raw activity worker takes 100
//      at once, so that jobs wait for the job path, not for capacity;
//  (b') scale-out: the same loads at 20 and 50 clients, one after another, with one api and one control process, one
//      api and two control processes, and two of each (MLIS_STACK_API_REPLICAS, MLIS_STACK_CONTROL_REPLICAS), the
//      clients' jobs spread over the APIs;
//  (c) recovery: kill -9 of the node running a long job, again and again; kill → the next attempt RUNNING elsewhere
//      (its assignment's started_at), on a stack with a 3 s lease and three cpu nodes. The bench stops the killed
//      node's supervisor (stop-node), so the restart is its own and not a backoff that doubles with every kill, then
//      starts the node again and waits until it is ACTIVE before the next kill.
// CPU per process from /proc/<pid>/stat (utime + stime of the process and its descendants, with the children they
// reaped) around each load.
// Writes its section into docs/benchmarks.md. MLIS_BENCH_E2E_QUICK=C runs only (a) and (b) at C clients (300 jobs each)
// and prints one summary without touching the docs: an A/B of a change in about three minutes. Ports: TEMPORAL_PORT,
// TEMPORAL_UI_PORT, MLIS_API_PORT, MLIS_PG_PORT, MLIS_STACK_METRICS_PORT as for `npm run up`; TEMPORAL_METRICS_PORT (7235),
// where the dev server serves its own metrics, which the bench counts (serverRequests).
const ROOT = resolve(__dirname, '../../..');
const STATE_DIR = join(ROOT, '.mlis/bench-e2e');
const LOADS = [
  { clients: 1, jobs: 30 },
  { clients: 20, jobs: 400 },
  { clients: 50, jobs: 400 },
];
/** How many api and control processes a stack runs. */
interface Topology {
  apis: number;
  controls: number;
}
const SINGLE: Topology = { apis: 1, controls: 1 };
/**
 * The scale-out comparison: one of each again, beside a second control process alone and a second of each, so that all
 * three are measured minutes apart (the VM's speed moves between the first round and the last).
 */
const SCALE_OUT: Topology[] = [
  SINGLE,
  { apis: 1, controls: 2 },
  { apis: 2, controls: 2 },
];
const topologyName = (topology: Topology): string => `${topology.apis} + ${topology.controls}`;
const MULTI_CLIENT_LOADS = LOADS.filter((load) => load.clients > 1);
/**
 * The raw and MLIS loads at 20 and 50 clients run this many times, alternating, and the throughput targets are read from
 * the medians: the raw baseline alone moved by a fifth between runs half an hour apart on the same machine, and from
 * 45 to 72 workflows/s between the three rounds of one run.
 */
const ROUNDS = Number(process.env.MLIS_BENCH_E2E_ROUNDS ?? 5);
const JOB_SECONDS = 0.01;
const WAIT_SECONDS = 60;
const THROUGHPUT_NODES = 'cpu-1:cpu:16:16:16384:0 cpu-2:cpu:16:16:16384:0 gpu-1:gpu:16:16:16384:2 gpu-2:gpu:16:16:16384:2';
const RECOVERY_NODES = 'cpu-1:cpu:4:4:8192:0 cpu-2:cpu:4:4:8192:0 cpu-3:cpu:4:4:8192:0';
const RECOVERY_ENV = { MLIS_WORKER_GROUPS: 'cpu', MLIS_LEASE_SECONDS: '3', MLIS_NODE_HEARTBEAT_SECONDS: '1', MLIS_NODE_DEAD_AFTER_SECONDS: '4', MLIS_SCHEDULE_TO_START_SECONDS: '10' };
const KILLS = 21;
// Attempts one recovery job may use up (MAX_ATTEMPTS_LIMIT is 20); then the next job takes over.
const KILLS_PER_JOB = 7;
const HISTORY_SAMPLE = 50;
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** The pid scripts/stack.sh recorded for a process of the bench's stack; throws when it holds none. */
function recordedPid(name: string, stackEnv: Record<string, string>): number {
  const pid = parsePid(script('scripts/stack.sh', ['pid', name], stackEnv));
  if (pid === undefined) throw new Error(`no pid recorded for ${name}`);
  return pid;
}

// ---- CPU seconds from /proc ----

interface ProcStat {
  ppid: number;
  ticks: number;
}

function procTable(): Map<number, ProcStat> {
  const table = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state ppid ... utime(14) stime(15) cutime(16) cstime(17).
      // cutime and cstime hold the children it has reaped, so a Postgres backend that exits keeps counting.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(entry), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]) });
    } catch {
      // Gone meanwhile.
    }
  }
  return table;
}

/** The processes named and all their descendants, by group. */
function processTrees(groups: Record<string, number[]>, table = procTable()): Record<string, number[]> {
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of table) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const result: Record<string, number[]> = {};
  for (const [name, roots] of Object.entries(groups)) {
    const pids: number[] = [];
    const pending = [...roots];
    while (pending.length > 0) {
      const pid = pending.pop() as number;
      pids.push(pid);
      pending.push(...(children.get(pid) ?? []));
    }
    result[name] = pids;
  }
  return result;
}

/** CPU seconds used so far by each group: the processes named and all their descendants. */
function cpuSeconds(groups: Record<string, number[]>): Record<string, number> {
  const table = procTable();
  const trees = processTrees(groups, table);
  const ticksOf = (pids: number[]) => pids.reduce((ticks, pid) => ticks + (table.get(pid)?.ticks ?? 0), 0);
  return Object.fromEntries(Object.entries(trees).map(([name, pids]) => [name, ticksOf(pids) / CLOCK_TICKS]));
}

/**
 * Seconds each group's threads have spent runnable but waiting for a core (run_delay, the second field of
 * /proc/<pid>/task/<tid>/schedstat). Threads that ended meanwhile, a Postgres backend that exited among them, drop out
 * of the sum, so a group whose threads come and go is undercounted; the processes of a stack keep theirs.
 */
function coreWaitSeconds(groups: Record<string, number[]>): Record<string, number> {
  const waited = (pid: number | 'self'): number => {
    let nanoseconds = 0;
    try {
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        try {
          nanoseconds += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[1]);
        } catch {
          // The thread ended meanwhile.
        }
      }
    } catch {
      // The process ended meanwhile.
    }
    return nanoseconds / 1e9;
  };
  const trees = processTrees(groups);
  return {
    ...Object.fromEntries(Object.entries(trees).map(([name, pids]) => [name, pids.reduce((sum, pid) => sum + waited(pid), 0)])),
    'bench client': waited('self'),
  };
}

/** What each thread of a Node process is, by its name (`/proc/<pid>/task/<tid>/comm`; Node 20 calls its main thread `node`). */
const THREAD_KINDS: [pattern: RegExp, kind: string][] = [
  [/^(node-MainThread|node)$/, 'main'],
  // The Temporal SDK's workflow thread, a worker_threads thread.
  [/^WorkerThread$/, 'workflow thread'],
  // V8's platform threads: garbage collection and compilation.
  [/^node-V8Worker|^V8 DefaultWorke/, 'V8 helpers'],
  // The SDK core's Rust runtime.
  [/^tokio-runtime/, 'SDK core'],
];

/** The process group whose CPU a load splits by thread: the API for MLIS, the workflow worker for raw Temporal. */
const THREAD_SPLIT_GROUPS = ['api', 'workflow worker'];

/** CPU seconds so far of each thread alive now of the processes `roots` and their descendants, keyed by pid/tid, with its kind. */
function threadCpuSeconds(roots: number[]): Map<string, { kind: string; seconds: number }> {
  const threads = new Map<string, { kind: string; seconds: number }>();
  for (const pid of processTrees({ roots }).roots) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // The process ended meanwhile.
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
        const kind = THREAD_KINDS.find(([pattern]) => pattern.test(name))?.[1] ?? 'other';
        threads.set(`${pid}/${tid}`, { kind, seconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS });
      } catch {
        // The thread ended meanwhile.
      }
    }
  }
  return threads;
}

/**
 * A group's CPU seconds over a load by kind of thread, from snapshots before and after it and the group's own CPU over
 * it (`total`). A thread that ended during the load (the sandbox's deadlock watchdog starts one for every call into a
 * workflow) is in `total` but in no snapshot after: what the live threads do not account for is "ended threads".
 */
function threadSplit(before: Map<string, { seconds: number }>, after: Map<string, { kind: string; seconds: number }>, total: number): Record<string, number> {
  const split: Record<string, number> = Object.fromEntries([...THREAD_KINDS.map(([, kind]) => kind), 'other'].map((kind) => [kind, 0]));
  let live = 0;
  for (const [key, { kind, seconds }] of after) {
    const used = seconds - (before.get(key)?.seconds ?? 0);
    split[kind] += used;
    live += used;
  }
  split['ended threads'] = Math.max(0, total - live);
  return split;
}

/**
 * MLIS_BENCH_E2E_SPLIT_CORES=1: what the ratio would be with the API and Postgres off the Temporal side's cores, as on a
 * Temporal cluster. The Temporal side (the server, the raw workflow's two workers, control and the nodes) runs on core
 * 0; the API, Postgres and the bench client on core 1. Both loads get the same single core for their Temporal side.
 * Since ADR 0052 the API runs most job workflow tasks itself, so core 1 carries part of MLIS's Temporal side too.
 */
const SPLIT_CORES = process.env.MLIS_BENCH_E2E_SPLIT_CORES === '1';
const TEMPORAL_SIDE = new Set(['temporal', 'workflow worker', 'activity worker', 'control', 'nodes']);

/** Pins every thread of each group's processes (and of the bench itself) to its side's core; `all` undoes it. */
function pinCores(groups: Record<string, number[]>, all = false): void {
  const pin = (pid: number, cores: string) => {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { stdio: 'ignore' });
    } catch {
      // Gone meanwhile (a Postgres backend that ended).
    }
  };
  const every = `0-${cpus().length - 1}`;
  for (const [name, pids] of Object.entries(processTrees(groups))) for (const pid of pids) pin(pid, all ? every : TEMPORAL_SIDE.has(name) ? '0' : '1');
  pin(process.pid, all ? every : '1');
}

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((name) => [name, after[name] - (before[name] ?? 0)]));
}

// ---- one load ----

interface Run {
  clients: number;
  jobs: number;
  jobsPerSecond: number;
  submitP50: number;
  submitP99: number;
  /** p99 ms of the clients' first submissions (all sent at once, a burst) and of their later ones. */
  submitP99Burst: number;
  submitP99Later: number;
  e2eP50: number;
  e2eP99: number;
  failed: number;
  /** MLIS: from the job's finished_at to the long-poll's answer, p50 / p99 ms. */
  wakeP50: number;
  wakeP99: number;
  /** MLIS: p50 ms of each stage of a job's life in the ledger. */
  stageP50: Partial<Record<Stage, number>>;
  /** CPU seconds per job, per process group. */
  cpuPerJob: Record<string, number>;
  /** Seconds per job each process group was runnable but waited for a core (`coreWaitSeconds`). */
  coreWaitPerJob: Record<string, number>;
  /** CPU seconds per job of the API (MLIS) or the workflow worker (raw) by kind of thread (`threadSplit`). */
  threadCpuPerJob?: { group: string; perKind: Record<string, number> };
  /** MLIS: scheduling cycles run per job, by every API and control process. */
  cyclesPerJob?: number;
  /** MLIS: statements run on the ledger per job, by every process, when the local cluster has pg_stat_statements. */
  statementsPerJob?: number;
  /** The Temporal server's requests per job (or workflow), by kind and operation (`serverRequests`). */
  serverRequestsPerJob?: Record<string, number>;
  ids: string[];
}

/** `clients` loops share `jobs` jobs; `one` submits one job, waits for it and returns its id and two latencies (ms). */
async function drive(
  clients: number,
  jobs: number,
  groups: () => Record<string, number[]>,
  one: () => Promise<{ id: string; submitMs: number; e2eMs: number; ok: boolean; wakeMs?: number; stages?: Record<Stage, number> }>,
  counters: { cycles?: () => Promise<number>; statements?: () => Promise<number>; server?: () => Promise<Record<string, number>> } = {},
): Promise<Run> {
  const { cycles, statements, server } = counters;
  let next = 0;
  const wake: number[] = [];
  const stages = new Map<Stage, number[]>(STAGES.map((stage) => [stage, []]));
  // Submission round trips: each client's first (all sent at once) and its later ones.
  const burst: number[] = [];
  const later: number[] = [];
  const e2e: number[] = [];
  const ids: string[] = [];
  let failed = 0;
  const cyclesBefore = await cycles?.();
  const statementsBefore = await statements?.();
  const serverBefore = await server?.();
  if (SPLIT_CORES) pinCores(groups());
  // The processes do not change during a load: their pids are looked up once.
  const split = Object.entries(groups()).find(([name]) => THREAD_SPLIT_GROUPS.includes(name));
  const threadsBefore = split && threadCpuSeconds(split[1]);
  const before = cpuSeconds(groups());
  const waitBefore = coreWaitSeconds(groups());
  const benchBefore = process.cpuUsage();
  const started = Date.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      let first = true;
      while (next < jobs) {
        next += 1;
        const result = await one();
        (first ? burst : later).push(result.submitMs);
        first = false;
        e2e.push(result.e2eMs);
        ids.push(result.id);
        if (result.wakeMs !== undefined) wake.push(result.wakeMs);
        for (const stage of STAGES) if (result.stages) stages.get(stage)?.push(result.stages[stage]);
        if (!result.ok) failed += 1;
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  const used = diff(cpuSeconds(groups()), before);
  const waited = diff(coreWaitSeconds(groups()), waitBefore);
  const bench = process.cpuUsage(benchBefore);
  used['bench client'] = (bench.user + bench.system) / 1e6;
  const threadsAfter = split && threadCpuSeconds(split[1]);
  const cyclesAfter = await cycles?.();
  const statementsAfter = await statements?.();
  const serverAfter = await server?.();
  return {
    clients,
    jobs,
    jobsPerSecond: jobs / seconds,
    submitP50: percentile([...burst, ...later], 50),
    submitP99: percentile([...burst, ...later], 99),
    submitP99Burst: percentile(burst, 99),
    submitP99Later: later.length > 0 ? percentile(later, 99) : Number.NaN,
    e2eP50: percentile(e2e, 50),
    e2eP99: percentile(e2e, 99),
    failed,
    wakeP50: wake.length > 0 ? percentile(wake, 50) : Number.NaN,
    wakeP99: wake.length > 0 ? percentile(wake, 99) : Number.NaN,
    stageP50: Object.fromEntries([...stages].filter(([, values]) => values.length > 0).map(([stage, values]) => [stage, percentile(values, 50)])),
    cpuPerJob: Object.fromEntries(Object.entries(used).map(([name, value]) => [name, value / jobs])),
    coreWaitPerJob: Object.fromEntries(Object.entries(waited).map(([name, value]) => [name, value / jobs])),
    threadCpuPerJob:
      split && threadsBefore && threadsAfter
        ? {
            group: split[0],
            perKind: Object.fromEntries(
              Object.entries(threadSplit(threadsBefore, threadsAfter, used[split[0]])).map(([kind, seconds]) => [kind, seconds / jobs]),
            ),
          }
        : undefined,
    cyclesPerJob: cyclesBefore === undefined || cyclesAfter === undefined ? undefined : (cyclesAfter - cyclesBefore) / jobs,
    statementsPerJob: statementsBefore === undefined || statementsAfter === undefined ? undefined : (statementsAfter - statementsBefore) / jobs,
    serverRequestsPerJob:
      serverBefore && serverAfter
        ? Object.fromEntries(Object.entries(diff(serverAfter, serverBefore)).map(([name, count]) => [name, count / jobs]))
        : undefined,
    ids,
  };
}

interface HistorySample {
  mean: number;
  min: number;
  max: number;
  /** The event types of the history with the median count, in order. */
  typical: string[];
}

/** The history sample of a run: HISTORY_SAMPLE from its middle (its first jobs start together, its last finish with fewer clients left). */
function middleOf(run: Run): string[] {
  const from = Math.max(0, Math.floor((run.ids.length - HISTORY_SAMPLE) / 2));
  return run.ids.slice(from, from + HISTORY_SAMPLE);
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The events of each workflow's history, read once for both the event counts and the path. */
async function fetchHistories(client: Client, workflowIds: string[]): Promise<HistoryEvent[][]> {
  const histories: HistoryEvent[][] = [];
  for (const id of workflowIds) histories.push((await client.workflow.getHandle(id).fetchHistory()).events ?? []);
  return histories;
}

function historySample(eventsOf: HistoryEvent[][]): HistorySample {
  const histories = eventsOf.map((events) => events.map((event) => String(temporal.api.enums.v1.EventType[event.eventType ?? 0]).replace(/^EVENT_TYPE_/, '')));
  const counts = histories.map((history) => history.length);
  const typical = [...histories].sort((a, b) => a.length - b.length)[Math.floor(histories.length / 2)];
  return { mean: counts.reduce((a, b) => a + b, 0) / counts.length, min: Math.min(...counts), max: Math.max(...counts), typical };
}

// ---- (a) raw Temporal ----

function startRawWorker(role: string, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn('node', [join(ROOT, 'dist/test/bench/e2e-raw-worker.js'), role], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolvePromise, reject) => {
    child.once('exit', (code) => reject(new Error(`raw ${role} worker exited ${code}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolvePromise(child);
    });
  });
}

interface Measured {
  runs: Run[];
  history: HistorySample;
  /** p50 ms of each step of a job's path (JOB_PATH), over the history sample; raw has no submission step. */
  path: Record<PathStep, number>;
  /** MLIS: ms of CPU a second per process group with no job running, when measured. */
  idleCpuMsPerSecond?: Record<string, number>;
}

// The idle sample: what the processes cost with nothing to do (timers, heartbeats, pollers). It starts a minute after
// the warm-up jobs: for about 40 s after work stops every process spends several times its idle CPU (V8 tidying its heap).
const IDLE_SETTLE_MS = 60_000;
const IDLE_SAMPLE_MS = 30_000;

async function measureRaw(
  env: Record<string, string>,
  client: Client,
  temporalPid: number,
  loads = LOADS,
  server?: () => Promise<Record<string, number>>,
): Promise<Measured> {
  const workflows = await startRawWorker('workflows', env);
  const activities = await startRawWorker('activities', env);
  try {
    let sequence = 0;
    const one = async () => {
      const workflowId = `bench-raw-${Date.now()}-${(sequence += 1)}`;
      const asked = Date.now();
      const handle = await client.workflow.start('rawJobWorkflow', { taskQueue: RAW_WORKFLOW_QUEUE, workflowId, args: [JOB_SECONDS * 1000] });
      const submitMs = Date.now() - asked;
      await handle.result();
      return { id: workflowId, submitMs, e2eMs: Date.now() - asked, ok: true };
    };
    for (let i = 0; i < 5; i += 1) await one();
    const groups = () => ({ 'workflow worker': [workflows.pid as number], 'activity worker': [activities.pid as number], temporal: [temporalPid] });
    const runs: Run[] = [];
    for (const load of loads) runs.push(await drive(load.clients, load.jobs, groups, one, { server }));
    const histories = await fetchHistories(client, middleOf(runs.find((run) => run.clients === 20) ?? runs[0]));
    return { runs, history: historySample(histories), path: jobPath(histories.map((events) => ({ events }))) };
  } finally {
    workflows.kill('SIGTERM');
    activities.kill('SIGTERM');
  }
}

// ---- (b) MLIS over HTTP ----

interface Job {
  id: string;
  state: string;
  created_at: string;
  finished_at: string | null;
  latest_assignment: { attempt: number; node_id: string; state: string; created_at: string; started_at: string | null; ended_at: string | null } | null;
}

/** Where a job's time went, from the ledger's timestamps (each a transaction's start on the database clock), ms. */
const STAGES = ['submitted → placed', 'placed → running', 'running → ended'] as const;
type Stage = (typeof STAGES)[number];

function stagesOf(job: Job): Record<Stage, number> | undefined {
  const assignment = job.latest_assignment;
  if (!assignment?.started_at || !assignment.ended_at) return undefined;
  const at = (value: string) => Date.parse(value);
  return {
    'submitted → placed': at(assignment.created_at) - at(job.created_at),
    'placed → running': at(assignment.started_at) - at(assignment.created_at),
    'running → ended': at(assignment.ended_at) - at(assignment.started_at),
  };
}

/**
 * A job's path in finer steps: its submission (the ledger's `created_at`, database clock) and the events of its workflow's
 * history (Temporal server clock; one machine, one clock). Each step names what runs in it for MLIS; the raw workflow
 * goes through the same events with no MLIS code in its tasks.
 */
const JOB_PATH = [
  ['submitted → workflow started', "the API's cycle that places the job, then the workflow's start (ADR 0031)"],
  ['→ first workflow task picked up', "none when the start was eager: the task came back with it to the API's worker (ADR 0052)"],
  ['first workflow task', 'the attempt dispatched (a placement read, a local activity, only when the start came without it)'],
  ['→ attempt picked up by the node', "the activity task waits on the node's queue"],
  ['→ attempt completed', 'the 10 ms run (its start reported only after 250 ms, ADR 0030) and the completion'],
  ['→ second workflow task picked up', 'the task waits on the sticky queue of the worker that ran the first'],
  ['second workflow task', 'the end write (a local activity) and the final state'],
] as const;
type PathStep = (typeof JOB_PATH)[number][0];

function jobPath(workflows: { events: HistoryEvent[]; submittedAt?: number }[]): Record<PathStep, number> {
  const steps = new Map<PathStep, number[]>(JOB_PATH.map(([step]) => [step, []]));
  for (const { events, submittedAt } of workflows) {
    const at = (type: temporal.api.enums.v1.EventType, nth = 0): number => tsToMs(events.filter((event) => event.eventType === type)[nth]?.eventTime);
    const { EventType } = temporal.api.enums.v1;
    const times = [
      submittedAt ?? Number.NaN,
      at(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED),
      at(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED),
      at(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
      at(EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED),
      at(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED),
      at(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, 1),
      at(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 1),
    ];
    JOB_PATH.forEach(([step], i) => {
      const elapsed = times[i + 1] - times[i];
      if (Number.isFinite(elapsed)) steps.get(step)?.push(elapsed);
    });
  }
  // NaN for a step no workflow of the sample has (the raw workflow's submission).
  return Object.fromEntries([...steps].map(([step, values]) => [step, values.length > 0 ? percentile(values, 50) : Number.NaN])) as Record<
    PathStep,
    number
  >;
}

const FINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/** Starts the stack; `calls` holds one client per API replica (replica N listens on the API port + N - 1). */
function startStack(
  env: Record<string, string>,
  topology: Topology = SINGLE,
): {
  call: ReturnType<typeof jsonClient<Job>>;
  calls: ReturnType<typeof jsonClient<Job>>[];
  apiUrls: string[];
  agent: Agent;
  apiUrl: string;
  token: string;
} {
  startBenchStack({ ...env, MLIS_STACK_API_REPLICAS: String(topology.apis), MLIS_STACK_CONTROL_REPLICAS: String(topology.controls) });
  const config = loadConfig({ ...process.env, ...env });
  const token = mintUserToken(readFileSync(config.auth.devSecretFile, 'utf8').trim(), config.auth, { sub: 'bench', tenant: 'default', scope: SCOPES.join(' ') });
  const agent = new Agent({ keepAlive: true, maxSockets: 200 });
  const apiUrls = Array.from({ length: topology.apis }, (_, i) => `http://${config.api.host}:${config.api.port + i}`);
  const calls = apiUrls.map((url) => jsonClient<Job>(url, token, agent));
  return { call: calls[0], calls, apiUrls, agent, apiUrl: config.apiUrl, token };
}

/**
 * Opens a connection for each of `clients` clients, spread over the APIs as their submissions will be, before a load
 * begins: the raw callers' Temporal client is connected before their load, so neither load's first submissions wait
 * for a connection to open. Concurrent requests make the agent open that many sockets, and it keeps them for the load.
 */
async function openConnections(calls: Array<(method: string, path: string) => Promise<unknown>>, clients: number): Promise<void> {
  await Promise.all(Array.from({ length: clients }, (_, i) => calls[i % calls.length]('GET', '/health/live')));
}

async function waitFinal(call: ReturnType<typeof jsonClient<Job>>, id: string): Promise<Job> {
  for (;;) {
    const job = await call('GET', `/v1/jobs/${id}?wait=${WAIT_SECONDS}`);
    if (FINAL.includes(job.state)) return job;
  }
}

async function measureMlis(
  env: Record<string, string>,
  client: Client,
  processes: Record<string, number[]>,
  topology: Topology = SINGLE,
  loads = LOADS,
  { idle = false, statements, server }: { idle?: boolean; statements?: () => Promise<number>; server?: () => Promise<Record<string, number>> } = {},
): Promise<Measured> {
  const stackEnv = { ...env, MLIS_STACK_NODES: THROUGHPUT_NODES };
  const { calls, apiUrls, agent } = startStack(stackEnv, topology);
  let turn = 0;
  const finals = new Map<string, Job>();
  try {
    const one = async () => {
      // Round robin over the API replicas, as a load balancer would.
      const call = calls[turn++ % calls.length];
      const asked = Date.now();
      const accepted = await call('POST', '/v1/jobs', { task_type: 'sleep', params: { seconds: JOB_SECONDS }, cpu: 1 });
      const submitMs = Date.now() - asked;
      const job = await waitFinal(call, accepted.id);
      const answered = Date.now();
      finals.set(job.id, job);
      return {
        id: accepted.id,
        submitMs,
        e2eMs: answered - asked,
        ok: job.state === 'SUCCEEDED',
        wakeMs: answered - Date.parse(job.finished_at as string),
        stages: stagesOf(job),
      };
    };
    for (let i = 0; i < 5; i += 1) await one();
    const pid = (name: string): number => recordedPid(name, stackEnv);
    const replicas = (name: string, count: number) => Array.from({ length: count }, (_, i) => pid(i === 0 ? name : `${name}-${i + 1}`));
    const groups = () => ({
      api: replicas('api', topology.apis),
      control: replicas('control', topology.controls),
      nodes: THROUGHPUT_NODES.split(' ').map((spec) => pid(`node-${spec.split(':')[0]}`)),
      ...processes,
    });
    // Scheduling cycles, summed over every process that runs them: the APIs (one per burst of submissions, ADR 0031)
    // and the control processes.
    const metricsUrls = [
      ...apiUrls.map((url) => `${url}/metrics`),
      ...Array.from({ length: topology.controls }, (_, i) => {
        const port = script('scripts/stack.sh', ['metrics-port', i === 0 ? 'control' : `control-${i + 1}`], stackEnv);
        return `http://127.0.0.1:${port}/metrics`;
      }),
    ];
    const cycles = async (): Promise<number> => {
      let total = 0;
      for (const url of metricsUrls) {
        const text = await (await fetch(url)).text();
        total += Number(/^mlis_scheduler_cycle_duration_seconds_count (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
      }
      return total;
    };
    let idleCpuMsPerSecond: Record<string, number> | undefined;
    if (idle) {
      await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
      const before = cpuSeconds(groups());
      await new Promise((resolve) => setTimeout(resolve, IDLE_SAMPLE_MS));
      const used = diff(cpuSeconds(groups()), before);
      idleCpuMsPerSecond = Object.fromEntries(Object.entries(used).map(([name, seconds]) => [name, (seconds * 1000) / (IDLE_SAMPLE_MS / 1000)]));
    }
    const runs: Run[] = [];
    for (const load of loads) {
      await openConnections(calls, load.clients);
      runs.push(await drive(load.clients, load.jobs, groups, one, { cycles, statements, server }));
    }
    const sampled = middleOf(runs.find((run) => run.clients === 20) ?? runs[0]);
    const histories = await fetchHistories(client, sampled.map(jobWorkflowId));
    return {
      runs,
      history: historySample(histories),
      path: jobPath(histories.map((events, i) => ({ events, submittedAt: Date.parse((finals.get(sampled[i]) as Job).created_at) }))),
      idleCpuMsPerSecond,
    };
  } finally {
    agent.destroy();
    script('scripts/stack.sh', ['stop'], stackEnv);
  }
}

// ---- (c) recovery ----

async function measureRecovery(env: Record<string, string>): Promise<number[]> {
  const stackEnv = { ...env, ...RECOVERY_ENV, MLIS_STACK_NODES: RECOVERY_NODES };
  const { call, agent, apiUrl, token } = startStack(stackEnv);
  type NodeRow = { node_id: string; status: string; incarnation: number };
  const list = (): Promise<{ items: NodeRow[] }> =>
    fetch(`${apiUrl}/v1/workers`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<{ items: NodeRow[] }>);
  const incarnationOf = async (nodeId: string): Promise<number> => (await list()).items.find((n) => n.node_id === nodeId)?.incarnation ?? 0;
  const until = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const recoveries: number[] = [];
  try {
    let job: Job | undefined;
    for (let kill = 0; kill < KILLS; kill += 1) {
      if (kill % KILLS_PER_JOB === 0) {
        if (job) await call('POST', `/v1/jobs/${job.id}/cancel`);
        job = await call('POST', '/v1/jobs', { task_type: 'sleep', params: { seconds: 3600 }, cpu: 1, max_attempts: KILLS_PER_JOB + 1 });
      }
      const id = (job as Job).id;
      const running = await until('the job RUNNING', async () => {
        const current = await call('GET', `/v1/jobs/${id}`);
        return current.latest_assignment?.state === 'RUNNING' ? current : undefined;
      });
      const { node_id: victim, attempt } = running.latest_assignment as NonNullable<Job['latest_assignment']>;
      const killedIncarnation = await incarnationOf(victim);
      const pid = recordedPid(`node-${victim}`, stackEnv);
      process.kill(pid, 'SIGKILL');
      const killedAt = Date.now();
      script('scripts/stack.sh', ['stop-node', victim, 'KILL'], stackEnv);
      const moved = await until(`attempt ${attempt + 1} RUNNING after killing ${victim}`, async () => {
        const current = await call('GET', `/v1/jobs/${id}`);
        const latest = current.latest_assignment;
        return latest && latest.attempt > attempt && latest.state === 'RUNNING' && latest.started_at ? latest : undefined;
      });
      if (moved.node_id === victim) throw new Error(`attempt ${moved.attempt} ran on the killed node ${victim}`);
      recoveries.push(Date.parse(moved.started_at as string) - killedAt);
      console.log(`kill ${kill + 1}/${KILLS}: ${victim} → ${moved.node_id} RUNNING after ${recoveries[recoveries.length - 1]} ms`);
      script('scripts/stack.sh', ['start-node', victim], stackEnv);
      // As a new incarnation: the killed one's row may still read ACTIVE until it is declared dead.
      await until(`${victim} ACTIVE again`, async () => {
        const node = (await list()).items.find((n) => n.node_id === victim);
        return node?.status === 'ACTIVE' && node.incarnation > killedIncarnation ? true : undefined;
      });
    }
    if (job) await call('POST', `/v1/jobs/${job.id}/cancel`);
    return recoveries;
  } finally {
    agent.destroy();
    script('scripts/stack.sh', ['stop'], stackEnv);
  }
}

// ---- report ----

function ms(value: number): string {
  return value.toFixed(0);
}

/** One alternation of the raw and MLIS loads. */
interface Round {
  raw: Measured;
  mlis: Measured;
}

/** A load's run at `clients`. */
function runAt(measured: Measured, clients: number): Run {
  return measured.runs.find((run) => run.clients === clients) as Run;
}

/** Per round, at `clients`: raw workflows/s, MLIS jobs/s and their ratio; and the medians over the rounds. */
function roundsAt(rounds: Round[], clients: number) {
  const perSecond = (measured: Measured) => runAt(measured, clients).jobsPerSecond;
  const each = rounds.map((round) => ({ raw: perSecond(round.raw), mlis: perSecond(round.mlis), ratio: perSecond(round.mlis) / perSecond(round.raw) }));
  return { each, raw: median(each.map((r) => r.raw)), mlis: median(each.map((r) => r.mlis)), ratio: median(each.map((r) => r.ratio)) };
}

/**
 * How the rate holds as load rises: per round, jobs a second at 50 clients ÷ at 20 in the same round, and the median of
 * those. The two loads of a round run back to back, so the pair shares the machine's speed of that moment; rounds minutes
 * apart did not (a round's rate moved by a fifth against the next), so comparing the medians of each load's rounds
 * mostly compared the rounds.
 */
function growthWithLoad(rounds: Round[], side: keyof Round): { each: number[]; median: number } {
  const each = rounds.map((round) => runAt(round[side], 50).jobsPerSecond / runAt(round[side], 20).jobsPerSecond);
  return { each, median: median(each) };
}

/** Issue #11's throughput target: MLIS at this share of the raw workflow's rate. */
const RATIO_TARGET = 0.8;

/** A run's CPU seconds per job over all its processes. */
function cpuTotal(run: Run): number {
  return Object.values(run.cpuPerJob).reduce((sum, value) => sum + value, 0);
}

/** Seconds per job, process by process, in milliseconds: "api 8.4, control 14.0, ...". */
function msByProcess(perJob: Record<string, number>): string {
  return Object.entries(perJob)
    .map(([name, value]) => `${name} ${(value * 1000).toFixed(1)}`)
    .join(', ');
}

/** "the api: main 7.1, workflow thread 4.4, …" from a load's split by thread. */
function threadLine(run: Run): string {
  return run.threadCpuPerJob ? `the ${run.threadCpuPerJob.group}: ${msByProcess(run.threadCpuPerJob.perKind)}` : 'not measured';
}

/**
 * How much of the machine each load keeps busy (jobs a second × CPU a job), and the CPU a job MLIS may cost to reach the
 * ratio target on the cores it uses now: when both loads are CPU-bound, the ratio follows their CPU per job.
 */
function coreRows(raw: Measured, mlis: Measured): string[] {
  return MULTI_CLIENT_LOADS.map(({ clients }) => {
    const [r, m] = [runAt(raw, clients), runAt(mlis, clients)];
    const mlisCores = m.jobsPerSecond * cpuTotal(m);
    const budgetMs = (mlisCores / (RATIO_TARGET * r.jobsPerSecond)) * 1000;
    return `| ${clients} | ${(r.jobsPerSecond * cpuTotal(r)).toFixed(2)} | ${mlisCores.toFixed(2)} | ${(cpuTotal(r) / cpuTotal(m)).toFixed(2)} | ${(m.jobsPerSecond / r.jobsPerSecond).toFixed(2)} | ${budgetMs.toFixed(0)} (now ${(cpuTotal(m) * 1000).toFixed(1)}) |`;
  });
}

/** A scale-out load: its topology and what it measured. */
interface ScaledOut {
  topology: Topology;
  measured: Measured;
}

function report(raw: Measured, mlis: Measured, scaled: ScaledOut[], recoveries: number[], rounds: Round[], facts: string[]): string {
  const loadRows = mlis.runs.map((run, i) => {
    const base = raw.runs[i];
    return `| ${run.clients} | ${run.jobs} | ${base.jobsPerSecond.toFixed(1)} | ${run.jobsPerSecond.toFixed(1)} | ${(run.jobsPerSecond / base.jobsPerSecond).toFixed(2)} | ${ms(base.submitP50)} / ${ms(base.submitP99)} | ${ms(run.submitP50)} / ${ms(run.submitP99)} | ${ms(base.e2eP50)} / ${ms(base.e2eP99)} | ${ms(run.e2eP50)} / ${ms(run.e2eP99)} | ${run.failed} |`;
  });
  const cpuRows = [
    ...mlis.runs.map((run) => `| MLIS, ${run.clients} client${run.clients > 1 ? 's' : ''} | ${msByProcess(run.cpuPerJob)} | ${(cpuTotal(run) * 1000).toFixed(1)} |`),
    ...raw.runs.map((run) => `| raw, ${run.clients} caller${run.clients > 1 ? 's' : ''} | ${msByProcess(run.cpuPerJob)} | ${(cpuTotal(run) * 1000).toFixed(1)} |`),
  ];
  const lease = Number(RECOVERY_ENV.MLIS_LEASE_SECONDS);
  const at = (clients: number) => ({ mlis: runAt(mlis, clients), raw: runAt(raw, clients) });
  const met = (ok: boolean) => (ok ? 'met' : '**not met**');
  const growth = { mlis: growthWithLoad(rounds, 'mlis'), raw: growthWithLoad(rounds, 'raw') };
  const targets = [
    `| throughput ≥ ${RATIO_TARGET} × raw at 20 clients (median of ${rounds.length} rounds) | ${roundsAt(rounds, 20).ratio.toFixed(2)} × | ${met(roundsAt(rounds, 20).ratio >= RATIO_TARGET)} |`,
    `| throughput ≥ ${RATIO_TARGET} × raw at 50 clients (median of ${rounds.length} rounds) | ${roundsAt(rounds, 50).ratio.toFixed(2)} × | ${met(roundsAt(rounds, 50).ratio >= RATIO_TARGET)} |`,
    `| no lower at 50 clients than at 20 (median over the rounds of jobs/s at 50 ÷ at 20 in the same round) | ${growth.mlis.median.toFixed(2)} × (raw ${growth.raw.median.toFixed(2)} ×; medians of the rounds ${roundsAt(rounds, 50).mlis.toFixed(1)} vs ${roundsAt(rounds, 20).mlis.toFixed(1)} jobs/s) | ${met(growth.mlis.median >= 1)} |`,
    `| submission p99 ≤ 50 ms at 20 clients | ${ms(at(20).mlis.submitP99)} ms | ${met(at(20).mlis.submitP99 <= 50)} |`,
    `| end-to-end p50 with 1 client ≤ 1.5 × raw's | ${ms(at(1).mlis.e2eP50)} ms vs ${ms(at(1).raw.e2eP50)} ms (${(at(1).mlis.e2eP50 / at(1).raw.e2eP50).toFixed(1)} ×) | ${met(at(1).mlis.e2eP50 <= 1.5 * at(1).raw.e2eP50)} |`,
    `| ≤ 20 history events for a job that succeeds first time | ${mlis.history.mean.toFixed(1)} (min ${mlis.history.min}, max ${mlis.history.max}) | ${met(mlis.history.max <= 20)} |`,
    `| kill → RUNNING elsewhere p99 ≤ lease + 2 s (${lease + 2} s) | ${(percentile(recoveries, 99) / 1000).toFixed(1)} s | ${met(percentile(recoveries, 99) <= (lease + 2) * 1000)} |`,
  ];
  return [
    '<!-- bench:e2e:start -->',
    ...facts,
    '',
    '| clients | jobs | raw wf/s | MLIS jobs/s | ratio | raw start p50 / p99 ms | MLIS submit p50 / p99 ms | raw end-to-end p50 / p99 ms | MLIS end-to-end p50 / p99 ms | MLIS jobs not SUCCEEDED |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...loadRows,
    '',
    `The 20- and 50-client loads in ${rounds.length} alternating rounds (each: the raw loads, then MLIS's, on the same server; the first round is the table above):`,
    '',
    '| clients | raw wf/s by round | MLIS jobs/s by round | ratio by round | median ratio |',
    '|---:|---|---|---|---:|',
    ...MULTI_CLIENT_LOADS.map(({ clients }) => {
      const { each, ratio } = roundsAt(rounds, clients);
      const list = (values: number[], digits: number) => values.map((value) => value.toFixed(digits)).join(', ');
      return `| ${clients} | ${list(each.map((r) => r.raw), 1)} | ${list(each.map((r) => r.mlis), 1)} | ${list(each.map((r) => r.ratio), 2)} | ${ratio.toFixed(2)} |`;
    }),
    '',
    `Jobs a second at 50 clients ÷ at 20 in the same round: MLIS ${growth.mlis.each.map((value) => value.toFixed(2)).join(', ')}; raw ${growth.raw.each.map((value) => value.toFixed(2)).join(', ')}.`,
    '',
    `Submission p99, the clients' first jobs (sent all at once) / their later ones, ms: ${mlis.runs
      .filter((r) => r.clients > 1)
      .map((r) => {
        const base = at(r.clients).raw;
        return `${r.clients} clients MLIS ${ms(r.submitP99Burst)} / ${ms(r.submitP99Later)}, raw ${ms(base.submitP99Burst)} / ${ms(base.submitP99Later)}`;
      })
      .join('; ')}.`,
    '',
    `Long-poll wake-up (the job's \`finished_at\` to the answer): ${mlis.runs.map((r) => `${r.clients} client${r.clients > 1 ? 's' : ''} p50 ${ms(r.wakeP50)} / p99 ${ms(r.wakeP99)} ms`).join('; ')}.`,
    '',
    `Scheduling cycles per job (\`mlis_scheduler_cycle_duration_seconds_count\`, api and control): ${mlis.runs.map((r) => `${r.clients} client${r.clients > 1 ? 's' : ''} ${r.cyclesPerJob?.toFixed(2)}`).join('; ')}.`,
    ...(mlis.runs[0].statementsPerJob === undefined
      ? []
      : [
          '',
          `Statements per job on the ledger (\`pg_stat_statements\`, every process): ${mlis.runs.map((r) => `${r.clients} client${r.clients > 1 ? 's' : ''} ${r.statementsPerJob?.toFixed(1)}`).join('; ')}.`,
        ]),
    '',
    `Idle, before the loads (${IDLE_SAMPLE_MS / 1000} s with no job, ${IDLE_SETTLE_MS / 1000} s after the warm-up jobs), ms of CPU a second: ${Object.entries(mlis.idleCpuMsPerSecond ?? {})
      .map(([name, value]) => `${name} ${value.toFixed(1)}`)
      .join(', ')} (nodes: all ${THROUGHPUT_NODES.split(' ').length} together).`,
    '',
    `History events per workflow (${HISTORY_SAMPLE} of the 20-client run, read through the Temporal client): MLIS job ${mlis.history.mean.toFixed(1)}`,
    `(min ${mlis.history.min}, max ${mlis.history.max}); raw workflow ${raw.history.mean.toFixed(1)}. A median MLIS history:`,
    `${mlis.history.typical.map((type) => type.toLowerCase()).join(', ')}.`,
    '',
    ...serverRequestsTable(at(20)),
    `Where an MLIS job's time goes (p50 ms, from the ledger's timestamps): ${mlis.runs
      .map((r) => `${r.clients} client${r.clients > 1 ? 's' : ''}: submit ${ms(r.submitP50)}, ${STAGES.map((stage) => `${stage} ${ms(r.stageP50[stage] ?? Number.NaN)}`).join(', ')}, long-poll wake ${ms(r.wakeP50)}`)
      .join('; ')}.`,
    '',
    `The same path in finer steps (p50 ms over the ${HISTORY_SAMPLE} jobs of the history sample: the ledger's \`created_at\`, then the events of`,
    "the job's workflow history), against the raw workflow's (the same events, the middle 50 of its 20-caller run):",
    '',
    '| step | what runs in it (MLIS) | MLIS p50 ms | raw p50 ms |',
    '|---|---|---:|---:|',
    ...JOB_PATH.map(([step, what]) => `| ${step} | ${what} | ${ms(mlis.path[step])} | ${Number.isNaN(raw.path[step]) ? '—' : ms(raw.path[step])} |`),
    '',
    `Scale-out: the same loads on ${SCALE_OUT.map(topologyName).join(', ')} api + control processes, one after another after the rounds (jobs spread round robin over the APIs), same nodes and server:`,
    '',
    '| clients | api + control | jobs/s | submit p50 / p99 ms | end-to-end p50 / p99 ms | CPU ms per job api / control | jobs not SUCCEEDED |',
    '|---:|---|---:|---:|---:|---:|---:|',
    ...MULTI_CLIENT_LOADS.flatMap(({ clients }) =>
      scaled.map(({ topology, measured }) => {
        const run = runAt(measured, clients);
        return `| ${clients} | ${topologyName(topology)} | ${run.jobsPerSecond.toFixed(1)} | ${ms(run.submitP50)} / ${ms(run.submitP99)} | ${ms(run.e2eP50)} / ${ms(run.e2eP99)} | ${(run.cpuPerJob.api * 1000).toFixed(1)} / ${(run.cpuPerJob.control * 1000).toFixed(1)} | ${run.failed} |`;
      }),
    ),
    '',
    'CPU milliseconds per job, by process (utime + stime from /proc of the process and its children, those it reaped included, over the load):',
    '',
    '| run | per process | total |',
    '|---|---|---:|',
    ...cpuRows,
    '',
    `Waiting for a core, ms per job (runnable but not running: run_delay from /proc/<pid>/task/*/schedstat, first round; a thread that ended during the load drops out): ${[
      ...mlis.runs.filter((run) => run.clients > 1).map((run) => `MLIS at ${run.clients} clients ${msByProcess(run.coreWaitPerJob)}`),
      ...raw.runs.filter((run) => run.clients > 1).map((run) => `raw at ${run.clients} callers ${msByProcess(run.coreWaitPerJob)}`),
    ].join('; ')}.`,
    '',
    `CPU ms per job by thread (/proc/<pid>/task/*/stat, first round; "ended threads": the process's CPU that no thread alive at the end accounts for): ${[
      ...mlis.runs.filter((run) => run.clients > 1).map((run) => `MLIS at ${run.clients} clients, ${threadLine(run)}`),
      ...raw.runs.filter((run) => run.clients > 1).map((run) => `raw at ${run.clients} callers, ${threadLine(run)}`),
    ].join('; ')}.`,
    '',
    `Cores in use (jobs a second × CPU a job, first round) and the CPU a job MLIS may cost for ${RATIO_TARGET} × raw on the cores it uses now:`,
    '',
    `| clients | raw cores | MLIS cores | raw's CPU a workflow ÷ MLIS's a job | throughput ratio | MLIS CPU ms a job for ${RATIO_TARGET} × raw |`,
    '|---:|---:|---:|---:|---:|---:|',
    ...coreRows(raw, mlis),
    '',
    `Recovery: ${recoveries.length} kill -9 of the node running a \`sleep\` job (lease ${lease} s, node heartbeat ${RECOVERY_ENV.MLIS_NODE_HEARTBEAT_SECONDS} s,`,
    `dead after ${RECOVERY_ENV.MLIS_NODE_DEAD_AFTER_SECONDS} s; nodes ${RECOVERY_NODES.split(' ').map((s) => s.split(':')[0]).join(', ')}); kill → the next attempt's \`started_at\`:`,
    `p50 ${(percentile(recoveries, 50) / 1000).toFixed(1)} s, p99 ${(percentile(recoveries, 99) / 1000).toFixed(1)} s, max ${(Math.max(...recoveries) / 1000).toFixed(1)} s,`,
    `min ${(Math.min(...recoveries) / 1000).toFixed(1)} s.`,
    '',
    'Targets of #11:',
    '',
    '| target | measured | |',
    '|---|---|---|',
    ...targets,
    '<!-- bench:e2e:end -->',
  ].join('\n');
}

/**
 * How many statements have run on database `database`, every process's together, read from pg_stat_statements when the
 * local cluster preloads it (MLIS_PG_OPTIONS, scripts/postgres.sh); undefined when it does not. Statements a job show
 * what a change to the job path adds or saves with less noise than its CPU on a shared machine (ADR 0047).
 */
async function statementCounter(ownerUrl: string, database: string): Promise<{ count: () => Promise<number>; close: () => Promise<void> } | undefined> {
  // The extension lives in the postgres database (scripts/postgres.sh creates it there); its counts cover every database.
  const pg = new PgClient({ connectionString: ownerUrl.replace(/\/[^/]*$/, '/postgres') });
  await pg.connect();
  // The extension, once created, stays in the cluster; it counts only while the server preloads its library, and
  // without it a read fails with 55000 (object not in prerequisite state).
  const counting = await pg.query(`SELECT 1 FROM pg_stat_statements LIMIT 1`).then(
    () => true,
    (error: { code?: string }) => (error.code === '42P01' || error.code === '55000' ? false : Promise.reject(error)),
  );
  if (!counting) {
    await pg.end();
    return undefined;
  }
  return {
    count: async () => {
      const { rows } = await pg.query<{ calls: number }>(
        `SELECT COALESCE(sum(calls), 0)::float8 AS calls FROM pg_stat_statements WHERE toplevel AND dbid = (SELECT oid FROM pg_database WHERE datname = $1)`,
        [database],
      );
      return rows[0].calls;
    },
    close: () => pg.end(),
  };
}

/**
 * What the Temporal server did, from its Prometheus /metrics (the dev server started with TEMPORAL_METRICS_PORT):
 * persistence requests (the default namespace's), visibility writes, history queue tasks and the frontend's calls,
 * each by operation, and matching's polls answered with a task. Counted per job they show what a change costs the server with less noise
 * than its CPU, as statements a job do for the ledger.
 */
function serverRequests(metricsUrl: string): () => Promise<Record<string, number>> {
  const kinds: Record<string, string> = {
    service_requests: 'call',
    persistence_requests: 'persistence',
    visibility_persistence_requests: 'visibility',
    task_requests: 'queue task',
    poll_success: 'poll answered',
    poll_success_sync: 'poll answered (sync match)',
  };
  return async () => {
    // The server publishes its counters to /metrics every second or so: let the last load's reach it.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const counts: Record<string, number> = {};
    for (const line of (await (await fetch(metricsUrl)).text()).split('\n')) {
      const sample = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
      const kind = sample && kinds[sample[1]];
      if (!sample || !kind) continue;
      const labels = Object.fromEntries([...sample[2].matchAll(/(\w+)="([^"]*)"/g)].map((label) => [label[1], label[2]]));
      if (labels.namespace !== undefined && labels.namespace !== 'default') continue;
      // A gRPC call counts once, where it came in: at the frontend.
      if (kind === 'call' && labels.service_name !== 'frontend') continue;
      // A timer task fires at its due time, for a workflow task's timeout seconds after the load that made it.
      if (kind === 'queue task' && labels.operation?.startsWith('Timer')) continue;
      const name = labels.operation && !kind.startsWith('poll') ? `${kind} ${labels.operation}` : kind;
      counts[name] = (counts[name] ?? 0) + Number(sample[3]);
    }
    return counts;
  };
}

/** The server's requests a job (MLIS) and a workflow (raw), by kind and operation, the largest differences first. */
function serverRequestRows(mlis: Run, raw: Run): { name: string; mlis: number; raw: number }[] | undefined {
  const m = mlis.serverRequestsPerJob;
  const r = raw.serverRequestsPerJob;
  if (!m || !r) return undefined;
  const rows = [...new Set([...Object.keys(m), ...Object.keys(r)])].map((name) => ({ name, mlis: m[name] ?? 0, raw: r[name] ?? 0 }));
  const persistence = (pick: (row: { mlis: number; raw: number }) => number) =>
    rows.filter((row) => row.name.startsWith('persistence ')).reduce((sum, row) => sum + pick(row), 0);
  return [
    { name: 'persistence, all operations', mlis: persistence((row) => row.mlis), raw: persistence((row) => row.raw) },
    ...rows
      .filter((row) => row.mlis + row.raw >= 0.05)
      .sort((a, b) => Math.abs(b.mlis - b.raw) - Math.abs(a.mlis - a.raw) || a.name.localeCompare(b.name)),
  ];
}

/** The full run's table of the server's requests at 20 clients; nothing when the server's metrics were not read. */
function serverRequestsTable({ mlis, raw }: { mlis: Run; raw: Run }): string[] {
  const rows = serverRequestRows(mlis, raw);
  if (!rows) return [];
  return [
    `What the Temporal server did, per job and per raw workflow at ${mlis.clients} clients (its own \`/metrics\`: persistence requests, visibility`,
    "writes and history queue tasks by operation, the frontend's calls, matching's polls answered with a task):",
    '',
    '| request | MLIS a job | raw a workflow |',
    '|---|---:|---:|',
    ...rows.map((row) => `| ${row.name} | ${row.mlis.toFixed(2)} | ${row.raw.toFixed(2)} |`),
    '',
  ];
}

/** One line per figure of a quick run (MLIS_BENCH_E2E_QUICK). */
function quickSummary(raw: Measured, mlis: Measured): string {
  const run = mlis.runs[0];
  const rawRun = raw.runs[0];
  return [
    ...(SPLIT_CORES ? ['cores split: the Temporal side on core 0; the API, Postgres and the bench client on core 1'] : []),
    `raw: ${rawRun.jobsPerSecond.toFixed(1)} workflows/s, CPU ms per workflow ${(cpuTotal(rawRun) * 1000).toFixed(1)} (${msByProcess(rawRun.cpuPerJob)}); ratio ${(run.jobsPerSecond / rawRun.jobsPerSecond).toFixed(2)}`,
    `${run.clients} clients, ${run.jobs} jobs: ${run.jobsPerSecond.toFixed(1)} jobs/s, submit p50 / p99 ${ms(run.submitP50)} / ${ms(run.submitP99)} ms`,
    `(p99 of the first jobs / of the later ones: ${ms(run.submitP99Burst)} / ${ms(run.submitP99Later)}; raw ${ms(rawRun.submitP99Burst)} / ${ms(rawRun.submitP99Later)}),`,
    `end-to-end p50 / p99 ${ms(run.e2eP50)} / ${ms(run.e2eP99)} ms, not SUCCEEDED ${run.failed}, history events ${mlis.history.mean.toFixed(1)}`,
    `stages p50 ms: ${STAGES.map((stage) => `${stage} ${ms(run.stageP50[stage] ?? Number.NaN)}`).join(', ')}, long-poll wake ${ms(run.wakeP50)}`,
    `CPU ms per job: ${msByProcess(run.cpuPerJob)}; total ${(cpuTotal(run) * 1000).toFixed(1)}`,
    `waiting for a core, ms per job: ${msByProcess(run.coreWaitPerJob)}; raw ${msByProcess(rawRun.coreWaitPerJob)}`,
    `CPU ms per job by thread: ${threadLine(run)}; raw ${threadLine(rawRun)}`,
    `scheduling cycles per job ${run.cyclesPerJob?.toFixed(2)}${run.statementsPerJob === undefined ? '' : `, statements per job ${run.statementsPerJob.toFixed(1)}`}`,
    `job path p50 ms (${HISTORY_SAMPLE} jobs): ${JOB_PATH.map(([step]) => `${step} ${ms(mlis.path[step])}`).join(', ')}`,
    ...(serverRequestRows(run, rawRun)?.map((row) => `Temporal server, ${row.name}: ${row.mlis.toFixed(2)} a job, raw ${row.raw.toFixed(2)} a workflow`) ?? [
      'Temporal server requests: not measured',
    ]),
  ].join('\n');
}

async function main(): Promise<void> {
  const quickClients = Number(process.env.MLIS_BENCH_E2E_QUICK ?? 0);
  // The split is an experiment beside a quick run: it prints its figures and never writes docs/benchmarks.md.
  if (SPLIT_CORES && (quickClients === 0 || cpus().length < 2)) throw new Error('MLIS_BENCH_E2E_SPLIT_CORES=1 needs MLIS_BENCH_E2E_QUICK and two cores');
  const loadBefore = loadavg();
  const began = Date.now();
  const stopPostgres = startDurablePostgres();
  const database = `mlis_bench_e2e_${Date.now()}`;
  script('scripts/postgres.sh', ['createdb', database]);
  const databaseUrl = script('scripts/postgres.sh', ['url']).replace(/\/[^/]*$/, `/${database}`);
  // Migrations run as the owner, which grants the runtime role (DATABASE_URL) its rights.
  const migrationDatabaseUrl = script('scripts/postgres.sh', ['owner-url']).replace(/\/[^/]*$/, `/${database}`);
  const pgSettings = script('scripts/postgres.sh', ['psql', '-At', '-c', `SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'max_connections')`]);
  const postmaster = Number(readFileSync(join(ROOT, '.mlis/pg/data/postmaster.pid'), 'utf8').split('\n')[0]);
  const temporalPort = process.env.TEMPORAL_PORT ?? '7233';
  const temporalDir = join(STATE_DIR, 'temporal');
  const temporalMetricsPort = process.env.TEMPORAL_METRICS_PORT ?? '7235';
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    TEMPORAL_METRICS_PORT: temporalMetricsPort,
    MLIS_TEMPORAL_DIR: temporalDir,
    MLIS_STATE_DIR: STATE_DIR,
    MLIS_AUTH_DEV_SECRET_FILE: join(STATE_DIR, 'secrets', 'dev-signing-key'),
    MLIS_WORKER_BOOTSTRAP_SECRET_FILE: join(STATE_DIR, 'secrets', 'worker-bootstrap-secret'),
  };
  // Every run starts on an empty Temporal database: the dev server's SQLite file keeps every workflow of every earlier
  // run (420 MB after a day of runs) and the server slows as it grows, so runs would not compare.
  script('temporal/dev-server.sh', ['stop'], env);
  rmSync(temporalDir, { recursive: true, force: true });
  script('temporal/dev-server.sh', ['start'], env);
  let section: string;
  try {
    script('scripts/secrets.sh', ['ensure'], env);
    execFileSync('node', [join(ROOT, 'dist/db/run-migrations.js')], { env: { ...process.env, ...env, MLIS_MIGRATION_DATABASE_URL: migrationDatabaseUrl }, stdio: 'inherit' });
    const temporalPid = Number(readFileSync(join(temporalDir, 'temporal.pid'), 'utf8').trim());
    const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
    const client = new Client({ connection });
    const counter = await statementCounter(script('scripts/postgres.sh', ['owner-url']), database);
    const statements = counter?.count;
    const server = serverRequests(`http://127.0.0.1:${temporalMetricsPort}/metrics`);
    try {
      if (quickClients > 0) {
        const quickLoad = [{ clients: quickClients, jobs: 300 }];
        const raw = await measureRaw(env, client, temporalPid, quickLoad, server);
        const mlis = await measureMlis(env, client, { temporal: [temporalPid], postgres: [postmaster] }, SINGLE, quickLoad, { statements, server });
        console.log(quickSummary(raw, mlis));
        return;
      }
      console.log('(a) raw Temporal baseline');
      const raw = await measureRaw(env, client, temporalPid, LOADS, server);
      console.log('(b) MLIS over HTTP');
      const mlis = await measureMlis(env, client, { temporal: [temporalPid], postgres: [postmaster] }, SINGLE, LOADS, { idle: true, statements, server });
      // The first round is (a) and (b); the others repeat their 20- and 50-client loads, raw first each time.
      const rounds: Round[] = [{ raw, mlis }];
      for (let round = 2; round <= ROUNDS; round += 1) {
        console.log(`(a, b) round ${round} of ${ROUNDS}: raw Temporal, then MLIS, at ${MULTI_CLIENT_LOADS.map((load) => load.clients).join(' and ')} clients`);
        const rawAgain = await measureRaw(env, client, temporalPid, MULTI_CLIENT_LOADS);
        rounds.push({ raw: rawAgain, mlis: await measureMlis(env, client, { temporal: [temporalPid], postgres: [postmaster] }, SINGLE, MULTI_CLIENT_LOADS) });
      }
      const scaled: ScaledOut[] = [];
      for (const topology of SCALE_OUT) {
        console.log(`(b') MLIS on ${topologyName(topology)} api + control processes`);
        scaled.push({ topology, measured: await measureMlis(env, client, { temporal: [temporalPid], postgres: [postmaster] }, topology, MULTI_CLIENT_LOADS) });
      }
      console.log('(c) recovery');
      const recoveries = await measureRecovery(env);
      const loadAfter = loadavg();
      section = report(raw, mlis, scaled, recoveries, rounds, [
        `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} cores (${cpus()[0].model.trim()}), Node ${process.version},`,
        `in ${((Date.now() - began) / 60000).toFixed(1)} min. Load average (1/5/15 min) ${loadBefore.map((l) => l.toFixed(1)).join('/')} before, ${loadAfter.map((l) => l.toFixed(1)).join('/')} after`,
        '(the machine is shared: other work ran beside it). Postgres (local cluster):',
        `${pgSettings}; Temporal dev server (SQLite); every process on this machine. Jobs: \`sleep\` ${JOB_SECONDS} s, cpu 1; the raw`,
        `workflow's activity sleeps ${JOB_SECONDS * 1000} ms. jobs/s: jobs over the wall time from the first submission to the last answer;`,
        'submit: the POST (raw: `workflow.start`) round trip; end-to-end: from sending the submission to receiving the final state',
        `(MLIS: GET /v1/jobs/:id?wait=${WAIT_SECONDS}; raw: \`handle.result()\`). Each client submits its next job once its last one is final; its connection`,
        "is open before its load begins (MLIS's since 2026-12-07; the raw callers' Temporal client always was).",
      ]);
    } finally {
      await connection.close();
      await counter?.close();
    }
  } finally {
    if (SPLIT_CORES) pinCores({ postgres: [postmaster] }, true);
    script('temporal/dev-server.sh', ['stop'], env);
    script('scripts/postgres.sh', ['psql', '-q', '-c', `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`]);
    stopPostgres();
  }
  console.log(section);
  const file = join(ROOT, 'docs/benchmarks.md');
  const current = readFileSync(file, 'utf8');
  const marked = /<!-- bench:e2e:start -->[\s\S]*<!-- bench:e2e:end -->/;
  writeFileSync(file, marked.test(current) ? current.replace(marked, section) : `${current.trimEnd()}\n\n## End to end (\`npm run bench:e2e\`)\n\n${section}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
