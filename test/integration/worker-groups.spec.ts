import { api, poll, stackBootstrapSecret, tokenFor, withDb } from './support/api';

// A node that no job can ever fit (1 millicore, 1 MiB) and that never heartbeats, so the control
// declares it DEAD after MLIS_NODE_DEAD_AFTER_SECONDS; deleted again at the end.
const LABELLED = 'it-groups-labelled';
const LABELS = { zone: 'it-zone-1', 'example.com/rack': 'r9', spot: '' };

interface Group {
  name: string;
  nodes: { active: number; draining: number; dead: number };
  live_nodes: number;
  [field: string]: unknown;
}

async function groups(): Promise<Group[]> {
  const { status, body } = await api<{ items: Group[] }>('GET', '/v1/worker-groups');
  if (status !== 200) throw new Error(`GET /v1/worker-groups answered ${status}: ${JSON.stringify(body)}`);
  return body.items;
}

/** Polls until the group matches, then returns it; the stack's nodes may still be settling after an earlier spec. */
async function groupWhen(name: string, matches: (group: Group) => boolean): Promise<Group> {
  let last: Group | undefined;
  return poll(() => `group ${name} to match (last ${JSON.stringify(last)})`, async () => {
    last = (await groups()).find((group) => group.name === name);
    return last && matches(last) ? last : undefined;
  });
}

describe('worker groups', () => {
  jest.setTimeout(90_000);

  afterAll(async () => {
    await withDb((db) => db.query('DELETE FROM nodes WHERE id = $1', [LABELLED]));
  });

  it("lists the stack's groups with their nodes by status and the capacity of the live ones", async () => {
    // MLIS_STACK_NODES of global setup: cpu-1, cpu-2 (4 slots, 4 cores, 8 GiB) and gpu-1, gpu-2 (2 slots, 4 cores, 16 GiB, 2 GPUs).
    const cpu = await groupWhen('cpu', (g) => g.live_nodes === 2 && g.used_slots === 0);
    expect(cpu).toEqual({
      name: 'cpu',
      description: '',
      nodes: { active: 2, draining: 0, dead: 0 },
      live_nodes: 2,
      slots: 8,
      used_slots: 0,
      cpu: 8,
      used_cpu: 0,
      mem_mb: 16384,
      used_mem_mb: 0,
      gpu_count: 0,
      used_gpus: 0,
      gpu_models: [],
    });
    const gpu = await groupWhen('gpu', (g) => g.live_nodes === 2 && g.used_slots === 0);
    expect(gpu).toMatchObject({ nodes: { active: 2, draining: 0, dead: 0 }, slots: 4, cpu: 8, mem_mb: 32768, gpu_count: 4, used_gpus: 0, gpu_models: ['simulated'] });
    expect((await groups()).map((group) => group.name)).toEqual(['cpu', 'gpu']);

    // The counts are the node list's, group by group.
    const { body } = await api('GET', '/v1/workers');
    const listed = (group: string) => body.items.filter((node: { group: string; status: string }) => node.group === group && node.status === 'ACTIVE').length;
    expect([listed('cpu'), listed('gpu')]).toEqual([2, 2]);
  });

  it('a draining node is counted as such and its capacity leaves the totals until undrained', async () => {
    expect((await api('POST', '/v1/workers/gpu-2/drain')).status).toBe(200);
    try {
      const drained = await groupWhen('gpu', (g) => g.nodes.draining === 1);
      expect(drained).toMatchObject({ nodes: { active: 1, draining: 1, dead: 0 }, live_nodes: 1, slots: 2, gpu_count: 2 });
    } finally {
      expect((await api('POST', '/v1/workers/gpu-2/undrain')).status).toBe(200);
    }
    await groupWhen('gpu', (g) => g.live_nodes === 2 && g.slots === 4);
  });

  it('a node registered with labels shows them; once it stops heartbeating it counts as DEAD', async () => {
    const before = await groupWhen('cpu', (g) => g.live_nodes === 2);
    const registered = await api(
      'POST',
      '/v1/internal/nodes/register',
      { node_id: LABELLED, group: 'cpu', hostname: 'it-host', pid: 4242, slots: 1, cpu_millis: 1, mem_mb: 1, gpus: [], labels: LABELS },
      { authorization: `Bearer ${stackBootstrapSecret()}` },
    );
    expect(registered.status).toBe(200);

    const { body } = await api('GET', '/v1/workers');
    expect(body.items.find((node: { node_id: string }) => node.node_id === LABELLED)).toMatchObject({ group: 'cpu', labels: LABELS, gpus: [] });
    const stackNode = body.items.find((node: { node_id: string }) => node.node_id === 'gpu-1');
    expect(stackNode).toMatchObject({ labels: {}, gpus: [{ index: 0, model: 'simulated', memory_mb: 16384 }, { index: 1, model: 'simulated', memory_mb: 16384 }] });

    const dead = await groupWhen('cpu', (g) => g.nodes.dead === before.nodes.dead + 1);
    expect(dead).toMatchObject({ nodes: { active: 2, dead: before.nodes.dead + 1 }, live_nodes: 2, slots: 8 });
  });

  it('is refused without admin:workers', async () => {
    const jobsOnly = tokenFor({ scopes: ['jobs:submit', 'jobs:read'] });
    const refused = await api('GET', '/v1/worker-groups', undefined, { authorization: `Bearer ${jobsOnly}` });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');
    expect((await api('GET', '/v1/worker-groups', undefined, {}, { auth: false })).status).toBe(401);
  });
});
