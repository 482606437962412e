import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WorkerGroup } from '../api-types';
import { run } from '../main';
import { workerFixture } from '../testing/fixtures';

const gpu: WorkerGroup = {
  name: 'gpu',
  description: 'H100 nodes',
  nodes: { active: 2, draining: 1, dead: 0 },
  live_nodes: 2,
  slots: 4,
  used_slots: 1,
  cpu: 8,
  used_cpu: 1.5,
  mem_mb: 32768,
  used_mem_mb: 256,
  gpu_count: 16,
  used_gpus: 1,
  gpu_models: ['NVIDIA A100-SXM4-40GB', 'NVIDIA H100 80GB HBM3'],
};

const cpu: WorkerGroup = {
  ...gpu,
  name: 'cpu',
  description: '',
  nodes: { active: 0, draining: 0, dead: 1 },
  live_nodes: 0,
  slots: 0,
  used_slots: 0,
  cpu: 0,
  used_cpu: 0,
  mem_mb: 0,
  used_mem_mb: 0,
  gpu_count: 0,
  used_gpus: 0,
  gpu_models: [],
};

// mlis groups and the labels column of mlis workers, against a scripted stand-in for the API.
describe('mlis groups and mlis workers labels', () => {
  let server: Server;
  let baseUrl: string;
  const urls: string[] = [];
  let reply: { status: number; body: unknown };

  beforeAll(async () => {
    server = createServer((req, res) => {
      urls.push(req.url ?? '');
      res.writeHead(reply.status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(reply.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    urls.length = 0;
  });

  async function mlis(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await run(['--api-url', baseUrl, '--token', 't', ...args], {
      stdout: (text) => (out += text),
      stderr: (text) => (err += text),
      now: () => new Date('2025-01-02T03:04:15.000Z'),
    });
    return { code, out, err };
  }

  it('prints one row per group: nodes by status, used/total of the live nodes, GPU models', async () => {
    reply = { status: 200, body: { items: [cpu, gpu] } };
    const { code, out } = await mlis('groups');
    expect(code).toBe(0);
    expect(urls).toEqual(['/v1/worker-groups']);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^GROUP\s+ACTIVE\s+DRAINING\s+DEAD\s+LIVE\s+SLOTS\s+CPU\s+MEM MB\s+GPUS\s+GPU MODELS\s+DESCRIPTION$/);
    expect(lines[1]).toMatch(/^cpu\s+0\s+0\s+1\s+0\s+0\/0\s+0\/0\s+0\/0\s+0\/0\s+-\s+-$/);
    expect(lines[2]).toMatch(/^gpu\s+2\s+1\s+0\s+2\s+1\/4\s+1.5\/8\s+256\/32768\s+1\/16\s+NVIDIA A100-SXM4-40GB, NVIDIA H100 80GB HBM3\s+H100 nodes$/);
  });

  it('prints the raw JSON with --json, and says so when there are no groups', async () => {
    reply = { status: 200, body: { items: [gpu] } };
    expect(JSON.parse((await mlis('--json', 'groups')).out)).toEqual({ items: [gpu] });
    reply = { status: 200, body: { items: [] } };
    expect((await mlis('groups')).out).toBe('no worker groups\n');
  });

  it('exits 2 with the API error code when the token lacks admin:workers', async () => {
    reply = { status: 403, body: { error: { code: 'forbidden', message: 'needs scope admin:workers', request_id: 'r-1' } } };
    const { code, err } = await mlis('groups');
    expect(code).toBe(2);
    expect(err).toContain('error forbidden: needs scope admin:workers');
  });

  it('workers shows each node its labels', async () => {
    reply = {
      status: 200,
      body: { items: [workerFixture({ labels: { zone: 'eu-1', 'example.com/rack': 'r7' } }), workerFixture({ node_id: 'cpu-2' })] },
    };
    const lines = (await mlis('workers')).out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/LAST SEEN\s+LABELS$/);
    expect(lines[1]).toMatch(/^cpu-1\s.*10s ago\s+example\.com\/rack=r7,zone=eu-1$/);
    expect(lines[2]).toMatch(/^cpu-2\s.*10s ago\s+-$/);
  });
});
