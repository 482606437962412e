import { Client } from 'pg';
import { readStackEnv, stack } from './stack-env';

export const env = readStackEnv();

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** One real HTTP call to the API under test. `body` may be a string to send raw bytes. */
export async function api<T = any>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse<T>> {
  const response = await fetch(`${env.apiUrl}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
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

/** Polls until `probe` returns a value, or fails with the description and the last value seen. */
export async function poll<T>(
  description: string,
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
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}; last: ${String(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Waits until the job satisfies `done` and returns it. */
export async function waitForJob(id: string, done: (job: any) => boolean, timeoutMs = 60_000): Promise<any> {
  let last: any;
  return poll(
    `job ${id} (last state ${String(last?.state)})`,
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

export async function withDb<T>(fn: (db: Client) => Promise<T>): Promise<T> {
  const db = new Client({ connectionString: env.databaseUrl });
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
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
  const pid = Number(stack(env, 'pid', `node-${nodeId}`));
  process.kill(pid, signal);
  return pid;
}
