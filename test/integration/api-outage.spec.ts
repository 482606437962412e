import { api, env, poll, STACK_NODE_IDS, stackNodesLive, withDb } from './support/api';
import { stack } from './support/stack-env';

const DEAD_AFTER_SECONDS = Number(env.processEnv.MLIS_NODE_DEAD_AFTER_SECONDS);
const HEARTBEAT_SECONDS = Number(env.processEnv.MLIS_NODE_HEARTBEAT_SECONDS);

/** Each stack node's status and incarnation, from the ledger (the API may be down). */
function registrations(): Promise<Record<string, string>> {
  return withDb(async (db) => {
    const { rows } = await db.query(`SELECT id, status, incarnation FROM nodes WHERE id = ANY($1::text[]) ORDER BY id`, [STACK_NODE_IDS]);
    return Object.fromEntries(rows.map((row: { id: string; status: string; incarnation: number }) => [row.id, `${row.status} #${row.incarnation}`]));
  });
}

// Nodes heartbeat through the APIs, so an outage of every API silences all of them at once. Control counts a node's
// silence only while an API was up to hear it (ADR 0062): the nodes keep their registrations through the outage.
describe('an outage of every API', () => {
  jest.setTimeout(120_000);

  it('longer than the dead-after marks no node DEAD: each keeps its incarnation, and heartbeats again once an API is back', async () => {
    await stackNodesLive();
    const before = await registrations();
    expect(Object.values(before)).toEqual(STACK_NODE_IDS.map(() => expect.stringMatching(/^ACTIVE #\d+$/)));
    stack(env, 'stop-replica', 'api', '1');
    try {
      // Until every node has been silent for the dead-after and two of control's sweeps (one a heartbeat interval), by
      // the database's clock: with silence alone counted, control would have marked them DEAD by then.
      await poll(
        'every node silent past the dead-after',
        () =>
          withDb(async (db) => {
            const { rows } = await db.query(
              `SELECT bool_and(last_seen_at < now() - make_interval(secs => $1)) AS silent FROM nodes WHERE id = ANY($2::text[])`,
              [DEAD_AFTER_SECONDS + 2 * HEARTBEAT_SECONDS, STACK_NODE_IDS],
            );
            return rows[0].silent ? true : undefined;
          }),
        { timeoutMs: 60_000 },
      );
      expect(await registrations()).toEqual(before);
    } finally {
      stack(env, 'start-replica', 'api', '1');
    }
    await poll('the API ready', async () => ((await api('GET', '/health/ready').catch(() => ({ status: 0 }))).status === 200 ? true : undefined));
    await stackNodesLive();
    expect(await registrations()).toEqual(before);
  });
});
