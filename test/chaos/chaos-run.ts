import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { Client as PgClient, Pool } from 'pg';
import { FsArtifactStore } from '@mlis/artifacts';
import { jobWorkflowId } from '@mlis/contracts';
import { api, env, STACK_NODE_IDS, tokenFor } from '../integration/support/api';
import { script, stack, STATE_DIR, type StackEnv } from '../integration/support/stack-env';
import { parsePid } from '../support/pid';

// A bounded fault run against the integration stack (loopback, and network namespaces it creates): jobs submitted
// while processes are killed, frozen, restarted and cut off and the artifact store's disk fills up, then invariants
// checked with SQL against the ledger and with the Temporal client.

export type FaultKind =
  | 'node_kill'
  | 'node_freeze'
  | 'node_partition'
  | 'control_kill'
  | 'api_kill'
  | 'temporal_kill'
  | 'postgres_crash'
  | 'disk_full';

export interface ChaosOptions {
  jobs: number;
  faults: number;
  /** Upper bound for submitting and faulting, ms; the run then waits for quiescence (bounded too). */
  durationMs: number;
  quiesceMs: number;
  seed: number;
  /** Relative weights; a kind with weight 0 never happens. */
  weights: Record<FaultKind, number>;
  log: (line: string) => void;
}

/** One job's cancel requests: how many were sent, and how many the API answered 202. */
interface CancelRequests {
  sent: number;
  accepted: number;
}

export interface ChaosReport {
  jobs: {
    accepted: number;
    byState: Record<string, number>;
    byTaskType: Record<string, number>;
    cancelRequested: number;
    preempted: number;
    idempotentReplays: number;
  };
  /** Input artifacts uploaded for echo jobs; answers 507 insufficient_storage to uploads and submissions. */
  artifacts: { inputs: number; refusedFull: number };
  faults: Record<FaultKind, { count: number; worstRecoveryMs: number }>;
  nodeReturnMs: number[];
  invariants: Record<string, string[]>;
  effects: { records: number; duplicateExecutions: number };
  elapsedMs: number;
}

/** With node_partition: one node of each group runs in a network namespace of its own (scripts/stack.sh). */
const NETNS_NODES = ['cpu-2', 'gpu-2'];
const KINDS: FaultKind[] = ['node_kill', 'node_freeze', 'node_partition', 'control_kill', 'api_kill', 'temporal_kill', 'postgres_crash', 'disk_full'];
/** With disk_full: the API's fs artifact store on a tmpfs of this size, mounted (and unmounted) by the run. */
const STORE_TMPFS_MB = 128;
/** Echo params padded past the inline threshold (MLIS_INLINE_PAYLOAD_MAX_BYTES, 64 KiB): params and result travel as artifacts. */
const OFFLOADED_PAD = 'x'.repeat(66 * 1024);

/** Small deterministic PRNG (mulberry32), so a run can be replayed with its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A finding, not a transient failure: `until` does not retry it. */
class ChaosError extends Error {}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof ChaosError) throw error;
      // The stack is recovering: ask again.
    }
    if (Date.now() > deadline) throw new Error(`chaos: timed out waiting for ${what}`);
    await pause(200);
  }
}

function chunks<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}

/** The pid of a live api, control or node process, waiting while its supervisor restarts it. */
async function livePid(name: string): Promise<number> {
  return until(`${name} running`, 120_000, async () => {
    // A pidfile that holds no pid (missing, or empty as an older stack.sh left it mid-write) is asked again.
    const pid = parsePid(stack(env, 'pid', name));
    return pid !== undefined && isAlive(pid) ? pid : undefined;
  });
}

function temporalEnv(): Record<string, string> {
  const { TEMPORAL_PORT, TEMPORAL_UI_PORT, MLIS_TEMPORAL_DIR } = env.processEnv;
  return { TEMPORAL_PORT, TEMPORAL_UI_PORT, MLIS_TEMPORAL_DIR };
}

async function ready(): Promise<boolean | undefined> {
  const { status } = await api('GET', '/health/ready/full', undefined, {}, { auth: false });
  return status === 200 ? true : undefined;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  // Two streams, so that a seed fixes both the jobs and the faults (kinds, targets, pacing): drawn from one, their order
  // would depend on how the submissions and the recoveries interleave.
  const jobRand = random(options.seed);
  const faultRand = random(options.seed + 1);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(faultRand() * items.length)];
  const started = Date.now();
  const tenant = `chaos-${options.seed}-${Date.now().toString(36)}`;
  const token = tokenFor({ tenant, sub: 'chaos' });
  const auth = { authorization: `Bearer ${token}` };
  const artifacts = { inputs: 0, refusedFull: 0 };
  const upload = async (name: string, bytes: string) => {
    const response = await api('POST', `/v1/artifacts?name=${encodeURIComponent(name)}`, bytes, { ...auth, 'content-type': 'application/octet-stream' });
    if (response.status === 507) artifacts.refusedFull += 1;
    return response;
  };
  const leaseMs = Number(env.processEnv.MLIS_LEASE_SECONDS ?? '3') * 1000;
  const executionLog = env.processEnv.MLIS_NODE_EXECUTION_LOG;
  // Probes during faults: a connection that Postgres' crash cuts is an 'error' event on the pool (ignored, the
  // probe's query fails and `until` asks again), never an unhandled one; a hung server cannot stall a probe.
  const probes = new Pool({ connectionString: env.databaseUrl, max: 4, connectionTimeoutMillis: 5_000, query_timeout: 5_000 });
  probes.on('error', () => undefined);
  // The stack as the run's faults need it: nodes in namespaces for partitions, the store on a tmpfs to fill.
  const partitions = options.weights.node_partition > 0;
  const storeDir = options.weights.disk_full > 0 ? join(STATE_DIR, 'chaos-artifacts') : undefined;
  const chaosEnv: StackEnv = {
    ...env,
    processEnv: {
      ...env.processEnv,
      ...(partitions ? { MLIS_STACK_NETNS: NETNS_NODES.join(' ') } : {}),
      ...(storeDir ? { MLIS_ARTIFACTS_DIR: storeDir } : {}),
    },
  };
  // The suite's cluster runs without fsync and synchronous commit (MLIS_PG_FAST): a crash would lose answered
  // commits. This run restarts it durable, and leaves it as it found it: fast as the suite starts it, or durable as a
  // cluster that was up before the suite (a benchmark's, a developer's `npm run up`) stays.
  const foundFast = script('scripts/postgres.sh', ['psql', '-At', '-c', 'SHOW fsync']) === 'off';
  script('scripts/postgres.sh', ['stop']);
  script('scripts/postgres.sh', ['start']);
  if (partitions || storeDir) {
    stack(env, 'stop');
    if (storeDir) mountStore(storeDir);
    stack(chaosEnv, 'start');
  }
  await until('ready on a durable Postgres', 120_000, ready);
  try {
    return await faultRun();
  } finally {
    script('scripts/postgres.sh', ['stop']);
    script('scripts/postgres.sh', ['start'], foundFast ? { MLIS_PG_FAST: '1' } : {});
    // Fresh supervisors: the run leaves their backoffs doubled up to the cap, and specs after it expect the first delay.
    // The stop also removes the nodes' namespaces and relays.
    stack(env, 'stop');
    if (storeDir) unmountStore(storeDir);
    stack(env, 'start');
    await until('ready again after the run', 120_000, ready);
    await probes.end();
  }

  async function faultRun(): Promise<ChaosReport> {
    const created = await api('POST', '/v1/tenants', { id: tenant });
    if (created.status !== 201) throw new Error(`chaos: tenant not created: ${created.status}`);

    // --- submissions: every one carries an Idempotency-Key, so a retry after a fault is the same submission ---
    const accepted = new Map<string, { key: string; body: Record<string, unknown> }>();
    // Per cancelled job: the cancel requests sent (each may have reached an API) and those answered 202.
    const cancels = new Map<string, CancelRequests>();
    let replays = 0;
    const submitOnce = async (key: string, body: Record<string, unknown>): Promise<{ id: string; status: number }> =>
      until(`submission ${key}`, 120_000, async () => {
        const response = await api('POST', '/v1/jobs', body, { ...auth, 'Idempotency-Key': key });
        if (response.status === 202 || response.status === 200) return { id: response.body.id as string, status: response.status };
        if (response.status === 507) artifacts.refusedFull += 1;
        if (response.status >= 400 && response.status < 500 && response.status !== 429) {
          throw new ChaosError(`chaos: submission refused ${response.status} ${JSON.stringify(response.body)}`);
        }
        return undefined;
      });
    /** An input artifact for one echo job (1-32 KiB), retried like a submission while the stack recovers. */
    const uploadInput = (key: string): Promise<string> => {
      const bytes = randomBytes(512 + Math.floor(jobRand() * 16 * 1024)).toString('hex');
      return until(`input of ${key}`, 180_000, async () => {
        const response = await upload(`${key}.bin`, bytes);
        if (response.status === 201) {
          artifacts.inputs += 1;
          return response.body.id as string;
        }
        if (response.status >= 400 && response.status < 500 && response.status !== 429) {
          throw new ChaosError(`chaos: upload refused ${response.status} ${JSON.stringify(response.body)}`);
        }
        return undefined;
      });
    };
    const jobBody = (): Record<string, unknown> => {
      const roll = jobRand();
      const common = { max_attempts: 20, timeout_seconds: 300 };
      // Artifacts from the first jobs on (what disk_full needs): an input uploaded for the job and read on the
      // node; every other one with params and result large enough to be stored as artifacts too.
      if (roll < 0.08) return { ...common, task_type: 'echo', params: { input: 'artifact://', ...(jobRand() < 0.5 ? { pad: OFFLOADED_PAD } : {}) } };
      if (roll < 0.55) return { ...common, task_type: 'sleep', params: { seconds: 0.2 + Math.round(jobRand() * 12) / 10 } };
      if (roll < 0.75) return { ...common, task_type: 'gpu_demo', params: { seconds: 0.3, matrix_size: 16 }, gpu: 1 };
      if (roll < 0.92) return { ...common, task_type: 'inference', params: { text: `chaos run ${Math.floor(jobRand() * 1e6)} was good` } };
      // Lower-priority GPU work for the urgent ones to evict.
      if (roll < 0.96) return { ...common, task_type: 'sleep', params: { seconds: 3 }, gpu: 2, priority_class: 'low' };
      return { ...common, task_type: 'sleep', params: { seconds: 0.5 }, gpu: 2, priority_class: 'urgent' };
    };
    const submitter = (async () => {
      const gap = options.durationMs / options.jobs;
      const inFlight: Promise<void>[] = [];
      for (let i = 0; i < options.jobs; i += 1) {
        const key = `chaos-${i}`;
        const body = jobBody();
        const cancel = jobRand() < 0.1;
        const replay = jobRand() < 0.1;
        // Drawn here, not after the submission's awaits: the stream's order stays the loop's.
        const cancelDelayMs = jobRand() * 1500;
        inFlight.push(
          (async () => {
            if (body.task_type === 'echo') (body.params as { input: string }).input = `artifact://${await uploadInput(key)}`;
            const { id } = await submitOnce(key, body);
            accepted.set(id, { key, body });
            if (replay) {
              const again = await submitOnce(key, body);
              if (again.id !== id) throw new ChaosError(`chaos: replay of ${key} answered job ${again.id}, not ${id}`);
              replays += 1;
            }
            if (cancel) {
              await pause(cancelDelayMs);
              const requests = { sent: 0, accepted: 0 };
              cancels.set(id, requests);
              await until(`cancel ${id}`, 120_000, async () => {
                requests.sent += 1;
                const response = await api('POST', `/v1/jobs/${id}/cancel`, undefined, auth);
                if (response.status === 202) {
                  requests.accepted += 1;
                  return true;
                }
                // Already finished: nothing to cancel.
                if (response.status === 409) return true;
                return undefined;
              });
            }
          })(),
        );
        await pause(gap * (0.5 + jobRand()));
        // Bounded concurrency: at most 64 submissions (with their retries) at once.
        if (inFlight.length >= 64) await Promise.all(inFlight.splice(0, inFlight.length));
      }
      await Promise.all(inFlight);
    })();

    // --- faults: one at a time, each followed by the wait until the stack answers ready again ---
    const faults = Object.fromEntries(KINDS.map((kind) => [kind, { count: 0, worstRecoveryMs: 0 }])) as ChaosReport['faults'];
    const nodeReturnMs: number[] = [];
    const nodeReturns: Promise<void>[] = [];
    const apiKills: number[] = [];
    const weighted = KINDS.flatMap((kind) => Array<FaultKind>(options.weights[kind]).fill(kind));
    /** Waits in the background until a node is ACTIVE as a newer incarnation than `incarnation`, and records how long. */
    const awaitReturn = (node: string, incarnation: number, at: number, what: string): void => {
      // A node killed again and again waits up to the supervisors' backoff cap, then starts on two busy cores: allow four minutes.
      let seen = 'nothing yet';
      nodeReturns.push(
        until(`${node} back`, 240_000, async () => {
          const row = await nodeRow(node);
          seen = JSON.stringify(row);
          return row?.status === 'ACTIVE' && row.incarnation > incarnation ? true : undefined;
        }).then(
          () => {
            nodeReturnMs.push(Date.now() - at);
          },
          (error: Error) => {
            throw new Error(`${error.message} (${what}, incarnation ${incarnation}, last row ${seen}, supervisors:\n${stack(env, 'status')})`);
          },
        ),
      );
    };
    const faulter = (async () => {
      const end = Date.now() + options.durationMs;
      for (let i = 0; i < options.faults; i += 1) {
        const kind = pick(weighted);
        const at = Date.now();
        switch (kind) {
          case 'node_kill': {
            const node = pick(STACK_NODE_IDS);
            const incarnation = await nodeIncarnation(node);
            process.kill(await livePid(`node-${node}`), 'SIGKILL');
            // The supervisor brings it back as a new incarnation; measured in the background.
            awaitReturn(node, incarnation, at, 'killed');
            break;
          }
          case 'node_partition': {
            const node = pick(NETNS_NODES);
            const incarnation = await nodeIncarnation(node);
            const relay = await livePid(`relay-${node}`);
            // Cut off from Temporal and the API while it keeps running: past its lease its attempts are LOST and
            // re-placed, and the ledger declares it DEAD; healed, whatever it still sends for them must be refused.
            process.kill(relay, 'SIGUSR1');
            await pause(leaseMs * 2);
            await until(`${node} declared dead while cut off`, 60_000, async () => ((await nodeRow(node))?.status === 'ACTIVE' ? undefined : true));
            // A relay that ended would have let the node back in early (its supervisor starts it healed).
            if (!isAlive(relay)) throw new ChaosError(`chaos: the relay of ${node} ended while it was cut`);
            process.kill(relay, 'SIGUSR2');
            // It registers again as a new incarnation (or exits superseded and its supervisor restarts it).
            awaitReturn(node, incarnation, at, 'cut off');
            break;
          }
          case 'disk_full': {
            // Every byte of the store's file system taken: uploads, offloaded params and node results must be
            // refused whole (507), then accepted again once there is room.
            const filler = join(storeDir!, 'chaos-filler');
            fillUp(filler);
            await until('an upload refused with 507 on the full store', 60_000, async () => {
              const response = await upload('probe.bin', randomBytes(64 * 1024).toString('hex'));
              if (response.status === 201) throw new ChaosError(`chaos: an upload was accepted on a full store: ${JSON.stringify(response.body)}`);
              if (response.status !== 507) return undefined;
              if (response.body?.error?.code !== 'insufficient_storage') throw new ChaosError(`chaos: full store answered ${JSON.stringify(response.body)}`);
              return true;
            });
            // Full for a while: node results and submissions meet it too.
            await pause(leaseMs * 2);
            rmSync(filler);
            await until('an upload accepted after the store has room again', 60_000, async () =>
              (await upload('probe.bin', randomBytes(1024).toString('hex'))).status === 201 ? true : undefined,
            );
            break;
          }
          case 'node_freeze': {
            const node = pick(STACK_NODE_IDS);
            const pid = await livePid(`node-${node}`);
            process.kill(pid, 'SIGSTOP');
            // Past its lease: its attempts are LOST and re-placed; thawed, it is a zombie that must not write.
            await pause(leaseMs * 2);
            process.kill(pid, 'SIGCONT');
            break;
          }
          case 'control_kill':
            process.kill(await livePid('control'), 'SIGKILL');
            break;
          case 'api_kill':
            process.kill(await livePid('api'), 'SIGKILL');
            apiKills.push(Date.now());
            break;
          case 'temporal_kill': {
            const pid = parsePid(readFileSync(join(temporalEnv().MLIS_TEMPORAL_DIR, 'temporal.pid'), 'utf8'));
            if (pid === undefined) throw new ChaosError('chaos: the temporal dev server has no pid recorded');
            process.kill(pid, 'SIGKILL');
            await until('temporal dev server gone', 10_000, async () => (isAlive(pid) ? undefined : true));
            script('temporal/dev-server.sh', ['start'], temporalEnv());
            break;
          }
          case 'postgres_crash':
            script('scripts/postgres.sh', ['crash']);
            script('scripts/postgres.sh', ['start']);
            break;
        }
        // A moment for the fault to be noticed before asking whether the stack is back.
        await pause(300);
        await until(`ready after ${kind}`, 180_000, ready);
        faults[kind].count += 1;
        faults[kind].worstRecoveryMs = Math.max(faults[kind].worstRecoveryMs, Date.now() - at);
        options.log(`fault ${i + 1}/${options.faults} ${kind}: ready again after ${Date.now() - at} ms`);
        // Paced to end near durationMs: a fault's own wait (a freeze, a cut, the recovery) comes out of the time
        // left, shared among the faults left; past it, the rest follow one another at once.
        await pause((Math.max(0, end - Date.now()) / (options.faults - i)) * faultRand());
      }
    })();

    await Promise.all([submitter, faulter]);
    await Promise.all(nodeReturns);
    options.log(`submitted ${accepted.size} jobs, ${options.faults} faults in ${Date.now() - started} ms; waiting for quiescence`);

    const db = new PgClient({ connectionString: env.databaseUrl });
    db.on('error', () => undefined);
    await db.connect();
    const connection = await Connection.connect({ address: env.temporalAddress });
    const temporal = new TemporalClient({ connection });
    try {
      const ids = [...accepted.keys()];
      // Quiescence: every accepted job final, and its workflow closed. A workflow closes after the activity that wrote
      // its job's final state, later still when control was just killed: asked at once, it may still be running.
      const workflows = new ClosedWorkflows(temporal);
      // Logged as it changes, not at every probe.
      let reportedRunning = 0;
      await until('every accepted job in a final state and its workflow closed', options.quiesceMs, async () => {
        const { rows } = await db.query(`SELECT count(*)::int AS open FROM jobs WHERE id = ANY($1) AND state NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED')`, [ids]);
        if (rows[0].open > 0) return undefined;
        const running = await workflows.stillRunning(ids);
        if (running > 0 && running !== reportedRunning) options.log(`every job final; ${running} of their workflows still running`);
        reportedRunning = running;
        return running === 0 ? true : undefined;
      }).then(
        () => options.log(`quiescent after ${Date.now() - started} ms`),
        (error: unknown) => options.log(String(error)),
      );
      const invariants = await checkInvariants(db, workflows, ids, cancels, tenant);
      if (storeDir) invariants['no partial upload left in the store but those of a killed API'] = unexplainedInStaging(storeDir, apiKills);
      // The run's own store, or the suite's (new with the suite's database).
      const store = storeDir ?? join(env.processEnv.MLIS_STATE_DIR, 'artifacts');
      invariants['every stored object named by an artifact row or a pending upload'] = await unaccountedInStore(db, store);
      invariants["every artifact of the run's tenant with its bytes in the store"] = await rowsWithoutBytes(db, store, tenant);
      const effects = checkEffects(db, executionLog, ids, invariants);
      const { rows: states } = await db.query(`SELECT state, count(*)::int AS n FROM jobs WHERE id = ANY($1) GROUP BY state`, [ids]);
      const { rows: types } = await db.query(`SELECT task_type, count(*)::int AS n FROM jobs WHERE id = ANY($1) GROUP BY task_type`, [ids]);
      const { rows: preempted } = await db.query(`SELECT count(*)::int AS n FROM job_assignments WHERE job_id = ANY($1) AND state = 'PREEMPTED'`, [ids]);
      return {
        jobs: {
          accepted: ids.length,
          byState: Object.fromEntries(states.map((r) => [r.state, r.n])),
          byTaskType: Object.fromEntries(types.map((r) => [r.task_type, r.n])),
          cancelRequested: [...cancels.values()].filter((requests) => requests.accepted > 0).length,
          preempted: preempted[0].n,
          idempotentReplays: replays,
        },
        artifacts,
        faults,
        nodeReturnMs,
        invariants,
        effects: await effects,
        elapsedMs: Date.now() - started,
      };
    } finally {
      await db.end();
      await connection.close();
    }
  }

  async function nodeRow(node: string): Promise<{ incarnation: number; status: string } | undefined> {
    const { rows } = await probes.query(`SELECT incarnation, status FROM nodes WHERE id = $1`, [node]);
    return rows[0];
  }

  /** The node's incarnation while it is ACTIVE, -1 otherwise. */
  async function nodeIncarnation(node: string): Promise<number> {
    const row = await nodeRow(node);
    return row?.status === 'ACTIVE' ? row.incarnation : -1;
  }
}

/** Mounts a tmpfs for the artifact store: a disk this run can fill without touching the machine's. */
function mountStore(dir: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${STORE_TMPFS_MB}m,mode=0700`, 'mlis-chaos-artifacts', dir]);
}

function unmountStore(dir: string): void {
  execFileSync('umount', [dir]);
  rmSync(dir, { recursive: true, force: true });
}

/** Writes `path` until the file system is full: 1 MiB at a time, then one page at a time to the last one. */
function fillUp(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (const chunk of [Buffer.alloc(1024 * 1024, 1), Buffer.alloc(4096, 1), Buffer.alloc(1, 1)]) {
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw error;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Files under the fs store's staging directory that no api kill explains: an upload in flight when its API process
 * died stays there until control sweeps it (after 24 h); any other is an upload that was neither kept nor removed.
 */
function unexplainedInStaging(storeDir: string, apiKills: number[]): string[] {
  const staging = join(storeDir, 'staging');
  if (!existsSync(staging)) return [];
  const cutOff = (mtimeMs: number) => apiKills.some((at) => mtimeMs <= at + 1_000 && mtimeMs >= at - 60_000);
  return readdirSync(staging)
    .filter((name) => !cutOff(statSync(join(staging, name)).mtimeMs))
    .slice(0, 20);
}

/**
 * Objects in the fs store that neither an artifact row nor a pending upload names: bytes nothing would ever reach or
 * remove. An upload whose row a crash kept from committing leaves its bytes with its pending record (retention removes
 * both after a day); any object with neither is a leak.
 */
async function unaccountedInStore(db: PgClient, storeDir: string): Promise<string[]> {
  const content = join(storeDir, 'sha256');
  const stored = existsSync(content) ? readdirSync(content).flatMap((fanOut) => readdirSync(join(content, fanOut))) : [];
  const { rows } = await db.query(
    `SELECT s.sha256 FROM unnest($1::text[]) AS s(sha256)
     WHERE NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.sha256 = s.sha256)
       AND NOT EXISTS (SELECT 1 FROM pending_uploads p WHERE p.sha256 = s.sha256)`,
    [stored],
  );
  return rows.map((row: { sha256: string }) => row.sha256).slice(0, 20);
}

/**
 * The tenant's artifacts whose bytes are not in the store: rows a download would answer 404 for. The run deletes no
 * artifact, so ADR 0012's one way to leave such a row (a delete whose commit failed after it removed the bytes) cannot
 * explain one; an upload's row committed without its bytes would (ADR 0061).
 */
async function rowsWithoutBytes(db: PgClient, storeDir: string, tenant: string): Promise<string[]> {
  const store = new FsArtifactStore(storeDir);
  const { rows } = await db.query(`SELECT id, sha256 FROM artifacts WHERE tenant_id = $1`, [tenant]);
  const missing: string[] = [];
  for (const row of rows as { id: string; sha256: string }[]) if (!(await store.exists(row.sha256))) missing.push(row.id);
  return missing.slice(0, 20);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The status of each job's workflow once it has closed. A closed workflow stays closed, so each is described until it
 * is, and never again after: quiescence's answers serve the invariant too.
 */
class ClosedWorkflows {
  private readonly statuses = new Map<string, string>();

  constructor(private readonly temporal: TemporalClient) {}

  /** Describes the workflows of `jobIds` not yet seen closed; returns how many of them still run. */
  async stillRunning(jobIds: string[]): Promise<number> {
    const open = jobIds.filter((id) => !this.statuses.has(id));
    for (const batch of chunks(open, 32)) {
      await Promise.all(
        batch.map(async (id) => {
          const status = (await this.temporal.workflow.getHandle(jobWorkflowId(id)).describe()).status.name;
          if (status !== 'RUNNING') this.statuses.set(id, status);
        }),
      );
    }
    return jobIds.filter((id) => !this.statuses.has(id)).length;
  }

  /** The closed workflow's status, RUNNING while it has not been seen closed. */
  statusOf(jobId: string): string {
    return this.statuses.get(jobId) ?? 'RUNNING';
  }
}

/** Each invariant's violations (job ids or rows, at most 20 shown); an empty list means it holds. */
async function checkInvariants(
  db: PgClient,
  workflows: ClosedWorkflows,
  ids: string[],
  cancels: Map<string, CancelRequests>,
  tenant: string,
): Promise<Record<string, string[]>> {
  const rows = async (sql: string, params: unknown[] = [ids]): Promise<string[]> =>
    (await db.query(sql, params)).rows.map((row) => JSON.stringify(row)).slice(0, 20);
  const invariants: Record<string, string[]> = {
    // A missing row counts: an answered 202 must survive any crash.
    'every accepted submission is in a final state': await rows(
      `SELECT c.id, j.state FROM unnest($1::uuid[]) AS c(id) LEFT JOIN jobs j ON j.id = c.id
       WHERE j.id IS NULL OR j.state NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED')`,
    ),
    // max_attempts 20: only a runner error or attempts used up may fail a job, and the runner inputs are valid.
    'no job FAILED by a fault while attempts remained': await rows(
      `SELECT j.id, j.error FROM jobs j WHERE j.id = ANY($1) AND j.state = 'FAILED'
         AND NOT (j.error->>'code' = 'MaxAttemptsExhausted'
                  AND (SELECT count(*) FROM job_assignments a WHERE a.job_id = j.id AND a.state = 'LOST') >= j.max_attempts)`,
    ),
    'exactly one SUCCEEDED assignment per SUCCEEDED job, none for the others': await rows(
      `SELECT j.id, j.state, count(a.id) FILTER (WHERE a.state = 'SUCCEEDED') AS succeeded FROM jobs j
       LEFT JOIN job_assignments a ON a.job_id = j.id WHERE j.id = ANY($1) GROUP BY j.id, j.state
       HAVING count(a.id) FILTER (WHERE a.state = 'SUCCEEDED') <> CASE WHEN j.state = 'SUCCEEDED' THEN 1 ELSE 0 END`,
    ),
    // A superseded attempt's outcome is never taken: the accepted success is the job's last attempt.
    'no write from a superseded attempt or incarnation accepted': await rows(
      `SELECT a.job_id, a.attempt FROM job_assignments a
       WHERE a.job_id = ANY($1) AND a.state = 'SUCCEEDED'
         AND (a.attempt <> (SELECT max(b.attempt) FROM job_assignments b WHERE b.job_id = a.job_id)
              OR EXISTS (SELECT 1 FROM job_assignments l WHERE l.job_id = a.job_id AND l.state = 'LOST'
                           AND l.node_id = a.node_id AND l.node_incarnation = a.node_incarnation AND l.attempt < a.attempt))`,
    ),
    'used_* counters equal live assignments (none live at quiescence)': await rows(
      `SELECT n.id, n.used_slots, n.used_cpu_millis, n.used_mem_mb, n.used_gpus, count(a.id) AS live FROM nodes n
       LEFT JOIN job_assignments a ON a.node_id = n.id AND a.state IN ('PLACED', 'RUNNING')
       GROUP BY n.id HAVING n.used_slots <> count(a.id) OR n.used_cpu_millis <> coalesce(sum(a.cpu_millis), 0)
         OR n.used_mem_mb <> coalesce(sum(a.mem_mb), 0) OR n.used_gpus <> coalesce(sum(cardinality(a.gpu_ids)), 0)
         OR count(a.id) > 0`,
      [],
    ),
    'no GPU reservation outlives its assignment': await rows(
      `SELECT r.node_id, r.gpu_index, a.state FROM gpu_reservations r JOIN job_assignments a ON a.id = r.assignment_id
       WHERE a.state NOT IN ('PLACED', 'RUNNING')`,
      [],
    ),
    'tenant usage back to zero': await rows(`SELECT * FROM tenant_usage WHERE tenant_id = $1 AND (running_jobs <> 0 OR gpus <> 0 OR cpu_millis <> 0)`, [tenant]),
    'an audit row for every accepted submission': await rows(
      `SELECT j.id FROM jobs j WHERE j.id = ANY($1) AND (SELECT count(*) FROM audit_events e
         WHERE e.action = 'job.submit' AND e.result = 'allow' AND e.resource = 'job/' || j.id) <> 1`,
    ),
    // The API writes a cancel's allow row before it asks Temporal (jobs.service.ts): a request that fails after it, or
    // whose API is killed before it answers, leaves its row and is sent again. So one row per 202 at least, and one
    // per request sent at most.
    'an audit row for every accepted cancel': await rows(
      `SELECT c.id, c.sent, c.accepted, r.audited FROM unnest($1::uuid[], $2::int[], $3::int[]) AS c(id, sent, accepted),
         LATERAL (SELECT count(*)::int AS audited FROM audit_events e
                  WHERE e.action = 'job.cancel' AND e.result = 'allow' AND e.resource = 'job/' || c.id) r
       WHERE r.audited < c.accepted OR r.audited > c.sent`,
      [[...cancels.keys()], [...cancels.values()].map((c) => c.sent), [...cancels.values()].map((c) => c.accepted)],
    ),
  };
  // Temporal agrees: every job's workflow is closed, with the outcome the ledger recorded.
  const expected: Record<string, string> = { SUCCEEDED: 'COMPLETED', FAILED: 'FAILED', CANCELLED: 'CANCELLED' };
  const mismatched: string[] = [];
  const { rows: states } = await db.query(`SELECT id, state FROM jobs WHERE id = ANY($1)`, [ids]);
  await workflows.stillRunning(ids);
  for (const { id, state } of states as { id: string; state: string }[]) {
    const status = workflows.statusOf(id);
    if (status !== expected[state]) mismatched.push(`${id}: ledger ${state}, workflow ${status}`);
  }
  invariants['every workflow closed with the ledger state (Temporal client)'] = mismatched.slice(0, 20);
  return invariants;
}

/**
 * The runner's effect: one completion record for each SUCCEEDED job's successful attempt, and at most one for each of its
 * other attempts, which must have ended LOST or PREEMPTED: at-least-once, as a node can finish a run and then lose its
 * lease (it died, froze or was cut off before it reported), or finish it just as a preemption stops it, or after a
 * preemption it never acknowledged (frozen: the attempt then ends PREEMPTED when its lease runs out).
 */
async function checkEffects(db: PgClient, file: string | undefined, ids: string[], invariants: Record<string, string[]>): Promise<ChaosReport['effects']> {
  if (!file || !existsSync(file)) {
    invariants['runner effect observed once per SUCCEEDED job'] = ['no execution log (MLIS_NODE_EXECUTION_LOG)'];
    return { records: 0, duplicateExecutions: 0 };
  }
  // The log is the stack's, kept across the suite's specs and runs: only this run's jobs count.
  const ofThisRun = new Set(ids);
  const records = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { jobId: string; attempt: number })
    .filter((record) => ofThisRun.has(record.jobId));
  const byAttempt = new Map<string, number>();
  for (const record of records) byAttempt.set(`${record.jobId}#${record.attempt}`, (byAttempt.get(`${record.jobId}#${record.attempt}`) ?? 0) + 1);
  const { rows } = await db.query(
    `SELECT a.job_id, a.attempt, a.state FROM job_assignments a JOIN jobs j ON j.id = a.job_id WHERE j.state = 'SUCCEEDED' AND a.job_id = ANY($1)`,
    [ids],
  );
  const problems: string[] = [];
  let duplicates = 0;
  const attempts = new Set<string>();
  for (const row of rows as { job_id: string; attempt: number; state: string }[]) {
    const key = `${row.job_id}#${row.attempt}`;
    attempts.add(key);
    const runs = byAttempt.get(key) ?? 0;
    if (row.state === 'SUCCEEDED') {
      if (runs !== 1) problems.push(`${row.job_id}: successful attempt ${row.attempt} recorded ${runs} times`);
      continue;
    }
    duplicates += runs;
    if (runs > 1) problems.push(`${row.job_id}: attempt ${row.attempt} (${row.state}) recorded ${runs} times`);
    if (runs > 0 && row.state !== 'LOST' && row.state !== 'PREEMPTED') problems.push(`${row.job_id}: attempt ${row.attempt} ran to its end but ended ${row.state}`);
  }
  const succeededJobs = new Set((rows as { job_id: string }[]).map((row) => row.job_id));
  for (const [key, runs] of byAttempt) {
    const jobId = key.split('#')[0];
    if (succeededJobs.has(jobId) && !attempts.has(key)) problems.push(`${jobId}: ${runs} record(s) of attempt ${key.split('#')[1]}, which has no row`);
  }
  invariants['runner effect observed once per SUCCEEDED job'] = problems.slice(0, 20);
  return { records: records.length, duplicateExecutions: duplicates };
}

/** The report as the markdown table in docs/validation/chaos.md. */
export function chaosTable(report: ChaosReport, options: Pick<ChaosOptions, 'jobs' | 'faults' | 'seed'>): string {
  const lines = [
    `Run: ${options.jobs} jobs, ${options.faults} faults, seed ${options.seed}, ${(report.elapsedMs / 1000).toFixed(0)} s.`,
    '',
    '| fault | count | worst time until ready again |',
    '| --- | ---: | ---: |',
    ...KINDS.map((kind) => `| ${kind} | ${report.faults[kind].count} | ${(report.faults[kind].worstRecoveryMs / 1000).toFixed(1)} s |`),
    '',
    `Killed or cut-off nodes back as a new incarnation: ${report.nodeReturnMs.length}, worst ${(Math.max(0, ...report.nodeReturnMs) / 1000).toFixed(1)} s after the kill.`,
    '',
    '| jobs | count |',
    '| --- | ---: |',
    `| accepted | ${report.jobs.accepted} |`,
    ...Object.entries(report.jobs.byState).map(([state, n]) => `| ${state} | ${n} |`),
    ...Object.entries(report.jobs.byTaskType).map(([type, n]) => `| task ${type} | ${n} |`),
    `| cancel requested | ${report.jobs.cancelRequested} |`,
    `| preempted attempts | ${report.jobs.preempted} |`,
    `| resubmitted with the same Idempotency-Key | ${report.jobs.idempotentReplays} |`,
    `| input artifacts uploaded (echo) | ${report.artifacts.inputs} |`,
    `| answered 507 insufficient_storage (uploads, submissions) | ${report.artifacts.refusedFull} |`,
    `| runner executions recorded | ${report.effects.records} |`,
    `| re-executions after a lost or preempted attempt | ${report.effects.duplicateExecutions} |`,
    '',
    '| invariant | result |',
    '| --- | --- |',
    ...Object.entries(report.invariants).map(([name, violations]) => `| ${name} | ${violations.length === 0 ? 'holds' : `VIOLATED: ${violations.length}`} |`),
  ];
  return lines.join('\n');
}
