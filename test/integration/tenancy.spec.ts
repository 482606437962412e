// The cross-tenant matrix: every job route × every kind of caller, exact status per cell, and no body
// ever carries another tenant's data. Tenant A owns the target jobs; B is the other tenant.
import { randomUUID } from 'node:crypto';
import { mintWorkerToken } from '@mlis/auth';
import { api, authConfig, poll, stackDevSecret, tokenFor, withDb, type ApiResponse } from './support/api';

type Caller = 'own' | 'other' | 'other+capability' | 'worker' | 'none';
type Route = 'submit' | 'get' | 'list' | 'cancel' | 'result';

const suffix = randomUUID().slice(0, 8);
const A = `t3-a-${suffix}`;
const B = `t3-b-${suffix}`;
const JOB_SCOPES = ['jobs:submit', 'jobs:read', 'jobs:cancel'];
const LONG = { task_type: 'sleep', params: { seconds: 600 }, cpu: 0, mem_mb: 16 };

const tokens: Record<Exclude<Caller, 'none'>, string> = {
  own: tokenFor({ tenant: A, sub: 'alice', scopes: JOB_SCOPES }),
  other: tokenFor({ tenant: B, sub: 'bob', scopes: JOB_SCOPES }),
  'other+capability': tokenFor({ tenant: B, sub: 'operator', scopes: JOB_SCOPES, crossTenant: true }),
  worker: mintWorkerToken(stackDevSecret(), authConfig, { sub: 'node:cpu-1', node_id: 'cpu-1', incarnation: 1 }),
};

function call(caller: Caller, method: string, path: string, body?: unknown): Promise<ApiResponse> {
  const headers: Record<string, string> = caller === 'none' ? {} : { authorization: `Bearer ${tokens[caller]}` };
  return api(method, path, body, headers, { auth: caller !== 'none' });
}

/** The exact status of each cell. Submitting always creates a job in the caller's own tenant. */
const EXPECTED: Record<Route, Record<Caller, number>> = {
  submit: { own: 202, other: 202, 'other+capability': 202, worker: 401, none: 401 },
  get: { own: 200, other: 404, 'other+capability': 200, worker: 401, none: 401 },
  list: { own: 200, other: 200, 'other+capability': 200, worker: 401, none: 401 },
  cancel: { own: 202, other: 404, 'other+capability': 202, worker: 401, none: 401 },
  result: { own: 200, other: 404, 'other+capability': 200, worker: 401, none: 401 },
};
const CALLERS: Caller[] = ['own', 'other', 'other+capability', 'worker', 'none'];
const ROUTES: Route[] = ['submit', 'get', 'list', 'cancel', 'result'];

describe('tenancy: the cross-tenant matrix', () => {
  // Tenant A's jobs: one running to read, one finished (with a result), one per cancel cell.
  let running: string;
  let finished: string;
  const cancellable = new Map<Caller, string>();
  // Every id tenant A owns, to look for in the bodies B gets (and the reverse).
  const idsOf: Record<string, Set<string>> = { [A]: new Set(), [B]: new Set() };

  async function submitAs(caller: 'own' | 'other', job: Record<string, unknown>): Promise<string> {
    const { status, body } = await call(caller, 'POST', '/v1/jobs', job);
    if (status !== 202) throw new Error(`submit as ${caller}: ${status} ${JSON.stringify(body)}`);
    idsOf[body.tenant_id].add(body.id);
    return body.id;
  }

  beforeAll(async () => {
    for (const id of [A, B]) {
      const { status, body } = await api('POST', '/v1/tenants', { id, name: id });
      if (status !== 201) throw new Error(`creating tenant ${id}: ${status} ${JSON.stringify(body)}`);
    }
    // The short job first, so long ones never keep it from a slot.
    finished = await submitAs('own', { task_type: 'sleep', params: { seconds: 0.2 }, cpu: 0, mem_mb: 16 });
    await poll(`job ${finished} SUCCEEDED`, async () => {
      const { body } = await call('own', 'GET', `/v1/jobs/${finished}`);
      return body.state === 'SUCCEEDED' ? body : undefined;
    });
    running = await submitAs('own', LONG);
    for (const caller of CALLERS) cancellable.set(caller, await submitAs('own', LONG));
    await submitAs('other', LONG);
  }, 120_000);

  afterAll(async () => {
    // Leave no long job behind for the other specs' capacity.
    for (const id of [...idsOf[A], ...idsOf[B]]) {
      for (const caller of ['own', 'other'] as const) await call(caller, 'POST', `/v1/jobs/${id}/cancel`);
    }
  });

  /** The job id a route names in its path, if any: echoing the caller's own input back leaks nothing. */
  function targetOf(route: Route, caller: Caller): string | undefined {
    return { submit: undefined, list: undefined, get: running, cancel: cancellable.get(caller), result: finished }[route];
  }

  function request(route: Route, caller: Caller): Promise<ApiResponse> {
    switch (route) {
      case 'submit':
        return call(caller, 'POST', '/v1/jobs', LONG);
      case 'get':
        return call(caller, 'GET', `/v1/jobs/${running}`);
      case 'list':
        return call(caller, 'GET', caller === 'other+capability' ? `/v1/jobs?tenant=${A}&limit=100` : '/v1/jobs?limit=100');
      case 'cancel':
        return call(caller, 'POST', `/v1/jobs/${cancellable.get(caller)}/cancel`);
      case 'result':
        return call(caller, 'GET', `/v1/jobs/${finished}`);
    }
  }

  const cells = ROUTES.flatMap((route) => CALLERS.map((caller) => [route, caller, EXPECTED[route][caller]] as const));

  it.each(cells)('%s as %s -> %i', async (route, caller, expected) => {
    const response = await request(route, caller);
    expect([response.status, response.body?.error?.code ?? null]).toEqual([
      expected,
      expected === 401 ? 'unauthorized' : expected === 404 ? 'job_not_found' : null,
    ]);
    const target = targetOf(route, caller);
    const text = target === undefined ? JSON.stringify(response.body) : JSON.stringify(response.body).replaceAll(target, '<target>');
    // Callers without the capability never see tenant A's ids, name or users, nor A's callers B's.
    if (caller === 'other' || caller === 'worker' || caller === 'none') {
      for (const id of [...idsOf[A], A, 'alice']) expect(text).not.toContain(id);
    }
    if (caller === 'own') {
      for (const id of [...idsOf[B], B, 'bob', 'operator']) expect(text).not.toContain(id);
    }
    if (expected === 404) {
      // Word for word what an id that exists nowhere gets.
      const unknown = randomUUID();
      const nowhere = await call(caller, route === 'cancel' ? 'POST' : 'GET', `/v1/jobs/${unknown}${route === 'cancel' ? '/cancel' : ''}`);
      expect(nowhere.status).toBe(404);
      expect(nowhere.body.error.message.replace(unknown, '<target>')).toBe(response.body.error.message.replace(target ?? '', '<target>'));
    }
    if (route === 'submit' && expected === 202) {
      expect(response.body.tenant_id).toBe(caller === 'own' ? A : B);
      idsOf[response.body.tenant_id].add(response.body.id);
    }
    if (route === 'list' && expected === 200) {
      const tenants = new Set(response.body.items.map((job: { tenant_id: string }) => job.tenant_id));
      expect([...tenants]).toEqual([caller === 'other' ? B : A]);
      if (caller !== 'other') expect(response.body.items.map((job: { id: string }) => job.id)).toContain(running);
    }
    if (route === 'result' && expected === 200) expect(response.body.result).toEqual({ slept: 0.2 });
  });

  it("left tenant A's job un-cancelled where the other tenant tried, and audited each 404-by-tenant", async () => {
    const { body } = await call('own', 'GET', `/v1/jobs/${cancellable.get('other')}`);
    expect(['QUEUED', 'RUNNING']).toContain(body.state);
    const rows = await withDb(async (db) => {
      const { rows } = await db.query<{ action: string; resource: string; actor_subject: string; reason: string }>(
        `SELECT action, resource, actor_subject, reason FROM audit_events
         WHERE actor_tenant = $1 AND target_tenant = $2 AND result = 'deny' ORDER BY id`,
        [B, A],
      );
      return rows;
    });
    expect(rows).toEqual(
      expect.arrayContaining([
        { action: 'job.read', resource: `job/${running}`, actor_subject: 'bob', reason: 'other_tenant' },
        { action: 'job.cancel', resource: `job/${cancellable.get('other')}`, actor_subject: 'bob', reason: 'other_tenant' },
        { action: 'job.read', resource: `job/${finished}`, actor_subject: 'bob', reason: 'other_tenant' },
      ]),
    );
  });

  it('a listed other tenant without the capability is an empty page', async () => {
    const { status, body } = await call('other', 'GET', `/v1/jobs?tenant=${A}`);
    expect([status, body]).toEqual([200, { items: [], next_cursor: null }]);
  });
});
