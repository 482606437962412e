import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { api, env, poll, submit, tokenFor, waitForJob, withDb } from './support/api';
import { ROOT } from './support/stack-env';

// Append-only audit log: enforced by Postgres for the application's own role, and readable through GET /v1/audit.

const RUN = Date.now().toString(36);

async function auditRows(query: Record<string, string>): Promise<any[]> {
  const { status, body } = await api('GET', `/v1/audit?${new URLSearchParams(query).toString()}`);
  expect(status).toBe(200);
  return body.items;
}

describe('audit_events immutability', () => {
  it('the role the API connects as does not own audit_events and may only insert and read it', async () => {
    await withDb(async (db) => {
      const { rows } = await db.query(
        `SELECT current_user AS me, tableowner FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'audit_events'`,
      );
      // The connection is the stack's databaseUrl, the same role as the API; migrations ran as the owner.
      expect(rows[0].tableowner).not.toBe(rows[0].me);
      const rights = await db.query(
        `SELECT p AS privilege, has_table_privilege(current_user, 'audit_events', p) AS granted
         FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER', 'REFERENCES']) AS p`,
      );
      expect(Object.fromEntries(rights.rows.map((r) => [r.privilege, r.granted]))).toEqual({
        SELECT: true,
        INSERT: true,
        UPDATE: false,
        DELETE: false,
        TRUNCATE: false,
        TRIGGER: false,
        REFERENCES: false,
      });
      await db.query(
        `INSERT INTO audit_events (request_id, action, resource, result) VALUES ($1, 'test.marker', 'test', 'allow')`,
        [`it-immutable-${RUN}`],
      );
      for (const statement of [
        `UPDATE audit_events SET reason = 'rewritten' WHERE request_id = 'it-immutable-${RUN}'`,
        `DELETE FROM audit_events WHERE request_id = 'it-immutable-${RUN}'`,
        `TRUNCATE audit_events`,
        // Only the owner may touch the triggers that keep the table append-only, or drop it.
        `ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete`,
        `ALTER TABLE audit_events DISABLE TRIGGER ALL`,
        `DROP TRIGGER audit_events_no_update_delete ON audit_events`,
        `DROP TABLE audit_events`,
      ]) {
        await expect(db.query(statement)).rejects.toMatchObject({ code: '42501' });
      }
      const after = await db.query(`SELECT reason FROM audit_events WHERE request_id = $1`, [`it-immutable-${RUN}`]);
      expect(after.rows).toEqual([{ reason: null }]);
      const triggers = await db.query(
        `SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal ORDER BY tgname`,
      );
      expect(triggers.rows).toEqual([
        { tgname: 'audit_events_no_truncate', tgenabled: 'O' },
        { tgname: 'audit_events_no_update_delete', tgenabled: 'O' },
      ]);
    });
  });

  it('refuses UPDATE, DELETE and TRUNCATE even for the owner, by trigger', async () => {
    await withDb(async (db) => {
      await db.query(
        `INSERT INTO audit_events (request_id, action, resource, result) VALUES ($1, 'test.marker', 'test', 'allow')`,
        [`it-owner-${RUN}`],
      );
      for (const statement of [
        `UPDATE audit_events SET reason = 'rewritten' WHERE request_id = 'it-owner-${RUN}'`,
        `DELETE FROM audit_events WHERE request_id = 'it-owner-${RUN}'`,
        `TRUNCATE audit_events`,
      ]) {
        await expect(db.query(statement)).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/append-only/) });
      }
    }, 'owner');
  });
});

describe('audit rows for state changes', () => {
  it('records submit and cancel as allow rows carrying the X-Request-ID of each request', async () => {
    const submitId = `it-audit-submit-${RUN}`;
    const job = await submit({ task_type: 'sleep', params: { seconds: 60 } }, { 'X-Request-ID': submitId });
    const cancelId = `it-audit-cancel-${RUN}`;
    const cancel = await api('POST', `/v1/jobs/${job.id}/cancel`, undefined, { 'X-Request-ID': cancelId });
    expect(cancel.status).toBe(202);
    await waitForJob(job.id, (j) => j.state === 'CANCELLED');

    const submitted = (await auditRows({ action: 'job.submit', result: 'allow' })).filter((e) => e.request_id === submitId);
    expect(submitted).toEqual([
      expect.objectContaining({
        request_id: submitId,
        action: 'job.submit',
        result: 'allow',
        resource: `job/${job.id}`,
        actor_tenant: 'default',
        actor_subject: 'it-user',
        target_tenant: 'default',
        reason: null,
      }),
    ]);
    const cancelled = (await auditRows({ action: 'job.cancel' })).filter((e) => e.request_id === cancelId);
    expect(cancelled).toEqual([
      expect.objectContaining({ request_id: cancelId, result: 'allow', resource: `job/${job.id}`, target_tenant: 'default' }),
    ]);
  });
});

describe('denials past MLIS_AUDIT_DENIALS_PER_MINUTE (ADR 0040)', () => {
  it('a second API writes the first 3 of a kind, then one summary counting the rest when it stops; a 429 loop likewise', async () => {
    const base = `http://127.0.0.1:${Number(env.processEnv.MLIS_API_PORT) + 12}`;
    const child = spawn('node', [join(ROOT, 'dist/apps/api/main.js')], {
      env: { ...process.env, ...env.processEnv, MLIS_API_PORT: new URL(base).port, MLIS_AUDIT_DENIALS_PER_MINUTE: '3' },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const tenant = `flood-${RUN}`;
    try {
      await poll('the second API ready', async () => ((await fetch(`${base}/health/ready`)).ok ? true : undefined), { timeoutMs: 60_000 });
      expect((await api('POST', '/v1/tenants', { id: tenant, submit_rate_per_minute: 1 })).status).toBe(201);
      const tenantToken = { authorization: `Bearer ${tokenFor({ tenant, sub: `${tenant}-user`, scopes: ['jobs:submit', 'jobs:read'] })}` };

      // Ten requests with a bad token, and a client that keeps submitting past its tenant's rate: 1 accepted, then 429s.
      for (let i = 1; i <= 10; i += 1) {
        const { status } = await api('GET', '/v1/jobs', undefined, { authorization: 'Bearer not-a-jwt', 'X-Request-ID': `bad-${RUN}-${i}` }, { baseUrl: base });
        expect(status).toBe(401);
      }
      const submissions: number[] = [];
      for (let i = 1; i <= 8; i += 1) {
        const job = { task_type: 'sleep', params: { seconds: 0.01 } };
        submissions.push((await api('POST', '/v1/jobs', job, { ...tenantToken, 'X-Request-ID': `over-${RUN}-${i}` }, { baseUrl: base })).status);
      }
      expect(submissions).toEqual([202, 429, 429, 429, 429, 429, 429, 429]);

      const rowsOf = (prefix: string) =>
        withDb(async (db) => {
          const { rows } = await db.query(
            `SELECT request_id, action, resource, reason, actor_subject, occurrences FROM audit_events WHERE result = 'deny' AND request_id LIKE $1 ORDER BY id`,
            [`${prefix}-${RUN}-%`],
          );
          return rows.map((r) => [r.request_id, r.action, r.resource, r.reason, r.actor_subject, r.occurrences]);
        });
      const badToken = (i: number, occurrences = 1) => [`bad-${RUN}-${i}`, 'auth.user_token', 'GET /v1/jobs', 'malformed_token', null, occurrences];
      const overRate = (i: number, occurrences = 1) => [`over-${RUN}-${i}`, 'job.submit', 'jobs', 'rate_limited', `${tenant}-user`, occurrences];
      expect(await rowsOf('bad')).toEqual([badToken(1), badToken(2), badToken(3)]);
      expect(await rowsOf('over')).toEqual([overRate(2), overRate(3), overRate(4)]);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);

      // The summaries: how many more were refused, with the last one's request id.
      expect(await rowsOf('bad')).toEqual([badToken(1), badToken(2), badToken(3), badToken(10, 7)]);
      expect(await rowsOf('over')).toEqual([overRate(2), overRate(3), overRate(4), overRate(8, 4)]);
      const listed = await auditRows({ action: 'job.submit', result: 'deny', actor_tenant: tenant });
      expect(listed[0]).toMatchObject({ request_id: `over-${RUN}-8`, reason: 'rate_limited', occurrences: 4 });
      expect(listed.slice(1).map((e) => e.occurrences)).toEqual([1, 1, 1]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('GET /v1/audit', () => {
  const tenant = `audit-${RUN}`;

  beforeAll(async () => {
    // One create and four limit changes: five rows whose target is this tenant.
    expect((await api('POST', '/v1/tenants', { id: tenant, max_queued_jobs: 10 })).status).toBe(201);
    for (let rate = 1; rate <= 4; rate += 1) {
      expect((await api('PATCH', `/v1/tenants/${tenant}`, { submit_rate_per_minute: rate })).status).toBe(200);
    }
  });

  it('filters by action, result, target tenant and time', async () => {
    const all = await auditRows({ target_tenant: tenant });
    expect(all.map((e) => e.action)).toEqual(['tenant.update', 'tenant.update', 'tenant.update', 'tenant.update', 'tenant.create']);
    expect(all[0].reason).toBe('submit_rate_per_minute=4');
    expect(all.every((e) => e.resource === `tenant/${tenant}` && e.result === 'allow' && e.actor_tenant === 'default')).toBe(true);

    expect(await auditRows({ target_tenant: tenant, action: 'tenant.create' })).toHaveLength(1);
    expect(await auditRows({ target_tenant: tenant, result: 'deny' })).toEqual([]);
    const oldest = all[all.length - 1].at;
    expect(await auditRows({ target_tenant: tenant, until: oldest })).toEqual([]);
    expect(await auditRows({ target_tenant: tenant, since: all[0].at })).toHaveLength(1);
    expect(await auditRows({ target_tenant: tenant, since: new Date(Date.now() + 3_600_000).toISOString() })).toEqual([]);
  });

  it('pages newest first with an opaque cursor, without gaps or repeats', async () => {
    const all = await auditRows({ target_tenant: tenant });
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const { status, body } = await api('GET', `/v1/audit?${new URLSearchParams({ target_tenant: tenant, limit: '2', ...(cursor ? { cursor } : {}) }).toString()}`);
      expect(status).toBe(200);
      expect(body.items.length).toBeLessThanOrEqual(2);
      seen.push(...body.items.map((e: any) => e.id));
      cursor = body.next_cursor ?? undefined;
      pages += 1;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(all.map((e) => e.id));
    expect([...seen].sort((a, b) => Number(b) - Number(a))).toEqual(seen);
  });

  it('answers 400 for a cursor it did not issue and for bad filters', async () => {
    for (const query of ['cursor=bm9wZQ', 'result=maybe', 'since=yesterday', 'limit=0', 'unknown=1']) {
      const { status, body } = await api('GET', `/v1/audit?${query}`);
      expect({ query, status, code: body.error?.code }).toEqual({ query, status: 400, code: 'validation_failed' });
    }
  });

  it('needs the admin:audit scope', async () => {
    const token = tokenFor({ scopes: ['jobs:read', 'admin:tenants'] });
    const { status, body, headers } = await api('GET', '/v1/audit', undefined, { authorization: `Bearer ${token}` });
    expect(status).toBe(403);
    expect(body.error.code).toBe('forbidden');
    const none = await api('GET', '/v1/audit', undefined, {}, { auth: false });
    expect(none.status).toBe(401);
    // The denial itself is audited, with the request's id.
    const requestId = headers.get('x-request-id');
    const denied = await poll(
      'the audit row of the 403',
      async () => (await auditRows({ result: 'deny', actor_tenant: 'default' })).find((e) => e.request_id === requestId),
      { timeoutMs: 5_000 },
    );
    expect(denied).toMatchObject({ actor_subject: 'it-user', result: 'deny' });
  });
});

describe('GET /v1/audit/export', () => {
  type Page = { items: { id: string; request_id: string }[]; next_cursor: string | null; has_more: boolean };
  const exportPage = async (cursor: string | null, limit = 5000): Promise<Page> => {
    const query = new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) });
    const { status, body } = await api('GET', `/v1/audit/export?${query.toString()}`);
    expect(status).toBe(200);
    return body as Page;
  };
  /** Follows the feed from `cursor` until nothing more is ready; returns what it read and where it stopped. */
  const drain = async (cursor: string | null, limit = 5000): Promise<{ requestIds: string[]; cursor: string | null }> => {
    const requestIds: string[] = [];
    for (;;) {
      const page = await exportPage(cursor, limit);
      requestIds.push(...page.items.map((item) => item.request_id));
      cursor = page.next_cursor;
      if (!page.has_more) return { requestIds, cursor };
    }
  };
  const insert = (db: { query: (sql: string, params: unknown[]) => Promise<unknown> }, requestId: string) =>
    db.query(`INSERT INTO audit_events (request_id, action, resource, result) VALUES ($1, 'test.export', 'test', 'allow')`, [requestId]);

  it('holds back an event committed after a later one, then exports both, in order, once; never one rolled back', async () => {
    const start = (await drain(null)).cursor;
    const [early, late, rolledBack] = ['early', 'late', 'rolled-back'].map((name) => `it-export-${name}-${RUN}`);
    await withDb(async (slow) => {
      // A transaction writes its audit row first (the lower id) but commits last, as a slow submission might.
      await slow.query('BEGIN');
      await insert(slow, early);
      await withDb(async (db) => {
        await insert(db, late);
        await db.query('BEGIN');
        await insert(db, rolledBack);
        await db.query('ROLLBACK');
      });
      // Paging by id shows the later event already; the export holds it back behind the open transaction.
      expect((await auditRows({ action: 'test.export' })).map((e) => e.request_id)).toContain(late);
      const meanwhile = await drain(start);
      expect(meanwhile.requestIds).not.toContain(late);
      expect(meanwhile.requestIds).not.toContain(early);
      await slow.query('COMMIT');
    });
    // Other transactions of the stack may hold the horizon for a moment: poll, one event a page, from the same cursor.
    const exported = await poll('both events exported', async () => {
      const read = await drain(start, 1);
      return read.requestIds.includes(late) && read.requestIds.includes(early) ? read.requestIds : undefined;
    });
    const ours = exported.filter((id) => id.startsWith('it-export-'));
    expect(ours).toEqual([early, late]);
    expect(new Set(exported).size).toBe(exported.length);
    expect(exported).not.toContain(rolledBack);
  });

  it('keeps the numeric order of ids within one transaction, across a power of ten, one event a page', async () => {
    const start = (await drain(null)).cursor;
    const batch = Array.from({ length: 4 }, (_, i) => `it-export-batch-${i}-${RUN}`);
    await withDb(async (db) => {
      // The next ids cross a power of ten (…98, …99, …00, …01): as text, the last two would sort first.
      // Above the last id the sequence handed out (rows in flight included), so no id is handed out twice.
      const [{ last }] = (await db.query(`SELECT last_value::text AS last FROM audit_events_id_seq`)).rows as { last: string }[];
      let power = 10n ** BigInt(last.length);
      if (power - 3n <= BigInt(last)) power *= 10n;
      await db.query(`SELECT setval('audit_events_id_seq', $1)`, [String(power - 3n)]);
    }, 'owner');
    await withDb(async (db) => {
      await db.query('BEGIN');
      for (const requestId of batch) await insert(db, requestId);
      await db.query('COMMIT');
    });
    const exported = await poll('the batch exported', async () => {
      const read = await drain(start, 1);
      return batch.every((id) => read.requestIds.includes(id)) ? read.requestIds : undefined;
    });
    expect(exported.filter((id) => id.startsWith('it-export-batch-'))).toEqual(batch);
    expect(new Set(exported).size).toBe(exported.length);
  });

  it('answers 400 for a cursor it did not issue', async () => {
    const { status, body } = await api('GET', '/v1/audit/export?cursor=12');
    expect(status).toBe(400);
    expect(body.error.code).toBe('validation_failed');
  });
});
