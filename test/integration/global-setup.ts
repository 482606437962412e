import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePortBlock } from '../support/free-ports';
import { ROOT, script, stack, STATE_DIR, writeStackEnv, type StackEnv } from './support/stack-env';

/**
 * Brings up the real stack for the integration suite: Postgres with a fresh database, a Temporal dev
 * server, migrations, then api + control + four nodes through scripts/stack.sh (the same launcher as `npm run up`).
 * Needs `npm run build` first (npm test does it).
 */
export default async function globalSetup(): Promise<void> {
  // What a run of this checkout left (one that was killed) goes first: a port still held after that is another process's.
  script('scripts/stack.sh', ['stop'], { MLIS_STATE_DIR: STATE_DIR });
  script('temporal/dev-server.sh', ['stop'], { MLIS_TEMPORAL_DIR: join(STATE_DIR, 'temporal') });
  // Ports apart from `npm run up`'s so the suite can run beside a developer's stack. Each is a block: the API's holds its
  // replica (+1), the JWKS API (+10) and the specs' second APIs (+11, +12); the metrics' holds control, the four nodes
  // and control's replica. A block another process holds (another checkout's suite) moves to the next free one, unless
  // its variable pins it; Postgres finds a free port by itself (scripts/postgres.sh).
  const API_PORT = await suitePort('MLIS_IT_API_PORT', 18001, 16);
  const TEMPORAL_PORT = await suitePort('MLIS_IT_TEMPORAL_PORT', 17233, 1);
  const TEMPORAL_UI_PORT = await suitePort('MLIS_IT_TEMPORAL_UI_PORT', 18233, 1);
  const METRICS_PORT = await suitePort('MLIS_IT_METRICS_PORT', 19464, 8);

  // A cluster already up (a developer's `npm run up`) stays up after the suite; one the suite starts is stopped by the
  // teardown, so it does not hold the port against another checkout's tests or benchmarks.
  const startedPostgres = !postgresUp();
  script('scripts/postgres.sh', ['start'], { MLIS_PG_FAST: '1' });
  const database = `mlis_it_${Date.now()}`;
  script('scripts/postgres.sh', ['createdb', database]);
  // The stack connects as the runtime role; migrations run as the owner, which grants the runtime role its rights.
  const databaseUrl = script('scripts/postgres.sh', ['url']).replace(/\/[^/]*$/, `/${database}`);
  const migrationDatabaseUrl = script('scripts/postgres.sh', ['owner-url']).replace(/\/[^/]*$/, `/${database}`);

  const temporalEnv = {
    TEMPORAL_PORT,
    TEMPORAL_UI_PORT,
    MLIS_TEMPORAL_DIR: join(STATE_DIR, 'temporal'),
  };
  script('temporal/dev-server.sh', ['start'], temporalEnv);

  // The stack's own secrets, apart from a developer's: 0600 files in a 0700 folder, made by the same script as `npm run up`.
  const secretsEnv = {
    MLIS_AUTH_DEV_SECRET_FILE: join(STATE_DIR, 'secrets', 'dev-signing-key'),
    MLIS_WORKER_BOOTSTRAP_SECRET_FILE: join(STATE_DIR, 'secrets', 'worker-bootstrap-secret'),
  };
  script('scripts/secrets.sh', ['ensure'], secretsEnv);

  const processEnv: Record<string, string> = {
    ...temporalEnv,
    ...secretsEnv,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: `127.0.0.1:${TEMPORAL_PORT}`,
    MLIS_API_PORT: API_PORT,
    MLIS_API_URL: `http://127.0.0.1:${API_PORT}`,
    // The nodes' second API is the replica scale-out.spec starts (scripts/stack.sh start-replica api 2); down otherwise.
    MLIS_NODE_API_URLS: `http://127.0.0.1:${API_PORT},http://127.0.0.1:${Number(API_PORT) + 1}`,
    MLIS_STATE_DIR: STATE_DIR,
    MLIS_STACK_METRICS_PORT: METRICS_PORT,
    // A short lease and fast liveness keep the kill-a-worker test quick; production defaults are 10 s and 15 s.
    MLIS_LEASE_SECONDS: '3',
    MLIS_SCHEDULE_TO_START_SECONDS: '10',
    MLIS_NODE_HEARTBEAT_SECONDS: '1',
    MLIS_NODE_DEAD_AFTER_SECONDS: '4',
    MLIS_CAPACITY_RETRY_SECONDS: '30',
    // Control's periodic steps every 5 s, not 10: what only a tick finds (a workflow that never started, one an operator
    // terminated, a lost preemption request) is found in half the wait.
    MLIS_SCHEDULER_CYCLE_INTERVAL_SECONDS: '5',
    // Every completed runner execution, one JSON line: the chaos spec counts effects with it.
    MLIS_NODE_EXECUTION_LOG: join(STATE_DIR, 'executions.jsonl'),
    // Artifacts: a cap the 413 spec can pass without sending a gigabyte, and retention every 2 s.
    MLIS_ARTIFACTS_MAX_BYTES: String(256 * 1024 * 1024),
    MLIS_ARTIFACTS_RETENTION_INTERVAL_SECONDS: '2',
    MLIS_STACK_NODES: 'cpu-1:cpu:4:4:8192:0 cpu-2:cpu:4:4:8192:0 gpu-1:gpu:2:4:16384:2 gpu-2:gpu:2:4:16384:2',
    // Restart backoffs double up to 8 s, not a minute: the chaos runs kill control and the API again and again within a
    // minute, and with the default cap the short run spent 529 of its 702 s waiting out 15 control restarts (with
    // 15 s, 150 of 282 s on 11 API restarts). With the start that follows, an outage still outlasts the lease (3 s)
    // and schedule-to-start (10 s).
    MLIS_SUPERVISE_MAX_BACKOFF_SECONDS: '8',
  };
  const env: StackEnv = {
    apiUrl: processEnv.MLIS_API_URL,
    databaseUrl,
    ownerDatabaseUrl: migrationDatabaseUrl,
    temporalAddress: processEnv.TEMPORAL_ADDRESS,
    processEnv,
    startedPostgres,
  };
  writeStackEnv(env);

  execFileSync('node', [join(ROOT, 'dist/db/run-migrations.js')], {
    env: { ...process.env, ...processEnv, MLIS_MIGRATION_DATABASE_URL: migrationDatabaseUrl },
    stdio: 'inherit',
  });
  // A new database gets a new artifact store: the old store's objects would be ones no row of it names.
  rmSync(join(STATE_DIR, 'artifacts'), { recursive: true, force: true });
  stack(env, 'start');
}

function postgresUp(): boolean {
  try {
    script('scripts/postgres.sh', ['status']);
    return true;
  } catch {
    return false;
  }
}

/**
 * The suite's port for `variable`: its value when set; else `defaultPort`, or the first block of `span` ports after it
 * that no process accepts connections on.
 */
async function suitePort(variable: string, defaultPort: number, span: number): Promise<string> {
  const pinned = process.env[variable];
  if (pinned) return pinned;
  const port = await freePortBlock(defaultPort, span);
  if (port !== defaultPort) console.log(`[integration] ports from ${defaultPort} are taken by another process: ${variable}=${port}`);
  return String(port);
}
