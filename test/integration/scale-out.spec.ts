import { createHash } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { CONTROL_TASK_QUEUE } from '@mlis/contracts';
import { createDataSource } from '@mlis/db';
import { api, env, poll, STACK_NODE_IDS, stackNodesLive, TERMINAL, tokenFor, withDb, type ApiResponse } from './support/api';
import { ledgerInvariantViolations } from './support/ledger-db';
import { parseSamples, scrape, valueOf } from './support/metrics';
import { stack, stackPid } from './support/stack-env';

// Scale-out: a second API and a second control process beside the stack's own (scripts/stack.sh start-replica), every
// job submitted through one API and awaited through the other; both APIs run the workflows of the jobs they take (ADR
// 0052), both control processes poll the control queue for the rest, and the ledger must never double-book.
const SECOND_API = `http://127.0.0.1:${Number(env.processEnv.MLIS_API_PORT) + 1}`;
const auth = { authorization: `Bearer ${tokenFor({ sub: 'scale-out' })}` };

function call(base: string, method: string, path: string, body?: unknown): Promise<ApiResponse> {
  return api(method, path, body, auth, { baseUrl: base });
}

/** Ledger calls (local activities, ADR 0018) the API at `base` has run, from its Temporal worker metrics. */
async function apiLedgerCalls(base: string): Promise<number> {
  return valueOf(parseSamples(await scrape(`${base}/metrics`)), 'temporal_local_activity_execution_latency_seconds_count') ?? 0;
}

/** True once control process `pid` polls the control queue for activities (its worker's identity is control:pid@host). */
async function pollsControlQueue(pid: number): Promise<true | undefined> {
  const connection = await Connection.connect({ address: env.temporalAddress });
  try {
    const { pollers } = await connection.workflowService.describeTaskQueue({
      namespace: env.processEnv.TEMPORAL_NAMESPACE ?? 'default',
      taskQueue: { name: CONTROL_TASK_QUEUE },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    });
    return pollers.some((poller) => poller.identity?.startsWith(`control:${pid}@`)) ? true : undefined;
  } finally {
    await connection.close();
  }
}

describe('two api and two control processes on one Postgres and one Temporal', () => {
  beforeAll(async () => {
    stack(env, 'start-replica', 'api', '2');
    stack(env, 'start-replica', 'control', '2');
    // A control process bundles the workflow code before it polls: tens of seconds on a busy machine.
    const pid = stackPid(env, 'control-2');
    await poll('control-2 polling the control queue', () => pollsControlQueue(pid), { timeoutMs: 120_000 });
  }, 180_000);

  afterAll(() => {
    stack(env, 'stop-replica', 'control', '2');
    stack(env, 'stop-replica', 'api', '2');
  });

  it('runs every job once whichever API took it, spreads the workflow work, and never double-books', async () => {
    const apis = [env.apiUrl, SECOND_API];
    const before = await Promise.all(apis.map(apiLedgerCalls));
    const bodies = Array.from({ length: 24 }, (_, i) =>
      i % 3 === 0
        ? { task_type: 'gpu_demo', params: { seconds: 0.2, matrix_size: 8 }, gpu: 1 }
        : i % 3 === 1
          ? { task_type: 'sleep', params: { seconds: 0.2 }, gpu: 2 }
          : { task_type: 'sleep', params: { seconds: 0.1 } },
    );
    const submitted = await Promise.all(
      bodies.map(async (body, i) => {
        const { status, body: job } = await call(apis[i % 2], 'POST', '/v1/jobs', body);
        expect(status).toBe(202);
        return job.id as string;
      }),
    );

    // Each job awaited through the API that did not take it (the long-poll answers from the shared ledger).
    const finals = await Promise.all(
      submitted.map(async (id, i) => {
        for (;;) {
          const { status, body } = await call(apis[(i + 1) % 2], 'GET', `/v1/jobs/${id}?wait=20`);
          expect(status).toBe(200);
          if (TERMINAL.includes(body.state)) return body;
        }
      }),
    );
    expect(finals.map((job) => job.state)).toEqual(submitted.map(() => 'SUCCEEDED'));
    // Each API ran the workflows of the jobs it took, and their ledger calls; both control processes poll beside them.
    const after = await Promise.all(apis.map(apiLedgerCalls));
    expect(after.map((calls, i) => calls > before[i])).toEqual([true, true]);
    for (const name of ['control', 'control-2']) expect(await pollsControlQueue(stackPid(env, name))).toBe(true);

    const dataSource = createDataSource(env.databaseUrl, 2);
    await dataSource.initialize();
    try {
      expect(await ledgerInvariantViolations(dataSource)).toEqual({});
      // Over the whole history, no GPU id was held by two of these jobs' attempts at the same time.
      const overlaps = await dataSource.query(
        `SELECT a.id AS first, b.id AS second FROM job_assignments a JOIN job_assignments b
           ON a.node_id = b.node_id AND a.id < b.id AND a.gpu_ids && b.gpu_ids
          AND tstzrange(a.created_at, coalesce(a.ended_at, 'infinity')) && tstzrange(b.created_at, coalesce(b.ended_at, 'infinity'))
         WHERE a.job_id = ANY($1) OR b.job_id = ANY($1)`,
        [submitted],
      );
      expect(overlaps).toEqual([]);
    } finally {
      await dataSource.destroy();
    }
  });

  it('keeps every node live through the second API while the first is down for longer than the dead-after (ADR 0053)', async () => {
    // The stack's nodes list both APIs (MLIS_NODE_API_URLS), the first preferred.
    const deadAfterSeconds = Number(env.processEnv.MLIS_NODE_DEAD_AFTER_SECONDS);
    const incarnations = () =>
      withDb(async (db) => (await db.query(`SELECT id, incarnation, status FROM nodes WHERE id = ANY($1::text[]) ORDER BY id`, [STACK_NODE_IDS])).rows);
    // Every node registered and heartbeating first, whatever the specs before left.
    await stackNodesLive();
    const before = await incarnations();

    stack(env, 'stop-replica', 'api', '1');
    try {
      // Heard from past the point where a node silent since the stop would have been marked DEAD.
      await stackNodesLive(deadAfterSeconds + 1, 30_000);
      // The same incarnations and statuses: none was declared DEAD and registered again.
      expect(await incarnations()).toEqual(before);

      // And a job runs meanwhile, taken and awaited by the second API.
      const { status, body: job } = await call(SECOND_API, 'POST', '/v1/jobs', { task_type: 'sleep', params: { seconds: 0.1 } });
      expect(status).toBe(202);
      const { body: final } = await call(SECOND_API, 'GET', `/v1/jobs/${job.id}?wait=30`);
      expect(final.state).toBe('SUCCEEDED');
    } finally {
      stack(env, 'start-replica', 'api', '1');
      // Should this spec fail, the next finds every node placeable all the same.
      await stackNodesLive();
    }
  });

  it("opens the console's change stream on either API with a ticket the other issued, once; an expired ticket on neither", async () => {
    const ticketFrom = async (base: string): Promise<string> => {
      const { status, body } = await call(base, 'POST', '/v1/stream/tickets');
      expect(status).toBe(201);
      return body.ticket as string;
    };
    const ticket = await ticketFrom(env.apiUrl);
    // Kept by its SHA-256 only: the table never holds a usable ticket.
    const stored = await withDb(async (db) => (await db.query(`SELECT encode(ticket_sha256, 'hex') AS key FROM stream_tickets`)).rows.map((row) => row.key as string));
    expect(stored).toContain(createHash('sha256').update(ticket).digest('hex'));
    expect(stored.join()).not.toContain(ticket);

    const stream = await fetch(`${SECOND_API}/v1/stream?ticket=${ticket}`);
    expect({ status: stream.status, type: stream.headers.get('content-type') }).toEqual({ status: 200, type: 'text/event-stream' });
    await stream.body?.cancel();
    for (const base of [env.apiUrl, SECOND_API]) expect((await fetch(`${base}/v1/stream?ticket=${ticket}`)).status).toBe(401);

    // Expiry is the database's clock, the same for every replica.
    const expiring = await ticketFrom(SECOND_API);
    await withDb((db) => db.query(`UPDATE stream_tickets SET expires_at = now() - interval '1 second' WHERE ticket_sha256 = $1`, [createHash('sha256').update(expiring).digest()]));
    expect((await fetch(`${env.apiUrl}/v1/stream?ticket=${expiring}`)).status).toBe(401);
  });
});
