import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditEvent, Tenant } from '../api-types';
import { run } from '../main';
import { parseLimit } from './tenants.command';

interface Seen {
  method: string;
  url: string;
  body: unknown;
}

const tenant: Tenant = {
  id: 'team-a',
  name: 'Team A',
  max_queued_jobs: 10,
  submit_rate_per_minute: null,
  max_running_jobs: null,
  max_gpus: 2,
  max_artifact_bytes: null,
  weight: 1,
  group_limits: {},
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
};

const denial: AuditEvent = {
  id: '7',
  at: '2026-01-01T00:00:01.000Z',
  request_id: 'req-7',
  actor_tenant: 'team-a',
  actor_subject: 'alice',
  target_tenant: 'team-a',
  action: 'job.submit',
  resource: 'jobs',
  result: 'deny',
  reason: 'rate_limited',
  occurrences: 1,
};

// The tenants and audit commands against a scripted stand-in for the API.
describe('mlis tenants and mlis audit', () => {
  let server: Server;
  let baseUrl: string;
  const seen: Seen[] = [];
  let reply: unknown;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', body: text ? (JSON.parse(text) as unknown) : undefined });
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(reply));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    seen.length = 0;
  });

  async function mlis(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await run(['--api-url', baseUrl, '--token', 't', ...args], {
      stdout: (text) => (out += text),
      stderr: (text) => (err += text),
    });
    return { code, out, err };
  }

  it('parses limits: integers, or none for no limit', () => {
    expect(parseLimit('0')).toBe(0);
    expect(parseLimit('25')).toBe(25);
    expect(parseLimit('none')).toBe('none');
    expect(() => parseLimit('-1')).toThrow(/non-negative integer/);
    expect(() => parseLimit('1.5')).toThrow(/non-negative integer/);
  });

  it('creates a tenant with the limits given', async () => {
    reply = tenant;
    const { code, out } = await mlis('tenants', 'create', 'team-a', '--name', 'Team A', '--max-queued-jobs', '10', '--max-gpus', '2');
    expect(code).toBe(0);
    expect(seen).toEqual([{ method: 'POST', url: '/v1/tenants', body: { id: 'team-a', name: 'Team A', max_queued_jobs: 10, max_gpus: 2 } }]);
    expect(out).toMatch(/^ID\s+NAME\s+WEIGHT\s+MAX_QUEUED/);
    expect(out).toMatch(/team-a\s+Team A\s+1\s+10\s+-\s+-\s+2/);
  });

  it('sets only the limits given; none sends null', async () => {
    reply = tenant;
    expect((await mlis('tenants', 'set-limits', 'team-a', '--submit-rate', 'none', '--max-queued-jobs', '3')).code).toBe(0);
    expect(seen).toEqual([{ method: 'PATCH', url: '/v1/tenants/team-a', body: { max_queued_jobs: 3, submit_rate_per_minute: null } }]);
  });

  it('sets limits inside a worker group with --group, both together, and shows them', async () => {
    reply = { ...tenant, group_limits: { gpu: { max_running_jobs: null, max_gpus: 4 } } };
    const { code, out } = await mlis('tenants', 'set-limits', 'team-a', '--group', 'gpu', '--max-gpus', '4', '--weight', '2');
    expect(code).toBe(0);
    expect(seen).toEqual([{ method: 'PATCH', url: '/v1/tenants/team-a', body: { weight: 2, group_limits: { gpu: { max_running_jobs: null, max_gpus: 4 } } } }]);
    expect(out).toMatch(/MAX_GPUS\s+GROUP_LIMITS/);
    expect(out).toMatch(/\s2\s+gpu\(gpus 4\)\s/);

    seen.length = 0;
    expect((await mlis('tenants', 'set-limits', 'team-a', '--group', 'gpu')).code).toBe(0);
    expect(seen[0].body).toEqual({ group_limits: { gpu: null } });
  });

  it('refuses set-limits without any limit, before calling the API', async () => {
    const { code, err } = await mlis('tenants', 'set-limits', 'team-a');
    expect(code).toBe(2);
    expect(err).toMatch(/at least one limit/);
    expect(seen).toEqual([]);
  });

  it('lists tenants, and prints JSON with --json', async () => {
    reply = { items: [tenant] };
    expect((await mlis('tenants', 'list')).out).toMatch(/team-a/);
    const { out } = await mlis('--json', 'tenants', 'list');
    expect(JSON.parse(out)).toEqual({ items: [tenant] });
  });

  it('shows audit events with the filters as query parameters, and the next cursor', async () => {
    reply = { items: [denial], next_cursor: 'abc' };
    const { code, out } = await mlis('audit', '--action', 'job.submit', '--result', 'deny', '--limit', '5');
    expect(code).toBe(0);
    expect(seen[0].url).toBe('/v1/audit?action=job.submit&result=deny&limit=5');
    expect(out).toMatch(/deny\s+job\.submit\s+team-a\/alice\s+team-a\s+jobs\s+rate_limited\s+req-7/);
    expect(out).toMatch(/next cursor: abc/);
  });

  it('shows how many refusals a summary of collapsed denials stands for', async () => {
    reply = { items: [{ ...denial, id: '8', request_id: 'req-9', occurrences: 41 }], next_cursor: null };
    const { code, out } = await mlis('audit', '--result', 'deny');
    expect(code).toBe(0);
    expect(out).toMatch(/jobs\s+rate_limited ×41\s+req-9/);
  });

  it('refuses a --result other than allow or deny', async () => {
    const { code, err } = await mlis('audit', '--result', 'maybe');
    expect(code).toBe(2);
    expect(err).toMatch(/allow or deny/);
  });
});
