import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job } from './api-types';
import type { CliIo } from './cli-context';
import { run } from './main';
import { assignmentFixture, jobFixture, workerFixture } from './testing/fixtures';

interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

interface Reply {
  status: number;
  body: unknown;
  /** Sent verbatim instead of JSON. */
  raw?: string;
  headers?: Record<string, string>;
  /** Close the connection without an answer, as an API that stops mid-request. */
  drop?: boolean;
  /** Send the headers and half the body, then close the connection: an API that stops mid-answer. */
  truncate?: boolean;
}

type Route = (request: RecordedRequest) => Reply;

// A stand-in for the API: each test scripts the replies and reads back what the CLI sent.
class FakeApi {
  readonly requests: RecordedRequest[] = [];
  route: Route = () => ({ status: 500, body: { error: { code: 'internal_error', message: 'no route', request_id: 'r' } } });
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: text ? (JSON.parse(text) as unknown) : undefined };
        this.requests.push(request);
        const reply = this.route(request);
        if (reply.drop) {
          req.socket.destroy();
          return;
        }
        res.writeHead(reply.status, {
          'Content-Type': reply.raw === undefined ? 'application/json' : 'text/plain',
          'X-Request-ID': 'req-header-id',
          ...reply.headers,
        });
        const body = reply.raw ?? JSON.stringify(reply.body);
        if (reply.truncate) {
          res.flushHeaders();
          res.write(body.slice(0, Math.floor(body.length / 2)), () => req.socket.destroy());
          return;
        }
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

function apiError(status: number, code: string, message: string, details?: { field: string; problem: string }[]): Reply {
  return { status, body: { error: { code, message, details, request_id: 'req-123' } } };
}

function captureIo(): CliIo & { out: () => string; err: () => string; pauses: number[] } {
  let stdout = '';
  let stderr = '';
  const pauses: number[] = [];
  return {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    pollIntervalMs: 5,
    now: () => new Date('2025-01-02T03:04:15.000Z'),
    // Retries' pauses are recorded, not waited out.
    sleep: async (ms) => {
      pauses.push(ms);
    },
    out: () => stdout,
    err: () => stderr,
    pauses,
  };
}

describe('mlis CLI against a fake API', () => {
  const api = new FakeApi();
  let url: string;

  const savedTokenEnv = { token: process.env.MLIS_TOKEN, file: process.env.MLIS_TOKEN_FILE };

  beforeAll(async () => {
    url = await api.start();
    // Hermetic: a developer's saved token (`npm run up`) must not leak into requests.
    delete process.env.MLIS_TOKEN;
    process.env.MLIS_TOKEN_FILE = '/nonexistent/mlis-token';
  });
  afterAll(async () => {
    if (savedTokenEnv.token === undefined) delete process.env.MLIS_TOKEN;
    else process.env.MLIS_TOKEN = savedTokenEnv.token;
    if (savedTokenEnv.file === undefined) delete process.env.MLIS_TOKEN_FILE;
    else process.env.MLIS_TOKEN_FILE = savedTokenEnv.file;
    await api.stop();
  });
  beforeEach(() => {
    api.requests.length = 0;
  });

  // QUEUED on submit, then each GET returns the next state of the script; the last one repeats.
  function scriptJob(states: Job['state'][], done: Partial<Job> = {}): Job {
    const queued = jobFixture();
    let polls = 0;
    api.route = (request) => {
      if (request.method === 'POST' && request.url === '/v1/jobs') return { status: 202, body: queued };
      if (request.method === 'GET' && request.url.split('?')[0] === `/v1/jobs/${queued.id}`) {
        const state = states[Math.min(polls++, states.length - 1)];
        const assignment = assignmentFixture({ state: state === 'RUNNING' ? 'RUNNING' : 'SUCCEEDED' });
        const terminal = state !== 'RUNNING' && state !== 'QUEUED';
        return { status: 200, body: { ...queued, state, attempts: 1, latest_assignment: assignment, assignments: [assignment], ...(terminal ? done : {}) } };
      }
      return apiError(404, 'not_found', `no route ${request.method} ${request.url}`);
    };
    return queued;
  }

  describe('submit', () => {
    it('--wait follows the job to SUCCEEDED and exits 0', async () => {
      const queued = scriptJob(['RUNNING', 'RUNNING', 'SUCCEEDED'], { result: { slept: 0.2 } });
      const io = captureIo();
      const code = await run(
        ['submit', 'sleep', '--seconds', '0.2', '--param', 'model=m', '--param', 'n=3', '--cpu', '2', '--gpu', '0', '--priority', '-1',
          '--max-attempts', '2', '--timeout-seconds', '30', '--idempotency-key', 'k-1', '--wait', '--api-url', url, '--token', 't0k'],
        io,
      );
      expect(io.err()).not.toContain('error');
      expect(code).toBe(0);
      const post = api.requests[0];
      expect(post.method).toBe('POST');
      expect(post.body).toEqual({ task_type: 'sleep', params: { seconds: 0.2, model: 'm', n: 3 }, cpu: 2, gpu: 0, priority: -1, max_attempts: 2, timeout_seconds: 30 });
      expect(post.headers['idempotency-key']).toBe('k-1');
      expect(post.headers.authorization).toBe('Bearer t0k');
      const gets = api.requests.filter((r) => r.method === 'GET');
      expect(gets).toHaveLength(3);
      // It waits through the API's long-poll, not a polling loop.
      expect(gets.every((r) => /\?wait=([1-9]|10)$/.test(r.url))).toBe(true);
      expect(io.out().split('\n')[0]).toBe(`${queued.id} QUEUED`);
      expect(io.out()).toContain('state:      SUCCEEDED');
      expect(io.out()).toContain('result:     {"slept":0.2}');
      // Progress goes to stderr, once per change.
      expect(io.err()).toBe('QUEUED (attempt 0/3)\nRUNNING on cpu-1 (attempt 1/3)\nSUCCEEDED (attempt 1/3)\n');
    });

    it('sends placement selectors and a priority class as given', async () => {
      scriptJob(['QUEUED']);
      const io = captureIo();
      const code = await run(
        ['submit', 'sleep', '--gpu', '2', '--priority-class', 'urgent', '--worker-group', 'gpu', '--selector', 'zone=eu-1', '--selector', 'rack=r7',
          '--gpu-model', 'A100', '--gpu-memory-mb', '40000', '--api-url', url],
        io,
      );
      expect(code).toBe(0);
      expect(api.requests[0].body).toEqual({
        task_type: 'sleep',
        params: {},
        gpu: 2,
        priority_class: 'urgent',
        worker_group: 'gpu',
        node_selector: { zone: 'eu-1', rack: 'r7' },
        gpu_model: 'A100',
        gpu_memory_mb: 40000,
      });
      expect(await run(['submit', 'sleep', '--selector', 'zone', '--api-url', url], captureIo())).toBe(2);
    });

    it('--wait exits 1 when the job FAILED, and --json prints only the final job', async () => {
      scriptJob(['FAILED'], { error: { code: 'RunnerError', message: 'boom' } });
      const io = captureIo();
      const code = await run(['--json', '--api-url', url, 'submit', 'sleep', '--wait'], io);
      expect(code).toBe(1);
      const printed = JSON.parse(io.out()) as Job;
      expect(printed.state).toBe('FAILED');
      expect(printed.error).toEqual({ code: 'RunnerError', message: 'boom' });
      expect(api.requests[0].headers.authorization).toBeUndefined();
    });

    it('--wait exits 3 when the job is still running at the wait timeout', async () => {
      const queued = scriptJob(['RUNNING']);
      const io = captureIo();
      const code = await run(['submit', 'sleep', '--wait', '--wait-timeout', '0.05', '--api-url', url], io);
      expect(code).toBe(3);
      expect(io.err()).toContain(`error: job ${queued.id} is still RUNNING after 0.05 s`);
      expect(io.out()).toContain('state:      RUNNING');
    });

    it('--wait keeps polling through a 503 while the API restarts', async () => {
      const queued = scriptJob(['SUCCEEDED']);
      const succeed = api.route;
      let failures = 2;
      api.route = (request) =>
        request.method === 'GET' && failures-- > 0 ? apiError(503, 'dependency_unavailable', 'database is down') : succeed(request);
      const io = captureIo();
      const code = await run(['submit', 'sleep', '--wait', '--api-url', url], io);
      expect(code).toBe(0);
      expect(io.err()).toContain('still waiting: database is down');
      expect(io.out()).toContain(`id:         ${queued.id}`);
    });

    it('sends the submission again after a 503, as its Retry-After says, with the same Idempotency-Key of its own', async () => {
      const queued = scriptJob(['RUNNING']);
      const accept = api.route;
      let failures = 1;
      api.route = (request) =>
        request.method === 'POST' && failures-- > 0
          ? { ...apiError(503, 'dependency_unavailable', 'the database is unavailable'), headers: { 'Retry-After': '2' } }
          : accept(request);
      const io = captureIo();

      expect(await run(['submit', 'sleep', '--api-url', url], io)).toBe(0);

      expect(io.out()).toBe(`${queued.id} QUEUED\n`);
      expect(io.err()).toBe('dependency_unavailable: the database is unavailable; sending it again in 2 s (1 of 3)\n');
      expect(io.pauses).toEqual([2000]);
      const keys = api.requests.map((request) => request.headers['idempotency-key']);
      expect(keys).toHaveLength(2);
      expect(keys[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(keys[1]).toBe(keys[0]);
    });

    it('a key given with --idempotency-key is the one sent', async () => {
      scriptJob(['RUNNING']);
      const io = captureIo();
      expect(await run(['submit', 'sleep', '--idempotency-key', 'nightly-7', '--api-url', url], io)).toBe(0);
      expect(api.requests.map((request) => request.headers['idempotency-key'])).toEqual(['nightly-7']);
    });

    it('--seconds 0 is refused before anything is sent: a sleep job runs for more than nothing', async () => {
      const io = captureIo();
      expect(await run(['submit', 'sleep', '--seconds', '0', '--api-url', url], io)).toBe(2);
      expect(io.err()).toContain("option '--seconds <n>' argument '0' is invalid. must be a number of seconds > 0");
      expect(api.requests).toHaveLength(0);
    });

    it('without --wait prints the id and state and exits 0', async () => {
      const queued = scriptJob(['RUNNING']);
      const io = captureIo();
      expect(await run(['submit', 'gpu_demo', '--api-url', url], io)).toBe(0);
      expect(io.out()).toBe(`${queued.id} QUEUED\n`);
      expect(api.requests).toHaveLength(1);
      expect(api.requests[0].body).toEqual({ task_type: 'gpu_demo', params: {} });
    });

    it('prints the API error code, details and request id on stderr and exits 2', async () => {
      api.route = () => apiError(422, 'unknown_task_type', 'unknown task type "nope"', [{ field: 'task_type', problem: 'not registered' }]);
      const io = captureIo();
      const code = await run(['submit', 'nope', '--api-url', url], io);
      expect(code).toBe(2);
      expect(io.out()).toBe('');
      expect(io.err()).toBe('error unknown_task_type: unknown task type "nope"\n  task_type: not registered\nrequest id: req-123\n');
    });

    it('rejects a malformed --param before sending anything, exit 2', async () => {
      const io = captureIo();
      const code = await run(['submit', 'sleep', '--param', 'seconds', '--api-url', url], io);
      expect(code).toBe(2);
      expect(io.err()).toContain("option '--param <key=value>' argument 'seconds' is invalid");
      expect(api.requests).toHaveLength(0);
    });
  });

  describe('list', () => {
    it('prints a table newest first and the next cursor, and forwards limit, state and cursor', async () => {
      const newer = jobFixture({ id: 'job-b', state: 'RUNNING', attempts: 1, latest_assignment: assignmentFixture({ node_id: 'cpu-2' }) });
      const older = jobFixture({ id: 'job-a', state: 'RUNNING', attempts: 1, latest_assignment: assignmentFixture() });
      api.route = (request) =>
        request.url.includes('cursor=')
          ? { status: 200, body: { items: [older], next_cursor: null } }
          : { status: 200, body: { items: [newer], next_cursor: 'Y3Vyc29y' } };

      const first = captureIo();
      expect(await run(['list', '--limit', '1', '--state', 'running', '--api-url', url], first)).toBe(0);
      expect(api.requests[0].url).toBe('/v1/jobs?limit=1&state=RUNNING');
      const lines = first.out().trimEnd().split('\n');
      expect(lines[0]).toMatch(/^ID\s+TYPE\s+STATE\s+ATTEMPTS\s+NODE\s+CREATED$/);
      expect(lines[1]).toMatch(/^job-b\s+sleep\s+RUNNING\s+1\/3\s+cpu-2\s/);
      expect(lines[2]).toBe('next cursor: Y3Vyc29y');

      const second = captureIo();
      expect(await run(['list', '--limit', '1', '--state', 'RUNNING', '--cursor', 'Y3Vyc29y', '--api-url', url], second)).toBe(0);
      expect(api.requests[1].url).toBe('/v1/jobs?limit=1&state=RUNNING&cursor=Y3Vyc29y');
      expect(second.out()).toMatch(/job-a\s+sleep\s+RUNNING/);
      expect(second.out()).not.toContain('next cursor');
    });

    it('forwards every filter the API takes, and passes on its 400 for a malformed time', async () => {
      api.route = (request) =>
        request.url.includes('created_after=yesterday')
          ? { status: 400, body: { error: { code: 'validation_failed', message: 'created_after must be an ISO 8601 UTC time', request_id: 'r-1' } } }
          : { status: 200, body: { items: [], next_cursor: null } };
      const io = captureIo();
      const filters = ['--task-type', 'inference', '--group', 'gpu', '--node', 'gpu-1', '--submitted-by', 'alice', '--since', '2026-12-04T09:00:00Z', '--until', '2026-12-04T10:00:00Z', '--tenant', 'team-b'];
      expect(await run(['list', ...filters, '--api-url', url], io)).toBe(0);
      expect(api.requests[0].url).toBe(
        '/v1/jobs?task_type=inference&worker_group=gpu&node=gpu-1&submitted_by=alice&created_after=2026-12-04T09%3A00%3A00Z&created_before=2026-12-04T10%3A00%3A00Z&tenant=team-b',
      );
      expect(io.out()).toBe('no jobs\n');

      const refused = captureIo();
      expect(await run(['list', '--since', 'yesterday', '--api-url', url], refused)).toBe(2);
      expect(refused.err()).toContain('created_after must be an ISO 8601 UTC time');
    });

    it('--json prints the page as the API sent it', async () => {
      api.route = () => ({ status: 200, body: { items: [], next_cursor: null } });
      const io = captureIo();
      expect(await run(['--json', 'list', '--api-url', url], io)).toBe(0);
      expect(JSON.parse(io.out())).toEqual({ items: [], next_cursor: null });
    });
  });

  describe('status, cancel and workers', () => {
    it('status prints the job block with its assignments', async () => {
      const job = jobFixture({ state: 'RUNNING', attempts: 1, assignments: [assignmentFixture({ gpu_ids: [0] })] });
      api.route = () => ({ status: 200, body: job });
      const io = captureIo();
      expect(await run(['status', job.id, '--api-url', url], io)).toBe(0);
      expect(api.requests[0].url).toBe(`/v1/jobs/${job.id}`);
      expect(io.out()).toContain('task type:  sleep');
      expect(io.out()).toMatch(/\n1\s+RUNNING\s+cpu-1\s+cpu\s+0\s+host-a:4242\s/);
    });

    it('status --wait follows the job through the long-poll and exits as submit --wait does', async () => {
      const job = jobFixture({ state: 'RUNNING', attempts: 1 });
      let reads = 0;
      api.route = () => ({ status: 200, body: { ...job, state: reads++ === 0 ? 'RUNNING' : 'FAILED' } });
      const io = captureIo();
      expect(await run(['status', job.id, '--wait', '--api-url', url], io)).toBe(1);
      expect(api.requests.map((r) => r.url)).toEqual([`/v1/jobs/${job.id}`, `/v1/jobs/${job.id}?wait=10`]);
      expect(io.out()).toContain('state:      FAILED');
    });

    it('status of an unknown job exits 2 with job_not_found', async () => {
      api.route = () => apiError(404, 'job_not_found', 'job not found');
      const io = captureIo();
      expect(await run(['status', 'e1a9f0c2-0000-4000-8000-000000000000', '--api-url', url], io)).toBe(2);
      expect(io.err()).toContain('error job_not_found: job not found');
    });

    it('cancel posts to the cancel route; a finished job answers 409 and exits 2', async () => {
      const job = jobFixture({ state: 'CANCELLED' });
      api.route = () => ({ status: 202, body: job });
      const io = captureIo();
      expect(await run(['cancel', job.id, '--api-url', url], io)).toBe(0);
      expect(api.requests[0]).toMatchObject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
      expect(io.out()).toBe(`cancel requested: ${job.id} CANCELLED\n`);

      api.route = () => apiError(409, 'job_already_finished', 'job already finished');
      const again = captureIo();
      expect(await run(['cancel', job.id, '--api-url', url], again)).toBe(2);
      expect(again.err()).toContain('error job_already_finished: job already finished');
    });

    it('workers prints capacity per node', async () => {
      api.route = () => ({ status: 200, body: { items: [workerFixture(), workerFixture({ node_id: 'gpu-1', group: 'gpu', gpu_count: 2, used_gpus: 2 })] } });
      const io = captureIo();
      expect(await run(['workers', '--api-url', url], io)).toBe(0);
      const lines = io.out().trimEnd().split('\n');
      expect(lines).toHaveLength(3);
      expect(lines[2]).toMatch(/^gpu-1\s+gpu\s+ACTIVE\s+host-a\s+4242\s+1\/4\s+1\/4\s+256\/8192\s+2\/2\s+10s ago\s+-$/);
    });

    it('audit export prints one event a line from the stored cursor, stores the next after each page, and with --follow rides out a restart', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'mlis-audit-export-'));
      const cursorFile = join(dir, 'cursor');
      writeFileSync(cursorFile, '10.5\n');
      const event = (id: string) => ({ id, at: '2025-01-02T03:04:05.000Z', request_id: `r${id}`, actor_tenant: 'default', actor_subject: 'dev', target_tenant: null, action: 'job.submit', resource: `job/${id}`, result: 'allow', reason: null });
      // Page 1 (more ready), page 2 (nothing more), a restart (503), page 3, then a refusal that ends the run.
      const replies: Reply[] = [
        { status: 200, body: { items: [event('6'), event('7')], next_cursor: '11.7', has_more: true } },
        { status: 200, body: { items: [event('8')], next_cursor: '12.8', has_more: false } },
        apiError(503, 'dependency_unavailable', 'database is down'),
        { status: 200, body: { items: [event('9')], next_cursor: '13.9', has_more: false } },
        apiError(403, 'forbidden', 'token lacks admin:audit'),
      ];
      const cursorsSeen: string[] = [];
      api.route = (request) => {
        cursorsSeen.push(new URL(request.url, url).searchParams.get('cursor') ?? '');
        if (replies.length === 1) expect(readFileSync(cursorFile, 'utf8')).toBe('13.9\n');
        return replies.shift()!;
      };
      try {
        const io = captureIo();
        expect(await run(['audit', 'export', '--cursor-file', cursorFile, '--follow', '--limit', '2', '--api-url', url], io)).toBe(2);
        expect(io.out().trimEnd().split('\n').map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(['6', '7', '8', '9']);
        expect(cursorsSeen).toEqual(['10.5', '11.7', '12.8', '12.8', '13.9']);
        expect(new URL(api.requests[0].url, url).searchParams.get('limit')).toBe('2');
        expect(io.err()).toContain('error forbidden: token lacks admin:audit');

        // Without --follow it stops when nothing more is ready, and prints where it stopped.
        api.route = () => ({ status: 200, body: { items: [event('10')], next_cursor: '14.10', has_more: false } });
        const once = captureIo();
        expect(await run(['audit', 'export', '--cursor', '13.9', '--api-url', url], once)).toBe(0);
        expect(once.err()).toBe('next cursor: 14.10\n');
        expect(await run(['audit', 'export', '--cursor', '1.1', '--cursor-file', cursorFile, '--api-url', url], captureIo())).toBe(2);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('tokens revoke posts the holder and says up to when; --tenant is required; tokens revoked lists them', async () => {
      const revocation = { tenant_id: 'team-a', subject: 'alice', revoked_at: '2025-01-02T03:04:05.000Z', revoked_by: 'default/dev' };
      api.route = (request) => (request.method === 'POST' ? { status: 201, body: revocation } : { status: 200, body: { items: [revocation] } });
      const io = captureIo();
      expect(await run(['tokens', 'revoke', 'alice', '--tenant', 'team-a', '--api-url', url], io)).toBe(0);
      expect(api.requests[0]).toMatchObject({ method: 'POST', url: '/v1/auth/revocations', body: { tenant_id: 'team-a', subject: 'alice' } });
      expect(io.out()).toBe('revoked every token of alice in tenant team-a issued up to 2025-01-02T03:04:05Z\n');
      expect(await run(['tokens', 'revoke', 'alice', '--api-url', url], captureIo())).toBe(2);
      expect(api.requests).toHaveLength(1);
      const list = captureIo();
      expect(await run(['tokens', 'revoked', '--api-url', url], list)).toBe(0);
      expect(list.out().trimEnd().split('\n')[1]).toMatch(/^team-a\s+alice\s+2025-01-02T03:04:05Z\s+default\/dev$/);
    });

    it('a body that is not the API error shape is still reported, with the X-Request-ID header', async () => {
      api.route = () => ({ status: 502, body: null, raw: 'Bad Gateway' });
      const io = captureIo();
      expect(await run(['workers', '--api-url', url], io)).toBe(2);
      expect(io.err()).toBe('error http_502: Bad Gateway\nrequest id: req-header-id\n');
    });
  });

  describe('submit --input', () => {
    it('uploads the file with its sha256, then submits with params.input referencing the new artifact', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'mlis-cli-input-'));
      try {
        const file = join(dir, 'texts.json');
        writeFileSync(file, JSON.stringify(['a text', 'another']));
        const queued = jobFixture();
        api.route = (request) => {
          if (request.method === 'POST' && request.url.startsWith('/v1/artifacts?')) {
            return { status: 201, body: { id: 'a1b2c3d4-0000-4000-8000-000000000001', size_bytes: 20 } };
          }
          if (request.method === 'POST' && request.url === '/v1/jobs') return { status: 202, body: queued };
          return apiError(404, 'not_found', 'no route');
        };
        const io = captureIo();
        expect(await run(['submit', 'inference', '--input', file, '--param', 'mode=embed', '--api-url', url], io)).toBe(0);

        const [uploadRequest, submitRequest] = api.requests;
        const query = new URL(uploadRequest.url, url).searchParams;
        expect(query.get('name')).toBe('texts.json');
        expect(query.get('sha256')).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
        expect(uploadRequest.headers['content-type']).toBe('application/json');
        expect(submitRequest.body).toEqual({ task_type: 'inference', params: { mode: 'embed', input: 'artifact://a1b2c3d4-0000-4000-8000-000000000001' } });
        expect(io.err()).toContain(`uploaded ${file} as artifact a1b2c3d4-0000-4000-8000-000000000001`);
        expect(io.out()).toBe(`${queued.id} QUEUED\n`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses --input together with an input param, before uploading anything', async () => {
      const io = captureIo();
      expect(await run(['submit', 'inference', '--input', '/nonexistent', '--param', 'input=x', '--api-url', url], io)).toBe(2);
      expect(io.err()).toContain('give --input or an "input" param, not both');
      expect(api.requests).toEqual([]);
    });
  });

  describe('result', () => {
    const result = { vectors: Array.from({ length: 2000 }, (_, i) => [i, i / 2]) };

    it('prints the whole result JSON from the result route', async () => {
      const job = jobFixture({ state: 'SUCCEEDED' });
      api.route = () => ({ status: 200, body: null, raw: JSON.stringify(result) });
      const io = captureIo();
      expect(await run(['result', job.id, '--api-url', url], io)).toBe(0);
      expect(api.requests[0]).toMatchObject({ method: 'GET', url: `/v1/jobs/${job.id}/result` });
      expect(JSON.parse(io.out())).toEqual(result);
    });

    it('-o writes it to a file and says how many bytes; an error leaves no file', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'mlis-cli-result-'));
      try {
        const job = jobFixture({ state: 'SUCCEEDED' });
        api.route = () => ({ status: 200, body: null, raw: JSON.stringify(result) });
        const io = captureIo();
        const file = join(dir, 'result.json');
        expect(await run(['result', job.id, '-o', file, '--api-url', url], io)).toBe(0);
        expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(result);
        expect(io.err()).toBe(`wrote ${JSON.stringify(result).length} bytes to ${file}\n`);

        api.route = () => apiError(409, 'result_not_available', 'job is RUNNING: it has no result yet');
        const failed = captureIo();
        const other = join(dir, 'other.json');
        expect(await run(['result', job.id, '-o', other, '--api-url', url], failed)).toBe(2);
        expect(failed.err()).toContain('error result_not_available: job is RUNNING: it has no result yet');
        expect(existsSync(other)).toBe(false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('names the URL and suggests `npm run up` when the connection is still refused after its retries', async () => {
    const closed = new FakeApi();
    const closedUrl = await closed.start();
    await closed.stop();
    const io = captureIo();
    expect(await run(['workers', '--api-url', closedUrl], io)).toBe(2);
    const refused = `cannot reach the MLIS API at ${closedUrl}: connection refused`;
    expect(io.err().split('\n').slice(0, 4)).toEqual([
      `${refused}; sending it again in 1 s (1 of 3)`,
      `${refused}; sending it again in 2 s (2 of 3)`,
      `${refused}; sending it again in 4 s (3 of 3)`,
      `error: ${refused}`,
    ]);
    expect(io.pauses).toEqual([1000, 2000, 4000]);
    expect(io.err()).toContain('npm run up');
  });

  describe('retries', () => {
    const unavailable = (retryAfter?: string): Reply => ({
      ...apiError(503, 'dependency_unavailable', 'the database is unavailable'),
      headers: retryAfter === undefined ? {} : { 'Retry-After': retryAfter },
    });

    it('a read is sent again after each 503 until its retries are used up, then the error is reported', async () => {
      api.route = () => unavailable();
      const io = captureIo();
      expect(await run(['workers', '--retries', '2', '--api-url', url], io)).toBe(2);
      expect(api.requests).toHaveLength(3);
      expect(io.pauses).toEqual([1000, 2000]);
      expect(io.err().trimEnd().split('\n').at(-2)).toBe('error dependency_unavailable: the database is unavailable');
    });

    it('a submission whose connection dropped before the answer is sent again with the same key; a cancel is not', async () => {
      const queued = scriptJob(['RUNNING']);
      const accept = api.route;
      let drops = 1;
      api.route = (request) => (request.method === 'POST' && drops-- > 0 ? { status: 0, body: null, drop: true } : accept(request));
      const io = captureIo();
      expect(await run(['submit', 'sleep', '--api-url', url], io)).toBe(0);
      expect(io.out()).toBe(`${queued.id} QUEUED\n`);
      expect(io.err()).toMatch(/^cannot reach the MLIS API at .*: (UND_ERR_SOCKET|ECONNRESET|EPIPE); sending it again in 1 s \(1 of 3\)\n$/);
      const keys = api.requests.map((request) => request.headers['idempotency-key']);
      expect(keys).toHaveLength(2);
      expect(keys[1]).toBe(keys[0]);

      api.requests.length = 0;
      api.route = () => ({ status: 0, body: null, drop: true });
      const cancel = captureIo();
      expect(await run(['cancel', queued.id, '--api-url', url], cancel)).toBe(2);
      expect(api.requests).toHaveLength(1);
    });

    it('a read or a submission whose answer broke off after its headers is sent again; a cancel is not', async () => {
      const queued = scriptJob(['RUNNING']);
      const accept = api.route;
      // The first POST's answer and the first GET's break off.
      const truncated = new Set<string>();
      api.route = (request) => {
        const reply = accept(request);
        if (truncated.has(request.method)) return reply;
        truncated.add(request.method);
        return { ...reply, truncate: true };
      };
      const io = captureIo();
      expect(await run(['submit', 'sleep', '--api-url', url], io)).toBe(0);
      expect(io.out()).toBe(`${queued.id} QUEUED\n`);
      const keys = api.requests.map((request) => request.headers['idempotency-key']);
      expect(keys).toHaveLength(2);
      expect(keys[1]).toBe(keys[0]);
      const status = captureIo();
      expect(await run(['status', queued.id, '--api-url', url], status)).toBe(0);
      expect(status.out()).toContain(queued.id);
      for (const notices of [io.err(), status.err()]) {
        expect(notices).toMatch(/^cannot reach the MLIS API at .*: (UND_ERR_SOCKET|ECONNRESET|terminated)[^\n]*; sending it again in 1 s \(1 of 3\)\n$/);
      }

      api.requests.length = 0;
      api.route = (request) => ({ ...accept(request), truncate: true });
      expect(await run(['cancel', queued.id, '--api-url', url], captureIo())).toBe(2);
      expect(api.requests).toHaveLength(1);
    });

    it('--retries 0 sends a call once', async () => {
      api.route = () => unavailable('1');
      const io = captureIo();
      expect(await run(['workers', '--retries', '0', '--api-url', url], io)).toBe(2);
      expect(api.requests).toHaveLength(1);
      expect(io.pauses).toEqual([]);
    });

    it('a Retry-After beyond 10 s is reported at once rather than waited out', async () => {
      api.route = () => unavailable('30');
      const io = captureIo();
      expect(await run(['workers', '--api-url', url], io)).toBe(2);
      expect(api.requests).toHaveLength(1);
      expect(io.err()).toContain('error dependency_unavailable: the database is unavailable');
    });

    it('neither a call a repeat could apply twice (cancel) nor another status (500, 429) is sent again', async () => {
      for (const [argv, reply] of [
        [['cancel', 'job-1'], unavailable('1')],
        [['workers'], apiError(500, 'internal_error', 'boom')],
        [['workers'], { ...apiError(429, 'rate_limited', 'slow down'), headers: { 'Retry-After': '1' } }],
      ] as const) {
        api.requests.length = 0;
        api.route = () => reply;
        const io = captureIo();
        expect(await run([...argv, '--api-url', url], io)).toBe(2);
        expect({ argv, requests: api.requests.length, pauses: io.pauses }).toEqual({ argv, requests: 1, pauses: [] });
      }
    });
  });

  it('--help exits 0; no command or an unknown one is a usage error', async () => {
    const help = captureIo();
    expect(await run(['--help'], help)).toBe(0);
    expect(help.out()).toContain('Usage: mlis');
    expect(await run([], captureIo())).toBe(2);
    const unknown = captureIo();
    expect(await run(['frobnicate'], unknown)).toBe(2);
    expect(unknown.err()).toContain("unknown command 'frobnicate'");
  });
});
