import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { mintUserToken, SCOPES } from '@mlis/auth';
import { loadConfig } from '@mlis/config';
import { readStackEnv, stack, stackPid } from './stack-env';

export const env = readStackEnv();

/** The stack's auth settings (issuer, audiences, key files), as its processes load them. */
export const authConfig = loadConfig(env.processEnv).auth;

export interface TokenRequest {
  tenant?: string;
  sub?: string;
  scopes?: readonly string[];
  crossTenant?: boolean;
  ttlSeconds?: number;
}

let devSecret: string | undefined;

/** The stack's HS256 dev signing key (written by global setup). */
export function stackDevSecret(): string {
  return (devSecret ??= readFileSync(authConfig.devSecretFile, 'utf8').trim());
}

/** The bootstrap secret the stack's nodes register with. */
export function stackBootstrapSecret(): string {
  return readFileSync(authConfig.workerBootstrapSecretFile, 'utf8').trim();
}

/** A user token signed with the stack's dev key; by default tenant "default", subject "it-user", every scope. */
export function tokenFor({ tenant = 'default', sub = 'it-user', scopes = SCOPES, crossTenant = false, ttlSeconds = 3600 }: TokenRequest = {}): string {
  return mintUserToken(stackDevSecret(), authConfig, { sub, tenant, scope: scopes.join(' '), ...(crossTenant ? { mlis_cross_tenant: true } : {}) }, ttlSeconds);
}

let defaultToken: string | undefined;

export interface ApiOptions {
  /** false: send no Authorization header at all (the default is a token from tokenFor()). */
  auth?: boolean;
  /** Another API process than the stack's own (a replica). */
  baseUrl?: string;
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * One real HTTP call to the API under test. `body` may be a string to send raw bytes. Sends
 * `Authorization: Bearer tokenFor()` unless `headers` has its own authorization or `options.auth` is false.
 */
export async function api<T = any>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  options: ApiOptions = {},
): Promise<ApiResponse<T>> {
  const own = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
  const auth: Record<string, string> = own || options.auth === false ? {} : { authorization: `Bearer ${(defaultToken ??= tokenFor())}` };
  const response = await fetch(`${options.baseUrl ?? env.apiUrl}${path}`, {
    method,
    headers: body === undefined ? { ...auth, ...headers } : { 'content-type': 'application/json', ...auth, ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // Non-JSON bodies (HTML docs) stay text.
  }
  return { status: response.status, body: parsed as T, headers: response.headers };
}

/** Polls until `probe` returns a value, or fails with the description (a function is read then) and the last error `probe` threw. */
export async function poll<T>(
  description: string | (() => string),
  probe: () => Promise<T | undefined>,
  { timeoutMs = 60_000, intervalMs = 250 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const what = typeof description === 'function' ? description() : description;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last error: ${String(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Waits until the job satisfies `done` and returns it. */
export async function waitForJob(id: string, done: (job: any) => boolean, timeoutMs = 60_000): Promise<any> {
  let last: any;
  return poll(
    // Read when the wait fails: the state the job was last seen in.
    () => `job ${id} (last state ${String(last?.state)})`,
    async () => {
      const { status, body } = await api('GET', `/v1/jobs/${id}`);
      if (status !== 200) throw new Error(`GET job ${id}: ${status}`);
      last = body;
      return done(body) ? body : undefined;
    },
    { timeoutMs },
  );
}

export const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

export async function submit(job: Record<string, unknown>, headers: Record<string, string> = {}): Promise<any> {
  const { status, body } = await api('POST', '/v1/jobs', job, headers);
  if (status !== 202) throw new Error(`submit answered ${status}: ${JSON.stringify(body)}`);
  return body;
}

/** A connection as the runtime role the API uses (default), or as the owner that ran the migrations. */
export async function withDb<T>(fn: (db: Client) => Promise<T>, role: 'runtime' | 'owner' = 'runtime'): Promise<T> {
  const db = new Client({ connectionString: role === 'owner' ? env.ownerDatabaseUrl : env.databaseUrl });
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

/** The ids of the nodes the test stack runs (MLIS_STACK_NODES: `id:group:slots:cores:mem:gpus`, space separated). */
export const STACK_NODE_IDS = env.processEnv.MLIS_STACK_NODES.split(/\s+/)
  .filter(Boolean)
  .map((spec) => spec.split(':')[0]);

/**
 * Until every node of the stack is registered and has heartbeated since this call (or more than `afterSeconds` after
 * it), by the database's clock. An outage of the API or of Postgres longer than the stack's
 * MLIS_NODE_DEAD_AFTER_SECONDS has control mark the silent nodes DEAD, and each registers again only on its next
 * heartbeat: a spec that causes one waits here before it ends, so the next spec finds every node placeable. A node seen
 * since the outage ended is not about to be declared DEAD either.
 */
export async function stackNodesLive(afterSeconds = 0, timeoutMs?: number): Promise<void> {
  const since = await withDb(async (db) => (await db.query('SELECT now() + make_interval(secs => $1) AS since', [afterSeconds])).rows[0].since as Date);
  await poll(
    `nodes ${STACK_NODE_IDS.join(', ')} registered and heartbeating`,
    () =>
      withDb(async (db) => {
        const { rows } = await db.query(`SELECT count(*)::int AS live FROM nodes WHERE id = ANY($1::text[]) AND status <> 'DEAD' AND last_seen_at > $2`, [
          STACK_NODE_IDS,
          since,
        ]);
        return rows[0].live === STACK_NODE_IDS.length ? true : undefined;
      }),
    { timeoutMs },
  );
}

/** Starts a node of the test stack again (after a kill) and waits until it is ACTIVE. */
export async function restartNode(nodeId: string): Promise<void> {
  stack(env, 'start-node', nodeId);
  await poll(`node ${nodeId} ACTIVE`, async () => {
    const { body } = await api('GET', '/v1/workers');
    const node = body.items.find((n: any) => n.node_id === nodeId);
    return node?.status === 'ACTIVE' ? node : undefined;
  });
}

export function killNode(nodeId: string, signal: NodeJS.Signals = 'SIGKILL'): number {
  const pid = stackPid(env, `node-${nodeId}`);
  process.kill(pid, signal);
  return pid;
}
