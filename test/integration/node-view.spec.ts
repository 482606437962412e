import type { DataSource } from 'typeorm';
import { NodeView, preparedOn, type NodesRepository } from '@mlis/db';
import type { SchedulerNode } from '@mlis/scheduling';
import { createLedgerDatabase } from './support/ledger-db';

// The scheduler's node view reads only the node rows changed since its last read. These cases are the
// ones a change stamp can get wrong: a transaction that commits after a later one, rows deleted,
// and heartbeats, which must not count as changes.
describe('NodeView', () => {
  let dataSource: DataSource;
  let nodes: NodesRepository;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ dataSource, nodes, drop } = await createLedgerDatabase('mlis_node_view', 4));
    for (const id of ['v-1', 'v-2', 'v-3']) {
      await nodes.registerNode({ nodeId: id, group: 'cpu', hostname: 'view', pid: 1, slots: 4, cpuMillis: 4000, memMb: 4096, gpus: [], labels: {} });
    }
  });

  afterAll(async () => {
    await drop?.();
  });

  const refresh = (view: NodeView): Promise<ReadonlyMap<string, SchedulerNode>> =>
    dataSource.transaction(async (m) => new Map((await view.refresh(preparedOn(m), 60)).nodes));

  /** What a view that has read nothing before sees: every row, read in full. */
  const fullRead = (): Promise<ReadonlyMap<string, SchedulerNode>> => refresh(new NodeView());

  it('sees a change whose transaction was still open at its previous read, after a later one committed', async () => {
    const view = new NodeView();
    await refresh(view);
    const early = dataSource.createQueryRunner();
    await early.connect();
    try {
      await early.startTransaction();
      await early.query(`UPDATE nodes SET used_slots = 1, used_cpu_millis = 500 WHERE id = 'v-1'`);
      // A later transaction commits first; the view reads while the early one is still open.
      await nodes.setNodeDraining('v-2', true);
      const during = await refresh(view);
      expect(during.get('v-1')?.usedSlots).toBe(0);
      expect(during.get('v-2')?.status).toBe('DRAINING');
      await early.commitTransaction();
    } finally {
      await early.release();
    }
    const after = await refresh(view);
    expect(after.get('v-1')).toMatchObject({ usedSlots: 1, usedCpuMillis: 500 });
    expect(after).toEqual(await fullRead());
    await dataSource.query(`UPDATE nodes SET used_slots = 0, used_cpu_millis = 0 WHERE id = 'v-1'`);
    await nodes.setNodeDraining('v-2', false);
  });

  it('forgets deleted nodes and picks up new incarnations', async () => {
    const view = new NodeView();
    const before = await refresh(view);
    await dataSource.query(`DELETE FROM nodes WHERE id = 'v-3'`);
    const { incarnation } = await nodes.registerNode({ nodeId: 'v-1', group: 'cpu', hostname: 'view', pid: 2, slots: 6, cpuMillis: 8000, memMb: 4096, gpus: [], labels: { zone: 'b' } });
    const after = await refresh(view);
    expect([...after.keys()].sort()).toEqual(['v-1', 'v-2']);
    expect(incarnation).toBeGreaterThan(before.get('v-1')!.incarnation);
    expect(after.get('v-1')).toMatchObject({ incarnation, slots: 6, cpuMillis: 8000, labels: { zone: 'b' } });
    expect(after).toEqual(await fullRead());
  });

  it('does not treat a heartbeat as a change, and marks silent nodes not live', async () => {
    const view = new NodeView();
    const before = await refresh(view);
    const [{ incarnation }] = await dataSource.query(`SELECT incarnation FROM nodes WHERE id = 'v-2'`);
    const stamp = async () => (await dataSource.query(`SELECT change_xid::text AS x FROM nodes WHERE id = 'v-2'`))[0].x as string;
    const stamped = await stamp();
    expect(await nodes.heartbeatNode('v-2', incarnation)).toBe('ok');
    expect(await stamp()).toBe(stamped);

    await dataSource.query(`UPDATE nodes SET last_seen_at = now() - interval '1 hour' WHERE id = 'v-2'`);
    const silent = await refresh(view);
    expect(silent.get('v-2')?.live).toBe(false);
    expect(before.get('v-2')?.live).toBe(true);
    expect(await nodes.heartbeatNode('v-2', incarnation)).toBe('ok');
    expect((await refresh(view)).get('v-2')?.live).toBe(true);
  });
});
