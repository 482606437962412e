import { randomUUID } from 'node:crypto';
import { decode, verify, type JwtPayload } from 'jsonwebtoken';
import { api, authConfig, poll, stackBootstrapSecret, stackDevSecret, tokenFor, withDb } from './support/api';

// Nodes that no job can ever fit (1 millicore, 1 MiB), so the suite's other jobs never land on them;
// they are deleted again at the end.
const NODE_A = 'it-ident-a';
const NODE_B = 'it-ident-b';
const REGISTER = '/v1/internal/nodes/register';

function registration(nodeId: string): Record<string, unknown> {
  return { node_id: nodeId, group: 'cpu', hostname: 'it-host', pid: 4242, slots: 1, cpu_millis: 1, mem_mb: 1, gpus: [] };
}

interface AuditRow {
  action: string;
  result: 'allow' | 'deny';
  reason: string | null;
  resource: string;
  actor_subject: string | null;
}

/** A request id of our own, so the audit rows of one call can be found. */
function requestId(): string {
  return `it-ident-${randomUUID()}`;
}

async function auditRows(id: string, expected: number): Promise<AuditRow[]> {
  return poll(
    `${expected} audit row(s) for ${id}`,
    () =>
      withDb(async (db) => {
        const { rows } = await db.query<AuditRow>(
          'SELECT action, result, reason, resource, actor_subject FROM audit_events WHERE request_id = $1 ORDER BY id',
          [id],
        );
        return rows.length >= expected ? rows : undefined;
      }),
    { timeoutMs: 10_000 },
  );
}

async function register(nodeId: string, authorization?: string) {
  const id = requestId();
  const headers: Record<string, string> = { 'x-request-id': id };
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await api('POST', REGISTER, registration(nodeId), headers, { auth: authorization !== undefined });
  return { id, ...response };
}

async function heartbeat(nodeId: string, incarnation: number, authorization: string | null) {
  const id = requestId();
  const headers: Record<string, string> = { 'x-request-id': id };
  if (authorization !== null) headers.authorization = authorization;
  const response = await api('POST', `/v1/internal/nodes/${nodeId}/heartbeat`, { incarnation }, headers, { auth: authorization !== null });
  return { id, ...response };
}

describe('worker identity: bootstrap credential, worker tokens, token kinds kept apart', () => {
  jest.setTimeout(60_000);

  afterAll(async () => {
    await withDb((db) => db.query('DELETE FROM nodes WHERE id = ANY($1)', [[NODE_A, NODE_B]]));
  });

  it('refuses a registration without the bootstrap secret: 401, audited, before the body is even validated', async () => {
    const missing = await register(NODE_A);
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe('invalid_bootstrap_credential');
    expect(await auditRows(missing.id, 1)).toEqual([
      expect.objectContaining({ action: 'node.register', result: 'deny', reason: 'missing_bootstrap_credential', resource: `node/${NODE_A}` }),
    ]);

    const invalidBody = await api('POST', REGISTER, { node_id: 'NOT VALID' }, {}, { auth: false });
    expect(invalidBody.status).toBe(401);
  });

  it('refuses a wrong bootstrap secret and a user token on the register route', async () => {
    const wrong = await register(NODE_A, `Bearer ${'x'.repeat(64)}`);
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('invalid_bootstrap_credential');
    expect(JSON.stringify(wrong.body)).not.toContain('x'.repeat(64));
    expect(await auditRows(wrong.id, 1)).toEqual([
      expect.objectContaining({ action: 'node.register', result: 'deny', reason: 'invalid_bootstrap_credential' }),
    ]);

    const user = await register(NODE_A, `Bearer ${tokenFor()}`);
    expect(user.status).toBe(401);
    expect(user.body.error.code).toBe('invalid_bootstrap_credential');
    expect(await auditRows(user.id, 1)).toEqual([expect.objectContaining({ result: 'deny', reason: 'invalid_bootstrap_credential' })]);

    const { status, body } = await api('GET', '/v1/workers');
    expect(status).toBe(200);
    expect(body.items.map((n: { node_id: string }) => n.node_id)).not.toContain(NODE_A);
  });

  it('with the bootstrap secret, answers a worker token bound to the node incarnation, and audits registration and mint', async () => {
    const ok = await register(NODE_A, `Bearer ${stackBootstrapSecret()}`);
    expect(ok.status).toBe(200);
    const { worker_token: token, incarnation } = ok.body as { worker_token: string; incarnation: number };
    const verified = verify(token, stackDevSecret(), {
      algorithms: ['HS256'],
      issuer: authConfig.issuer,
      audience: authConfig.workerAudience,
      complete: true,
    });
    expect(verified.header.typ).toBe('mlis-worker+jwt');
    expect(verified.payload).toMatchObject({ sub: `node:${NODE_A}`, node_id: NODE_A, incarnation });
    const rows = await auditRows(ok.id, 2);
    expect(rows).toEqual([
      expect.objectContaining({ action: 'node.register', result: 'allow', resource: `node/${NODE_A}`, actor_subject: `node:${NODE_A}` }),
      expect.objectContaining({ action: 'token.mint', result: 'allow', resource: `node/${NODE_A}`, actor_subject: `node:${NODE_A}` }),
    ]);
    // The token is handed to the node once, never stored in the audit log.
    expect(JSON.stringify(rows)).not.toContain(token);
  });

  it('heartbeats only with the node’s own worker token: user token 401, none 401, another node’s 403', async () => {
    const a = await register(NODE_A, `Bearer ${stackBootstrapSecret()}`);
    const b = await register(NODE_B, `Bearer ${stackBootstrapSecret()}`);
    expect([a.status, b.status]).toEqual([200, 200]);
    const tokenA: string = a.body.worker_token;
    const tokenB: string = b.body.worker_token;
    expect((decode(tokenB) as JwtPayload).node_id).toBe(NODE_B);

    expect((await heartbeat(NODE_A, a.body.incarnation, `Bearer ${tokenA}`)).status).toBe(200);

    const none = await heartbeat(NODE_A, a.body.incarnation, null);
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');

    const user = await heartbeat(NODE_A, a.body.incarnation, `Bearer ${tokenFor({ scopes: ['admin:workers'] })}`);
    expect(user.status).toBe(401);
    expect(user.body.error.code).toBe('unauthorized');
    expect(await auditRows(user.id, 1)).toEqual([expect.objectContaining({ result: 'deny' })]);

    const other = await heartbeat(NODE_A, a.body.incarnation, `Bearer ${tokenB}`);
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('forbidden');

    // Bound to the incarnation too: node A's token for an older incarnation number is refused.
    const stale = await heartbeat(NODE_A, a.body.incarnation - 1, `Bearer ${tokenA}`);
    expect(stale.status).toBe(403);
    expect(await auditRows(other.id, 1)).toEqual([
      expect.objectContaining({ action: 'auth.worker_binding', result: 'deny', reason: 'other_node', actor_subject: `node:${NODE_B}` }),
    ]);
  });

  it('refuses a worker token on a user route', async () => {
    const a = await register(NODE_A, `Bearer ${stackBootstrapSecret()}`);
    const id = requestId();
    const response = await api('GET', '/v1/workers', undefined, { authorization: `Bearer ${a.body.worker_token}`, 'x-request-id': id });
    expect(response.status).toBe(401);
    expect(await auditRows(id, 1)).toEqual([expect.objectContaining({ result: 'deny' })]);
  });
});
