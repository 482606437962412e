// The only module that reads process.env: every variable is parsed and checked once, here,
// and listed with its default in .env.example. The one it writes, for a dependency, is here too.

import { join, resolve } from 'node:path';
// The files, not the barrel: that would load @temporalio/workflow into every process that reads config (the CLI).
import { LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN } from '@mlis/contracts/labels';
import { NAME_PATTERN } from '@mlis/contracts/names';

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value === '' ? fallback : value;
}

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min) throw new ConfigError(`${name} must be >= ${min}, got ${value}`);
  if (value > max) throw new ConfigError(`${name} must be <= ${max}, got ${value}`);
  return value;
}

/** The longest period Node's timers take (2^31 - 1 ms); a longer one fires at once, again and again. */
const TIMER_MAX_SECONDS = Math.floor(0x7fffffff / 1000);

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name, String(fallback));
  if (raw !== 'true' && raw !== 'false') throw new ConfigError(`${name} must be true or false, got "${raw}"`);
  return raw === 'true';
}

function list(env: Env, name: string, fallback: string[]): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return raw.split(',').map((item) => item.trim()).filter(Boolean);
}

// Never 'none', never a family mix-up: the verifier checks the token's alg against this list first.
const ALLOWED_ALGORITHMS = ['HS256', 'RS256', 'ES256'];

export interface TemporalConfig {
  address: string;
  namespace: string;
  /**
   * Whether control's workflow threads record a stack trace for every promise a workflow creates, for the
   * `__stack_trace` query (ADR 0044). Read before loadConfig runs, by the module control preloads.
   */
  workflowStackTraces: boolean;
  /**
   * Worker threads of the Temporal SDK core's runtime (tokio) in every MLIS process, 1 unless set. A process's core
   * work (its polls, completions and client calls) is well within one thread; the SDK's default, one a core, has every
   * process's threads contend for the same cores (ADR 0060).
   */
  coreThreads: number;
}

/**
 * Hands `coreThreads` (MLIS_TEMPORAL_CORE_THREADS) to the Temporal SDK's core: the SDK has no option for it, and its
 * core builds tokio's default runtime, which reads TOKIO_WORKER_THREADS then (ADR 0060). Call before the process
 * installs the SDK's runtime.
 */
export function setTemporalCoreThreads(coreThreads: number, env: Env = process.env): void {
  env.TOKIO_WORKER_THREADS = String(coreThreads);
}

/** MLIS_WORKFLOW_STACK_TRACES, for loadConfig and for the workflow hosts' preload (libs/workflow-host/workflow-stack-traces.ts). */
export function workflowStackTraces(env: Env = process.env): boolean {
  return bool(env, 'MLIS_WORKFLOW_STACK_TRACES', false);
}

export interface SchedulingConfig {
  /**
   * Heartbeat timeout of a dispatched assignment: how long a silent node keeps its lease. Also the job workflow workers'
   * sticky queue timeout: how long a workflow's next task waits for a dead API or control process (ADR 0052).
   */
  leaseSeconds: number;
  /** How long a placed assignment may wait for its node to pick it up. */
  scheduleToStartSeconds: number;
  defaultMaxAttempts: number;
  defaultTimeoutSeconds: number;
  /** Safety-net re-placement timer for waiting jobs; capacity signals are the normal path. */
  capacityRetrySeconds: number;
  nodeHeartbeatSeconds: number;
  /** A node silent for this long is marked DEAD and never placed on. */
  nodeDeadAfterSeconds: number;
  /** A node DEAD for this long, with no live attempt, is deleted (its attempts keep its id, host and pid). */
  nodeRetentionSeconds: number;
  /** Waiting time that raises a job's effective priority by one step, so low priority eventually runs; 0 turns aging off. */
  agingSeconds: number;
  /** How many jobs of each (tenant, priority) lane one scheduling cycle looks at. */
  laneWindow: number;
  /** How many blocked jobs at the front of the queue may hold a node until it frees up for them. */
  holdDepth: number;
  /** Safety-net period of the control process's own scheduling cycle; events trigger cycles at once. */
  cycleIntervalSeconds: number;
  /** Named priorities users may submit with `priority_class`; only classes marked preempting may evict. */
  priorityClasses: PriorityClass[];
}

export interface PriorityClass {
  name: string;
  priority: number;
  /** Jobs of this class may evict running jobs of strictly lower priority when that is the only way they fit. */
  preempting: boolean;
}

/** What a job submitted without a priority or a class runs at. */
export const DEFAULT_PRIORITY = 0;

/**
 * The priorities a job may give as a plain `priority`: from the lowest of the classes and the default, to just below
 * the first preempting class. At or above a preempting class a plain priority would go before that class's jobs and
 * never be evicted by them; and each value is a lane that every scheduling cycle reads, so the range stays small.
 */
export function plainPriorityRange(classes: readonly PriorityClass[]): { min: number; max: number } {
  const preempting = classes.filter((c) => c.preempting).map((c) => c.priority);
  const max = preempting.length > 0 ? Math.min(...preempting) - 1 : Math.max(DEFAULT_PRIORITY, ...classes.map((c) => c.priority));
  return { min: Math.min(DEFAULT_PRIORITY, ...classes.map((c) => c.priority)), max };
}

/** `name:priority[:preempting]`, comma separated, e.g. `batch:-10,normal:0,urgent:100:preempting`. */
function priorityClasses(env: Env, name: string, fallback: string): PriorityClass[] {
  const classes = str(env, name, fallback)
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      const match = /^([a-z0-9][a-z0-9-]{0,62}):(-?\d+)(:preempting)?$/.exec(item);
      if (!match) throw new ConfigError(`${name}: "${item}" is not name:priority[:preempting]`);
      return { name: match[1], priority: Number(match[2]), preempting: match[3] !== undefined };
    });
  if (new Set(classes.map((c) => c.name)).size !== classes.length) throw new ConfigError(`${name} names a class twice`);
  if (classes.some((c) => c.preempting && c.priority <= DEFAULT_PRIORITY)) {
    throw new ConfigError(`${name}: a preempting class needs a priority above ${DEFAULT_PRIORITY}, the priority of a job that names none`);
  }
  return classes;
}

/** `key=value`, comma separated; keys and values are short plain words. */
function labels(env: Env, name: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const item of list(env, name, [])) {
    const at = item.indexOf('=');
    const [key, value] = [item.slice(0, at), item.slice(at + 1)];
    if (at < 0 || !LABEL_KEY_PATTERN.test(key) || !LABEL_VALUE_PATTERN.test(value)) throw new ConfigError(`${name}: "${item}" is not key=value`);
    result[key] = value;
  }
  return result;
}

export interface AuthConfig {
  /** `iss` every accepted token must carry, and that dev tokens are minted with. */
  issuer: string;
  /** `aud` of user tokens. */
  audience: string;
  /** `aud` of worker (node) tokens: a separate kind, never accepted on user routes (RFC 8725 §3.12). */
  workerAudience: string;
  /** Allowed `alg` values; anything else (including `none`) is refused before any key is looked at. */
  algorithms: string[];
  /** Per-install HS256 secret for development, created by `npm run up` with mode 0600. */
  devSecretFile: string;
  /** Production key source: RS256/ES256 keys by `kid` from this JWKS URL (never from the token's jku/x5u). */
  jwksUrl: string | null;
  clockSkewSeconds: number;
  /** Shared secret a node presents once, at registration, to get its worker token. */
  workerBootstrapSecretFile: string;
  workerTokenTtlSeconds: number;
}

export interface MetricsConfig {
  /** Address the control's and the nodes' own /metrics servers bind (the API serves /metrics on its port). */
  host: string;
  /** The control process's /metrics port; 0: no metrics server. */
  controlPort: number;
  /** Label ledger gauges with the N tenants with most active jobs plus "other"; null: no tenant label at all. */
  tenantLabelTopN: number | null;
  /** The commit or tag this build came from, on mlis_build_info. */
  buildRevision: string;
}

/** `off`, or `top:N` with 1 <= N <= 100. */
function tenantLabel(env: Env, name: string): number | null {
  const value = str(env, name, 'off');
  if (value === 'off') return null;
  const match = /^top:(\d+)$/.exec(value);
  const n = match ? Number(match[1]) : NaN;
  if (!(n >= 1 && n <= 100)) throw new ConfigError(`${name} must be off or top:N with N from 1 to 100, got "${value}"`);
  return n;
}

export interface TracingConfig {
  /**
   * Base URL of an OTLP/HTTP receiver (a collector, Jaeger, Tempo); spans go to `<base>/v1/traces`.
   * null: tracing off, every span a no-op (docs/adr/0026-tracing.md).
   */
  otlpEndpoint: string | null;
}

/** MLIS_OTEL_EXPORTER_OTLP_ENDPOINT, else the standard OTEL_EXPORTER_OTLP_ENDPOINT; an http(s) URL or nothing. */
function otlpEndpoint(env: Env): string | null {
  const name = env.MLIS_OTEL_EXPORTER_OTLP_ENDPOINT ? 'MLIS_OTEL_EXPORTER_OTLP_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const value = str(env, name, '').trim();
  if (value === '') return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name} must be an http(s) URL, got "${value}"`);
  return value.replace(/\/+$/, '');
}

/** The largest object one S3 CopyObject may copy: the S3 backend commits an upload with one server-side copy. */
export const S3_MAX_COPY_BYTES = 5 * 1024 ** 3;

export interface ArtifactsConfig {
  backend: 'fs' | 's3';
  /** The fs backend's root (objects under sha256/, uploads in progress under staging/). */
  dir: string;
  /** Credentials come from the AWS SDK's usual sources (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, roles). */
  s3: { endpoint: string | null; bucket: string; region: string; forcePathStyle: boolean };
  /** The largest upload accepted, for every tenant; larger ones are refused with 413 and nothing is kept. */
  maxBytes: number;
  /** Expiry of an upload that names none; 0: artifacts never expire unless the upload says so. */
  defaultExpirySeconds: number;
  /** How often the control process deletes expired, unreferenced artifacts. */
  retentionIntervalSeconds: number;
}

function artifactsBackend(env: Env): ArtifactsConfig['backend'] {
  const value = str(env, 'MLIS_ARTIFACTS_BACKEND', 'fs');
  if (value !== 'fs' && value !== 's3') throw new ConfigError(`MLIS_ARTIFACTS_BACKEND must be fs or s3, got "${value}"`);
  return value;
}

export interface ConsoleConfig {
  /** The built console (console/dist), served at /console when it holds an index.html. */
  dir: string;
  /** The dev sign-in form's token route; only ever on while tokens are HS256 with the dev secret (no JWKS). */
  devSignIn: boolean;
  /** Temporal Web UI base URL, for the console's links to a job's workflow. */
  temporalUiUrl: string;
  /** The overview flags a job QUEUED longer than this. */
  waitingAttentionSeconds: number;
}

export interface AppConfig {
  /** The runtime role's connection (api, control): it may not alter, update or delete audit rows. */
  databaseUrl: string;
  /** The owner's connection, used only to run migrations and grant the runtime role its privileges. */
  migrationDatabaseUrl: string;
  temporal: TemporalConfig;
  scheduling: SchedulingConfig;
  /**
   * bodyIdleSeconds: a request body that sends no byte for this long, while the API reads it, gets 408. jobWorkflows:
   * the API runs a job workflow worker too and starts the workflows of the jobs it accepts eagerly (ADR 0052).
   */
  api: { host: string; port: number; bodyLimitBytes: number; bodyIdleSeconds: number; jobWorkflows: boolean };
  /** Base URL the CLI uses to reach the API; a node's list (NodeConfig.apiUrls) falls back to it. */
  apiUrl: string;
  /**
   * Params or a result whose JSON is larger than this travel as an artifact (`artifact://<id>`) instead of
   * inline, so no job row and no Temporal payload carries more.
   */
  inlinePayloadMaxBytes: number;
  /** Jobs finished longer ago than this many days are deleted with their attempts; 0 keeps every job. */
  jobRetentionDays: number;
  /** Audit rows older than this many days are deleted by `npm run audit:expire` (as the owner); 0 keeps them all. */
  auditRetentionDays: number;
  /**
   * Deny rows each API process writes in a minute for one kind of refusal (the same action, resource, reason, caller
   * and target); the rest of the minute's go into one summary row that counts them (ADR 0040). 0 writes every one.
   */
  auditDenialsPerMinute: number;
  workerGroups: string[];
  defaultTenantId: string;
  logLevel: string;
  metrics: MetricsConfig;
  tracing: TracingConfig;
  auth: AuthConfig;
  /** Bearer token the CLI and the worker send: MLIS_TOKEN, else the file `npm run up` writes. */
  token: string | null;
  console: ConsoleConfig;
  tokenFile: string;
  artifacts: ArtifactsConfig;
}

/** MLIS_API_URL, else the local API on MLIS_API_PORT. */
function apiUrl(env: Env): string {
  return str(env, 'MLIS_API_URL', `http://127.0.0.1:${int(env, 'MLIS_API_PORT', 8001, 1)}`);
}

/**
 * MLIS_NODE_API_URLS (comma-separated, in order of preference), else MLIS_API_URL alone: each an http(s) URL, its
 * trailing slashes dropped.
 */
function nodeApiUrls(env: Env): string[] {
  return list(env, 'MLIS_NODE_API_URLS', [apiUrl(env)]).map((value) => {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      // Named below.
    }
    if (url?.protocol !== 'http:' && url?.protocol !== 'https:') throw new ConfigError(`MLIS_NODE_API_URLS must list http(s) URLs, got "${value}"`);
    return value.replace(/\/+$/, '');
  });
}

export function loadConfig(env: Env = process.env): AppConfig {
  const port = int(env, 'MLIS_API_PORT', 8001, 1);
  const home = str(env, 'HOME', '/root');
  const configDir = str(env, 'MLIS_CONFIG_DIR', `${str(env, 'XDG_CONFIG_HOME', `${home}/.config`)}/mlis`);
  const jwksUrl = str(env, 'MLIS_AUTH_JWKS_URL', '');
  const host = str(env, 'MLIS_API_HOST', '127.0.0.1');
  const databaseUrl = str(env, 'DATABASE_URL', 'postgres://mlis_app@127.0.0.1:55432/mlis');
  const config: AppConfig = {
    databaseUrl,
    // Your own DATABASE_URL without a migration URL: one role does both (it then owns audit_events).
    migrationDatabaseUrl: str(env, 'MLIS_MIGRATION_DATABASE_URL', env.DATABASE_URL ? databaseUrl : 'postgres://mlis@127.0.0.1:55432/mlis'),
    temporal: {
      address: str(env, 'TEMPORAL_ADDRESS', '127.0.0.1:7233'),
      namespace: str(env, 'TEMPORAL_NAMESPACE', 'default'),
      workflowStackTraces: workflowStackTraces(env),
      coreThreads: int(env, 'MLIS_TEMPORAL_CORE_THREADS', 1, 1, 256),
    },
    scheduling: {
      // Above the node's 1 s heartbeat: a lease of 1 s would race every beat.
      leaseSeconds: int(env, 'MLIS_LEASE_SECONDS', 10, 2),
      scheduleToStartSeconds: int(env, 'MLIS_SCHEDULE_TO_START_SECONDS', 30, 1),
      defaultMaxAttempts: int(env, 'MLIS_DEFAULT_MAX_ATTEMPTS', 3, 1),
      defaultTimeoutSeconds: int(env, 'MLIS_DEFAULT_TIMEOUT_SECONDS', 3600, 1),
      capacityRetrySeconds: int(env, 'MLIS_CAPACITY_RETRY_SECONDS', 300, 1),
      nodeHeartbeatSeconds: int(env, 'MLIS_NODE_HEARTBEAT_SECONDS', 3, 1, TIMER_MAX_SECONDS),
      nodeDeadAfterSeconds: int(env, 'MLIS_NODE_DEAD_AFTER_SECONDS', 15, 2, TIMER_MAX_SECONDS),
      nodeRetentionSeconds: int(env, 'MLIS_NODE_RETENTION_SECONDS', 86_400, 60),
      agingSeconds: int(env, 'MLIS_SCHEDULER_AGING_SECONDS', 600, 0),
      laneWindow: int(env, 'MLIS_SCHEDULER_LANE_WINDOW', 32, 1),
      holdDepth: int(env, 'MLIS_SCHEDULER_HOLD_DEPTH', 16, 0),
      cycleIntervalSeconds: int(env, 'MLIS_SCHEDULER_CYCLE_INTERVAL_SECONDS', 10, 1, TIMER_MAX_SECONDS),
      priorityClasses: priorityClasses(env, 'MLIS_PRIORITY_CLASSES', 'low:-10,normal:0,high:10,urgent:100:preempting'),
    },
    api: {
      host,
      port,
      bodyLimitBytes: int(env, 'MLIS_API_BODY_LIMIT_BYTES', 1_048_576, 1024),
      bodyIdleSeconds: int(env, 'MLIS_API_BODY_IDLE_SECONDS', 60, 1, TIMER_MAX_SECONDS),
      jobWorkflows: bool(env, 'MLIS_API_JOB_WORKFLOWS', true),
    },
    apiUrl: apiUrl(env),
    // Above the 1 KiB kept for a payload's envelope (libs/contracts PAYLOAD_ENVELOPE_BYTES).
    inlinePayloadMaxBytes: int(env, 'MLIS_INLINE_PAYLOAD_MAX_BYTES', 65_536, 4096),
    jobRetentionDays: int(env, 'MLIS_JOB_RETENTION_DAYS', 0, 0, 36_500),
    auditRetentionDays: int(env, 'MLIS_AUDIT_RETENTION_DAYS', 0, 0, 36_500),
    auditDenialsPerMinute: int(env, 'MLIS_AUDIT_DENIALS_PER_MINUTE', 20, 0, 1_000_000),
    workerGroups: list(env, 'MLIS_WORKER_GROUPS', ['cpu', 'gpu']),
    defaultTenantId: str(env, 'MLIS_DEFAULT_TENANT', 'default'),
    logLevel: str(env, 'MLIS_LOG_LEVEL', 'info'),
    metrics: {
      host: str(env, 'MLIS_METRICS_HOST', '127.0.0.1'),
      controlPort: int(env, 'MLIS_CONTROL_METRICS_PORT', 9464, 0),
      tenantLabelTopN: tenantLabel(env, 'MLIS_METRICS_TENANT_LABEL'),
      buildRevision: str(env, 'MLIS_BUILD_REVISION', 'unknown'),
    },
    tracing: { otlpEndpoint: otlpEndpoint(env) },
    auth: {
      issuer: str(env, 'MLIS_AUTH_ISSUER', 'mlis-dev'),
      audience: str(env, 'MLIS_AUTH_AUDIENCE', 'mlis-api'),
      workerAudience: str(env, 'MLIS_AUTH_WORKER_AUDIENCE', 'mlis-worker'),
      algorithms: list(env, 'MLIS_AUTH_ALGORITHMS', jwksUrl ? ['RS256', 'ES256'] : ['HS256']),
      devSecretFile: str(env, 'MLIS_AUTH_DEV_SECRET_FILE', `${configDir}/dev-signing-key`),
      jwksUrl: jwksUrl || null,
      clockSkewSeconds: int(env, 'MLIS_AUTH_CLOCK_SKEW_SECONDS', 30, 0),
      workerBootstrapSecretFile: str(env, 'MLIS_WORKER_BOOTSTRAP_SECRET_FILE', `${configDir}/worker-bootstrap-secret`),
      workerTokenTtlSeconds: int(env, 'MLIS_WORKER_TOKEN_TTL_SECONDS', 3600, 60),
    },
    token: str(env, 'MLIS_TOKEN', '') || null,
    tokenFile: str(env, 'MLIS_TOKEN_FILE', `${configDir}/token`),
    artifacts: {
      backend: artifactsBackend(env),
      // The stack's state dir (scripts/stack.sh exports it), so a test stack's artifacts stay with the test stack.
      dir: resolve(str(env, 'MLIS_ARTIFACTS_DIR', join(str(env, 'MLIS_STATE_DIR', '.mlis/stack'), 'artifacts'))),
      s3: {
        endpoint: str(env, 'MLIS_S3_ENDPOINT', '') || null,
        bucket: str(env, 'MLIS_S3_BUCKET', 'mlis-artifacts'),
        region: str(env, 'MLIS_S3_REGION', 'us-east-1'),
        forcePathStyle: bool(env, 'MLIS_S3_FORCE_PATH_STYLE', true),
      },
      maxBytes: int(env, 'MLIS_ARTIFACTS_MAX_BYTES', 1024 ** 3, 1),
      defaultExpirySeconds: int(env, 'MLIS_ARTIFACTS_DEFAULT_EXPIRY_SECONDS', 7 * 24 * 3600, 0),
      retentionIntervalSeconds: int(env, 'MLIS_ARTIFACTS_RETENTION_INTERVAL_SECONDS', 300, 1, TIMER_MAX_SECONDS),
    },
    console: {
      dir: str(env, 'MLIS_CONSOLE_DIR', 'console/dist'),
      devSignIn: bool(env, 'MLIS_CONSOLE_DEV_SIGN_IN', true) && !jwksUrl,
      temporalUiUrl: str(env, 'MLIS_TEMPORAL_UI_URL', 'http://127.0.0.1:8233'),
      waitingAttentionSeconds: int(env, 'MLIS_CONSOLE_WAITING_ATTENTION_SECONDS', 300, 1),
    },
  };
  if (config.artifacts.backend === 's3' && config.artifacts.maxBytes > S3_MAX_COPY_BYTES) {
    throw new ConfigError(`MLIS_ARTIFACTS_MAX_BYTES may be at most ${S3_MAX_COPY_BYTES} with the s3 backend`);
  }
  if (config.auth.algorithms.some((alg) => !ALLOWED_ALGORITHMS.includes(alg))) {
    throw new ConfigError(`MLIS_AUTH_ALGORITHMS may only list ${ALLOWED_ALGORITHMS.join(', ')}`);
  }
  if (config.scheduling.nodeDeadAfterSeconds <= config.scheduling.nodeHeartbeatSeconds) {
    throw new ConfigError('MLIS_NODE_DEAD_AFTER_SECONDS must exceed MLIS_NODE_HEARTBEAT_SECONDS');
  }
  return config;
}

/** What one executor node advertises; read by apps/worker. */
export interface NodeConfig {
  nodeId: string;
  /**
   * The APIs the node registers, heartbeats and fetches artifacts through, in order of preference: it stays with the
   * one that answers and moves to the next when that one does not, or answers 502, 503 or 504 (ADR 0053).
   */
  apiUrls: string[];
  group: string;
  slots: number;
  cpuMillis: number;
  memMb: number;
  /** Simulated GPU indices unless a probe discovers real ones. */
  gpuCount: number;
  gpuModel: string;
  gpuMemoryMb: number;
  /** simulated: advertise gpuCount GPUs of gpuModel/gpuMemoryMb; nvidia-smi: discover the real ones. */
  gpuProbe: 'simulated' | 'nvidia-smi';
  /** Free-form key=value labels that jobs select with node_selector. */
  labels: Record<string, string>;
  /**
   * For tests that count effects (the chaos suite): a file the node appends one JSON line to each time a runner
   * completes an attempt, before the result is reported. null (the default): no record.
   */
  executionLogFile: string | null;
  /** This node's /metrics port (its own and the Temporal SDK's worker metrics); 0: no metrics server. */
  metricsPort: number;
  /** Where the node keeps the artifacts its jobs read, by sha256; reused across jobs and restarts. */
  artifactCacheDir: string;
  /**
   * How long an attempt runs before the node reports its start (ADR 0030); one that succeeds sooner is recorded as
   * started by the write that ends it. 0: report every start at once.
   */
  startReportDelayMs: number;
}

function gpuProbe(env: Env): NodeConfig['gpuProbe'] {
  const value = str(env, 'MLIS_NODE_GPU_PROBE', 'simulated');
  if (value !== 'simulated' && value !== 'nvidia-smi') throw new ConfigError(`MLIS_NODE_GPU_PROBE must be simulated or nvidia-smi, got "${value}"`);
  return value;
}

export function loadNodeConfig(env: Env = process.env): NodeConfig {
  const group = str(env, 'MLIS_NODE_GROUP', 'cpu');
  const nodeId = str(env, 'MLIS_NODE_ID', '');
  if (!NAME_PATTERN.test(nodeId)) {
    throw new ConfigError('MLIS_NODE_ID is required: lowercase letters, digits and dashes, e.g. "cpu-1"');
  }
  return {
    nodeId,
    apiUrls: nodeApiUrls(env),
    group,
    slots: int(env, 'MLIS_NODE_SLOTS', 4, 1),
    cpuMillis: int(env, 'MLIS_NODE_CPU', 4, 1) * 1000,
    memMb: int(env, 'MLIS_NODE_MEM_MB', 8192, 1),
    gpuCount: int(env, 'MLIS_NODE_GPUS', 0, 0),
    gpuModel: str(env, 'MLIS_NODE_GPU_MODEL', 'simulated'),
    gpuMemoryMb: int(env, 'MLIS_NODE_GPU_MEMORY_MB', 16384, 0),
    gpuProbe: gpuProbe(env),
    labels: labels(env, 'MLIS_NODE_LABELS'),
    executionLogFile: str(env, 'MLIS_NODE_EXECUTION_LOG', '') || null,
    metricsPort: int(env, 'MLIS_NODE_METRICS_PORT', 9465, 0),
    // Under the stack's state dir (scripts/stack.sh exports it), like the API's fs artifact store.
    // At most 1 s: control withdraws a placement its gone node has not reported started 2 s after it went (ADR 0038).
    startReportDelayMs: int(env, 'MLIS_NODE_START_REPORT_DELAY_MS', 250, 0, 1000),
    artifactCacheDir: resolve(str(env, 'MLIS_NODE_ARTIFACT_CACHE_DIR', join(str(env, 'MLIS_STATE_DIR', '.mlis/stack'), 'nodes', nodeId, 'artifacts'))),
  };
}

export type OnnxExecutionProvider = 'cpu' | 'cuda';

/** How one node runs models (the `inference` and `onnx` task types); read by apps/worker. */
export interface ModelConfig {
  /** Holds model.onnx and tokenizer.json of all-MiniLM-L6-v2 (int8); scripts/install-model.sh installs it and prints it. */
  modelDir: string;
  /** Execution providers in order of preference; a provider whose library is missing falls back to cpu. */
  onnxProviders: OnnxExecutionProvider[];
  /** onnxruntime's intra-op threads per session: explicit, so a session does not take every core of a shared node. */
  intraOpThreads: number;
  /** Budget of the warm pool: loaded sessions are evicted least recently used first above it. */
  cacheBytes: number;
  /** Most texts one model run takes; requests arriving together are cut into runs of this size. */
  batchMaxSize: number;
  /** How long the first request of a batch waits for others; 0 turns batching across requests off. */
  batchMaxWaitMs: number;
}

function onnxProviders(env: Env, name: string): OnnxExecutionProvider[] {
  const providers = list(env, name, ['cpu']);
  for (const provider of providers) {
    if (provider !== 'cpu' && provider !== 'cuda') throw new ConfigError(`${name} may only list cpu and cuda, got "${provider}"`);
  }
  if (new Set(providers).size !== providers.length) throw new ConfigError(`${name} names a provider twice`);
  return providers as OnnxExecutionProvider[];
}

export function loadModelConfig(env: Env = process.env): ModelConfig {
  const cacheDir = str(env, 'MLIS_CACHE_DIR', `${str(env, 'HOME', '/root')}/.cache/mlis`);
  return {
    modelDir: str(env, 'MLIS_MODEL_DIR', `${cacheDir}/models/all-minilm-l6-v2-q-1.19.0-beta29`),
    onnxProviders: onnxProviders(env, 'MLIS_NODE_ONNX_PROVIDERS'),
    intraOpThreads: int(env, 'MLIS_NODE_ONNX_THREADS', 1, 1),
    cacheBytes: int(env, 'MLIS_MODEL_CACHE_BYTES', 268_435_456, 1),
    batchMaxSize: int(env, 'MLIS_BATCH_MAX_SIZE', 8, 1),
    batchMaxWaitMs: int(env, 'MLIS_BATCH_MAX_WAIT_MS', 5, 0),
  };
}
