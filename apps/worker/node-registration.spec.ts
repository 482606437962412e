import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NodeConfig } from '@mlis/config';
import { StartReportRefusedError } from '../../activities/execution.activities';
import { ApiEndpoints } from './api-endpoints';
import { simulatedGpus } from './gpu-probe';
import { NodeRegistration, RegistrationError, registerNodeRequest, type RegisterNodeResponse } from './node-registration';

interface Call {
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}
/** An answer (now or later), or 'drop' (the connection is closed) or 'hang' (never answered). */
type Answer = { status: number; body?: unknown } | 'drop' | 'hang';
type Handler = (call: Call, index: number) => Answer | Promise<Answer>;

const NODE: NodeConfig = {
  nodeId: 'gpu-1',
  apiUrls: ['http://127.0.0.1:8001'],
  group: 'gpu',
  slots: 2,
  cpuMillis: 4000,
  memMb: 8192,
  gpuCount: 2,
  gpuModel: 'simulated',
  gpuMemoryMb: 16384,
  gpuProbe: 'simulated',
  labels: { zone: 'eu-1', 'example.com/rack': 'r7' },
  executionLogFile: null,
  metricsPort: 9465,
  artifactCacheDir: '/nonexistent/artifacts',
  startReportDelayMs: 250,
};

const BOOTSTRAP_SECRET = 'bootstrap-secret-for-the-spec';

function registered(incarnation: number, taskQueue = 'mlis-node.gpu.gpu-1'): RegisterNodeResponse {
  // Fractional seconds keep the heartbeat loop fast in tests.
  return { node_id: 'gpu-1', group: 'gpu', incarnation, task_queue: taskQueue, heartbeat_seconds: 0.02, worker_token: `worker-token-${incarnation}` };
}

/** A tiny fake API on 127.0.0.1: records every call and answers through `handler`. */
class FakeApi {
  readonly calls: Call[] = [];
  private server: Server | undefined;

  constructor(private readonly handler: Handler) {}

  async start(): Promise<string> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', async () => {
        const call = { path: req.url ?? '', authorization: req.headers.authorization, body: JSON.parse(raw || '{}') as Record<string, unknown> };
        this.calls.push(call);
        const answer = await this.handler(call, this.calls.length - 1);
        if (answer === 'drop') {
          req.socket.destroy();
          return;
        }
        if (answer === 'hang') return;
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body ?? {}));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  count(path: string): number {
    return this.calls.filter((c) => c.path === path).length;
  }
}

async function until(what: string, probe: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const REGISTER = '/v1/internal/nodes/register';
const HEARTBEAT = '/v1/internal/nodes/gpu-1/heartbeat';
const TOKEN = '/v1/internal/nodes/gpu-1/token';

describe(NodeRegistration.name, () => {
  let api: FakeApi | undefined;
  let registration: NodeRegistration | undefined;
  const lines: string[] = [];
  const fatal = jest.fn();

  /** `registerDeadlineMs` null: the default, no deadline. */
  async function setup(handler: Handler, registerDeadlineMs: number | null = 5000, requestTimeoutMs?: number): Promise<NodeRegistration> {
    api = new FakeApi(handler);
    const apiUrl = await api.start();
    registration = new NodeRegistration({
      api: new ApiEndpoints([apiUrl]),
      bootstrapSecret: BOOTSTRAP_SECRET,
      request: registerNodeRequest(NODE, simulatedGpus(NODE), 'host-a', 4242),
      log: (line) => lines.push(line),
      onFatal: fatal,
      registerDeadlineMs: registerDeadlineMs ?? undefined,
      initialBackoffMs: 10,
      maxBackoffMs: 20,
      requestTimeoutMs,
    });
    return registration;
  }

  afterEach(async () => {
    registration?.stop();
    await api?.stop();
    lines.length = 0;
    fatal.mockReset();
  });

  it('advertises the node, its GPUs and labels, and retries until the API answers', async () => {
    const node = await setup((_call, index) =>
      index < 2 ? { status: 503, body: { error: { code: 'dependency_unavailable', message: 'starting' } } } : { status: 200, body: registered(7) },
    );
    await expect(node.register()).resolves.toEqual(registered(7));
    expect(api?.calls).toHaveLength(3);
    expect(api?.calls[0]).toEqual({
      path: REGISTER,
      authorization: `Bearer ${BOOTSTRAP_SECRET}`,
      body: {
        node_id: 'gpu-1',
        group: 'gpu',
        hostname: 'host-a',
        pid: 4242,
        slots: 2,
        cpu_millis: 4000,
        mem_mb: 8192,
        gpus: [
          { index: 0, model: 'simulated', memory_mb: 16384 },
          { index: 1, model: 'simulated', memory_mb: 16384 },
        ],
        labels: { zone: 'eu-1', 'example.com/rack': 'r7' },
      },
    });
    expect(lines[0]).toMatch(/dependency_unavailable.*retrying/);
    expect(lines.join('\n')).not.toContain(BOOTSTRAP_SECRET);
  });

  it('gives up at the deadline when the API never answers', async () => {
    const node = await setup(() => 'drop', 200);
    await expect(node.register()).rejects.toBeInstanceOf(RegistrationError);
    expect(api?.calls.length).toBeGreaterThan(1);
  });

  it('gives up on a request the API never answers after requestTimeoutMs, and tries again', async () => {
    const node = await setup((_call, index) => (index === 0 ? 'hang' : { status: 200, body: registered(5) }), 5000, 100);
    await expect(node.register()).resolves.toEqual(registered(5));
    expect(api?.calls).toHaveLength(2);
    expect(lines[0]).toMatch(/^register: .*retrying in \d+ ms$/);
  });

  it('without a deadline, waits for the API however long it is down (drops and 503s alike)', async () => {
    let down = true;
    const unavailable = { status: 503, body: { error: { code: 'dependency_unavailable', message: 'starting' } } };
    const node = await setup((_call, index) => (down ? (index % 2 === 0 ? 'drop' : unavailable) : { status: 200, body: registered(3) }), null);
    const registering = node.register();
    await until('forty refused attempts', () => (api?.calls.length ?? 0) >= 40);
    down = false;
    await expect(registering).resolves.toEqual(registered(3));
  });

  it('without a deadline, stops waiting for the API when stopped', async () => {
    const node = await setup(() => ({ status: 503, body: { error: { code: 'dependency_unavailable', message: 'starting' } } }), null);
    const registering = node.register();
    await until('three refused attempts', () => (api?.calls.length ?? 0) >= 3);
    node.stop();
    await expect(registering).rejects.toThrow('registration stopped');
  });

  it('fails at once when the API refuses the bootstrap secret, without logging it', async () => {
    const node = await setup(() => ({ status: 401, body: { error: { code: 'invalid_bootstrap_credential', message: 'no' } } }));
    await expect(node.register()).rejects.toThrow(/invalid_bootstrap_credential/);
    expect(api?.calls).toHaveLength(1);
    expect(lines.join('\n')).not.toContain(BOOTSTRAP_SECRET);
  });

  it('fails at once when the API refuses the node', async () => {
    const node = await setup(() => ({ status: 404, body: { error: { code: 'unknown_worker_group', message: 'no group gpu' } } }));
    await expect(node.register()).rejects.toThrow(/unknown_worker_group/);
    expect(api?.calls).toHaveLength(1);
  });

  it('heartbeats with its incarnation, through network errors', async () => {
    const node = await setup((call, index) => {
      if (call.path === REGISTER) return { status: 200, body: registered(3) };
      return index % 2 === 0 ? 'drop' : { status: 200, body: { status: 'ACTIVE' } };
    });
    await node.register();
    node.start();
    await until('several heartbeats', () => (api?.count(HEARTBEAT) ?? 0) >= 4);
    const beats = api?.calls.filter((c) => c.path === HEARTBEAT) ?? [];
    expect(beats.every((c) => c.body.incarnation === 3)).toBe(true);
    // Heartbeats carry the worker token, never the bootstrap secret.
    expect(beats.every((c) => c.authorization === 'Bearer worker-token-3')).toBe(true);
    expect(fatal).not.toHaveBeenCalled();
  });

  it('leaves with its incarnation and worker token, stopping its heartbeats', async () => {
    const leave = '/v1/internal/nodes/gpu-1/leave';
    const node = await setup((call) => (call.path === REGISTER ? { status: 200, body: registered(5) } : call.path === leave ? { status: 204 } : { status: 200, body: { status: 'ok' } }));
    await node.register();
    node.start();
    await until('a heartbeat', () => (api?.count(HEARTBEAT) ?? 0) >= 1);
    await node.leave();
    expect(node.stopped).toBe(true);
    expect(api?.calls.at(-1)).toEqual({ path: leave, authorization: 'Bearer worker-token-5', body: { incarnation: 5 } });
    expect(lines.filter((line) => line.startsWith('leave'))).toEqual([]);
  });

  it('leaves within requestTimeoutMs when the API does not answer, and says the reaper will end the node', async () => {
    const node = await setup((call) => (call.path === REGISTER ? { status: 200, body: registered(5) } : 'hang'), 5000, 100);
    await node.register();
    await node.leave();
    expect(lines).toEqual([expect.stringMatching(/^leave: .*; the API marks the node DEAD once it stays silent$/)]);
  });

  it("reports an assignment started with its incarnation, its run time and worker token, and rejects with the API's refusal", async () => {
    const started = '/v1/internal/nodes/gpu-1/assignments/a-1/started';
    const node = await setup((call) => {
      if (call.path === REGISTER) return { status: 200, body: registered(4) };
      if (call.path === started && call.body.incarnation === 4) return { status: 200, body: { assignment_id: 'a-1', state: 'RUNNING' } };
      if (call.path.includes('/a-3/')) return { status: 503, body: { error: { code: 'database_unavailable', message: 'try again' } } };
      return { status: 409, body: { error: { code: 'assignment_not_placed', message: 'not PLACED here' } } };
    });
    await expect(node.reportStarted('a-1', 0)).rejects.toThrow(RegistrationError);
    await node.register();
    await node.reportStarted('a-1', 260);
    expect(api?.calls.at(-1)).toEqual({ path: started, authorization: 'Bearer worker-token-4', body: { incarnation: 4, running_for_ms: 260 } });
    // A refusal no retry can change, and an answer a retry may: the activity sends only the second again.
    const refused = node.reportStarted('a-2', 0);
    await expect(refused).rejects.toThrow('HTTP 409 assignment_not_placed: not PLACED here');
    await expect(refused).rejects.toBeInstanceOf(StartReportRefusedError);
    const unavailable = node.reportStarted('a-3', 0);
    await expect(unavailable).rejects.toThrow('HTTP 503 database_unavailable: try again');
    await expect(unavailable).rejects.not.toBeInstanceOf(StartReportRefusedError);
  });

  it('renews a refused worker token for the same incarnation, with the bootstrap secret, never registering again', async () => {
    const node = await setup((call) => {
      if (call.path === REGISTER) return { status: 200, body: registered(1) };
      if (call.path === TOKEN) return { status: 200, body: { node_id: 'gpu-1', incarnation: call.body.incarnation, worker_token: 'worker-token-1b' } };
      return call.authorization === 'Bearer worker-token-1'
        ? { status: 401, body: { error: { code: 'unauthorized', message: 'token expired' } } }
        : { status: 200, body: { status: 'ok' } };
    });
    await node.register();
    node.start();
    await until('a heartbeat with the new token', () => api?.calls.some((c) => c.path === HEARTBEAT && c.authorization === 'Bearer worker-token-1b') ?? false);
    expect(api?.count(REGISTER)).toBe(1);
    expect(api?.calls.filter((c) => c.path === TOKEN)).toEqual([{ path: TOKEN, authorization: `Bearer ${BOOTSTRAP_SECRET}`, body: { incarnation: 1 } }]);
    expect(node.registration).toMatchObject({ incarnation: 1, worker_token: 'worker-token-1b' });
    expect(lines.join('\n')).toMatch(/worker token refused/);
    expect(lines.join('\n')).not.toMatch(/worker-token-|bootstrap-secret-for/);
    expect(fatal).not.toHaveBeenCalled();
  });

  it('renews a worker token half-way through its life, before any heartbeat is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = (iat: number, exp: number) => `h.${Buffer.from(JSON.stringify({ iat, exp })).toString('base64url')}.s`;
    const old = jwt(now - 60, now + 30);
    const fresh = jwt(now, now + 3600);
    const node = await setup((call) => {
      if (call.path === REGISTER) return { status: 200, body: { ...registered(4), worker_token: old } };
      if (call.path === TOKEN) return { status: 200, body: { node_id: 'gpu-1', incarnation: 4, worker_token: fresh } };
      return { status: 200, body: { status: 'ok' } };
    });
    await node.register();
    node.start();
    await until('heartbeats with the renewed token', () => (api?.calls.filter((c) => c.path === HEARTBEAT && c.authorization === `Bearer ${fresh}`).length ?? 0) >= 3);
    expect(api?.count(TOKEN)).toBe(1);
    expect(api?.calls.some((c) => c.path === HEARTBEAT && c.authorization === `Bearer ${old}`)).toBe(false);
    expect(api?.count(REGISTER)).toBe(1);
  });

  it('keeps beating with a token half-way through its life when its renewal is refused or fails', async () => {
    const now = Math.floor(Date.now() / 1000);
    const old = `h.${Buffer.from(JSON.stringify({ iat: now - 60, exp: now + 30 })).toString('base64url')}.s`;
    const node = await setup((call, index) => {
      if (call.path === REGISTER) return { status: 200, body: { ...registered(4), worker_token: old } };
      // The secret file is briefly unreadable, then the secret was rotated: neither is a reason to stop beating.
      if (call.path === TOKEN) return index % 2 === 0 ? { status: 503, body: {} } : { status: 401, body: { error: { code: 'unauthorized', message: 'bad secret' } } };
      return { status: 200, body: { status: 'ok' } };
    });
    await node.register();
    node.start();
    await until('heartbeats after refused renewals', () => (api?.count(TOKEN) ?? 0) >= 2 && (api?.count(HEARTBEAT) ?? 0) >= 3);
    expect(api?.calls.filter((c) => c.path === HEARTBEAT).every((c) => c.authorization === `Bearer ${old}`)).toBe(true);
    expect(fatal).not.toHaveBeenCalled();
  });

  it('stops for a restart when its token is refused and so is the renewal (the bootstrap secret changed)', async () => {
    const node = await setup((call) => {
      if (call.path === REGISTER) return { status: 200, body: registered(1) };
      return { status: 401, body: { error: { code: 'unauthorized', message: 'refused' } } };
    });
    await node.register();
    node.start();
    await until('the fatal report', () => fatal.mock.calls.length > 0);
    expect(fatal).toHaveBeenCalledWith(expect.stringMatching(/refused to renew/));
    expect(node.stopped).toBe(true);
  });

  it('stops for a restart when registering again is refused, as a first registration would be', async () => {
    const node = await setup((call) => {
      if (call.path === REGISTER) return api?.count(REGISTER) === 1 ? { status: 200, body: registered(1) } : { status: 401, body: { error: { code: 'unauthorized', message: 'bad secret' } } };
      return { status: 404, body: { error: { code: 'node_not_found', message: 'declared dead' } } };
    });
    await node.register();
    node.start();
    await until('the fatal report', () => fatal.mock.calls.length > 0);
    expect(fatal).toHaveBeenCalledWith(expect.stringMatching(/re-register: HTTP 401/));
    expect(node.stopped).toBe(true);
  });

  it('registers again when a token renewal finds the node unknown (declared dead)', async () => {
    const node = await setup((call) => {
      if (call.path === REGISTER) return { status: 200, body: registered(api?.count(REGISTER) ?? 0) };
      if (call.path === TOKEN) return { status: 404, body: { error: { code: 'node_not_found', message: 'gone' } } };
      return call.body.incarnation === 1 ? { status: 401, body: { error: { code: 'unauthorized', message: 'expired' } } } : { status: 200, body: { status: 'ok' } };
    });
    await node.register();
    node.start();
    await until('a heartbeat of incarnation 2', () => api?.calls.some((c) => c.path === HEARTBEAT && c.body.incarnation === 2) ?? false);
    expect(api?.count(TOKEN)).toBeGreaterThanOrEqual(1);
    expect(fatal).not.toHaveBeenCalled();
  });

  it('stops when a token renewal says another process superseded the node', async () => {
    const node = await setup((call) => {
      if (call.path === REGISTER) return { status: 200, body: registered(1) };
      if (call.path === TOKEN) return { status: 409, body: { error: { code: 'node_superseded', message: 'newer' } } };
      return { status: 401, body: { error: { code: 'unauthorized', message: 'expired' } } };
    });
    await node.register();
    node.start();
    await until('the fatal report', () => fatal.mock.calls.length > 0);
    expect(fatal).toHaveBeenCalledWith(expect.stringMatching(/incarnation 1 superseded/));
    expect(node.stopped).toBe(true);
  });

  it('registers again when the API forgets the node, then beats with the new incarnation', async () => {
    const node = await setup((call) => {
      if (call.path === REGISTER) return { status: 200, body: registered(api?.count(REGISTER) ?? 0) };
      return call.body.incarnation === 1 ? { status: 404, body: { error: { code: 'node_not_found', message: 'gone' } } } : { status: 200, body: { status: 'ACTIVE' } };
    });
    await node.register();
    node.start();
    await until('a heartbeat of incarnation 2', () => api?.calls.some((c) => c.path === HEARTBEAT && c.body.incarnation === 2) ?? false);
    expect(node.registration?.incarnation).toBe(2);
    expect(fatal).not.toHaveBeenCalled();
  });

  it('settles once the heartbeat in flight has registered again, with the new incarnation and token in place', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const node = await setup(async (call) => {
      if (call.path !== REGISTER) {
        return call.body.incarnation === 1 ? { status: 404, body: { error: { code: 'node_not_found', message: 'gone' } } } : { status: 200, body: { status: 'ACTIVE' } };
      }
      // The registration again is held until the spec has asked for settled().
      if ((api?.count(REGISTER) ?? 0) > 1) await gate;
      return { status: 200, body: registered(api?.count(REGISTER) ?? 0) };
    });
    await node.register();
    await expect(node.settled()).resolves.toBeUndefined();
    node.start();
    await until('registering again', () => (api?.count(REGISTER) ?? 0) === 2);
    let settled = false;
    const settling = node.settled().then(() => (settled = true));
    for (let tick = 0; tick < 10; tick += 1) await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    release();
    await settling;
    expect(node.registration).toMatchObject({ incarnation: 2, worker_token: 'worker-token-2' });
  });

  it('stops and reports when another process superseded the node', async () => {
    const node = await setup((call) =>
      call.path === REGISTER ? { status: 200, body: registered(1) } : { status: 409, body: { error: { code: 'conflict', message: 'incarnation 2 is live' } } },
    );
    await node.register();
    node.start();
    await until('the fatal callback', () => fatal.mock.calls.length > 0);
    expect(fatal.mock.calls[0][0]).toMatch(/superseded/);
    expect(node.stopped).toBe(true);
    expect(api?.count(HEARTBEAT)).toBe(1);
  });

  it('asks for a restart when re-registration moves the node to another queue', async () => {
    const node = await setup((call) => {
      if (call.path === REGISTER) return { status: 200, body: registered(api?.count(REGISTER) ?? 0, api?.count(REGISTER) === 1 ? 'q-old' : 'q-new') };
      return { status: 404, body: { error: { code: 'node_not_found', message: 'gone' } } };
    });
    await node.register();
    node.start();
    await until('the fatal callback', () => fatal.mock.calls.length > 0);
    expect(fatal.mock.calls[0][0]).toMatch(/q-old to q-new/);
  });
});

describe(`${NodeRegistration.name} with several APIs`, () => {
  const apis: FakeApi[] = [];
  let registration: NodeRegistration | undefined;
  const lines: string[] = [];
  const fatal = jest.fn();

  async function started(handler: Handler): Promise<{ api: FakeApi; url: string }> {
    const api = new FakeApi(handler);
    apis.push(api);
    return { api, url: await api.start() };
  }

  /** A URL nothing listens on: the port of a server that has closed. */
  async function unreachable(): Promise<string> {
    const { api, url } = await started(() => ({ status: 200 }));
    await api.stop();
    apis.splice(apis.indexOf(api), 1);
    return url;
  }

  function setup(urls: string[], registerDeadlineMs = 5000): NodeRegistration {
    registration = new NodeRegistration({
      api: new ApiEndpoints(urls),
      bootstrapSecret: BOOTSTRAP_SECRET,
      request: registerNodeRequest(NODE, simulatedGpus(NODE), 'host-a', 4242),
      log: (line) => lines.push(line),
      onFatal: fatal,
      registerDeadlineMs,
      initialBackoffMs: 10,
      maxBackoffMs: 20,
    });
    return registration;
  }

  const serving: Handler = (call) => (call.path === REGISTER ? { status: 200, body: registered(3) } : { status: 200, body: {} });

  afterEach(async () => {
    registration?.stop();
    await Promise.all(apis.splice(0).map((api) => api.stop()));
    lines.length = 0;
    fatal.mockReset();
  });

  it('registers and heartbeats through the next API while the first refuses connections, and says so once', async () => {
    const down = await unreachable();
    const second = await started(serving);
    const node = setup([down, second.url]);

    await expect(node.register()).resolves.toMatchObject({ incarnation: 3 });
    node.start();
    await until('three heartbeats', () => second.api.count(HEARTBEAT) >= 3);

    expect(second.api.count(REGISTER)).toBe(1);
    expect(lines.filter((line) => line.startsWith('API '))).toEqual([
      expect.stringMatching(new RegExp(`^API ${second.url} answered where ${down} did not \\(.*ECONNREFUSED.*\\): calls go there now$`)),
    ]);
    expect(lines.filter((line) => line.startsWith('heartbeat failing'))).toEqual([]);
  });

  it('leaves an API that answers 503 (draining) for the next at once, and stays with the one that answers', async () => {
    let draining = false;
    const first = await started((call) => (draining ? { status: 503, body: { error: { code: 'shutting_down', message: 'draining' } } } : serving(call, 0)));
    const second = await started(serving);
    const node = setup([first.url, second.url]);
    await node.register();
    node.start();
    await until('a heartbeat to the first API', () => first.api.count(HEARTBEAT) >= 1);
    expect(second.api.calls).toEqual([]);

    draining = true;
    await until('three heartbeats to the second API', () => second.api.count(HEARTBEAT) >= 3);
    const refusedByFirst = first.api.count(HEARTBEAT);
    // Back in service, the first API gets nothing more: calls stay where they were answered.
    draining = false;
    const beats = second.api.count(HEARTBEAT);
    await until('three more heartbeats', () => second.api.count(HEARTBEAT) >= beats + 3);
    expect(first.api.count(HEARTBEAT)).toBe(refusedByFirst);
    expect(lines.filter((line) => line.startsWith('heartbeat failing'))).toEqual([]);
  });

  it('takes any other answer as the answer: a refusal from the preferred API is not asked of the next', async () => {
    const first = await started(() => ({ status: 403, body: { error: { code: 'forbidden', message: 'bad bootstrap secret' } } }));
    const second = await started(serving);
    const node = setup([first.url, second.url]);

    await expect(node.register()).rejects.toThrow('registration refused: HTTP 403 forbidden: bad bootstrap secret');
    expect(second.api.calls).toEqual([]);
  });

  it('retries with backoff when no API can serve, and answers with the last one asked', async () => {
    let calls = 0;
    const unavailableUntilFourthCall: Handler = (call) => (++calls < 4 ? { status: 503, body: { error: { code: 'dependency_unavailable', message: 'starting' } } } : serving(call, 0));
    const first = await started(unavailableUntilFourthCall);
    const second = await started(unavailableUntilFourthCall);
    const node = setup([first.url, second.url]);

    await expect(node.register()).resolves.toMatchObject({ incarnation: 3 });
    // Both asked in the first round and again, in the same order, in the second: the fourth call, the second API's
    // second, was answered.
    expect([first.api.count(REGISTER), second.api.count(REGISTER)]).toEqual([2, 2]);
    expect(lines.filter((line) => line.startsWith('register: HTTP 503'))).toHaveLength(1);
  });

  it('names every API and its problem when none answers', async () => {
    const [first, second] = [await unreachable(), await unreachable()];
    const node = setup([first, second], 100);
    await expect(node.register()).rejects.toThrow(
      new RegExp(`^no API \\(${first}, ${second}\\) accepted the registration in time: no API answered \\(${first}: .*ECONNREFUSED.*; ${second}: .*ECONNREFUSED.*\\)$`),
    );
  });
});
