import request from 'supertest';
import { createTestApp, type TestApp } from '../testing/test-app';
import { AuditController } from './audit.controller';
import { encodeAuditCursor } from './audit-cursor';

function event(n: number, overrides: Record<string, unknown> = {}) {
  return {
    requestId: `r${n}`,
    actorTenant: 'default',
    actorSubject: 'alice',
    targetTenant: 'default',
    action: n % 2 === 0 ? 'job.submit' : 'job.cancel',
    resource: `job/${n}`,
    result: 'allow' as const,
    reason: null,
    ...overrides,
  };
}

describe(AuditController.name, () => {
  let t: TestApp;

  afterEach(async () => {
    await t.app.close();
  });

  const http = () => request(t.app.getHttpServer());

  describe('with a caller holding every scope', () => {
    beforeEach(async () => {
      t = await createTestApp();
      for (let n = 1; n <= 5; n += 1) await t.audit.record(event(n));
      await t.audit.record(event(6, { result: 'deny', reason: 'missing_scope', actorTenant: 'other', occurrences: 12 }));
    });

    it('pages newest first with an opaque cursor', async () => {
      const first = await http().get('/v1/audit?limit=4').expect(200);
      expect(first.body.items.map((e: { request_id: string }) => e.request_id)).toEqual(['r6', 'r5', 'r4', 'r3']);
      expect(first.body.next_cursor).toBe(encodeAuditCursor('3'));
      const second = await http().get(`/v1/audit?limit=4&cursor=${first.body.next_cursor}`).expect(200);
      expect(second.body.items.map((e: { request_id: string }) => e.request_id)).toEqual(['r2', 'r1']);
      expect(second.body.next_cursor).toBeNull();
    });

    it('maps every column in snake_case', async () => {
      const response = await http().get('/v1/audit?result=deny').expect(200);
      expect(response.body.items).toEqual([
        {
          id: '6',
          at: expect.any(String),
          request_id: 'r6',
          actor_tenant: 'other',
          actor_subject: 'alice',
          target_tenant: 'default',
          action: 'job.submit',
          resource: 'job/6',
          result: 'deny',
          reason: 'missing_scope',
          occurrences: 12,
        },
      ]);
    });

    it('filters by action and actor tenant', async () => {
      const response = await http().get('/v1/audit?action=job.cancel&actor_tenant=default').expect(200);
      expect(response.body.items.map((e: { request_id: string }) => e.request_id)).toEqual(['r5', 'r3', 'r1']);
    });

    it('filters by exact resource (a job page shows its own events)', async () => {
      const response = await http().get('/v1/audit?resource=job/4').expect(200);
      expect(response.body.items.map((e: { request_id: string }) => e.request_id)).toEqual(['r4']);
    });

    it('refuses cursors it did not issue and malformed filters with 400', async () => {
      for (const query of ['cursor=abc', `cursor=${Buffer.from('a:-1').toString('base64url')}`, 'result=ok', 'until=tomorrow', 'since=2026-W01', 'limit=501', 'limit=%20', 'limit=1e1']) {
        const response = await http().get(`/v1/audit?${query}`);
        expect({ query, status: response.status, code: response.body.error?.code }).toEqual({ query, status: 400, code: 'validation_failed' });
      }
    });

    it('exports oldest first from a cursor, and hands the cursor back when nothing more is ready', async () => {
      const first = await http().get('/v1/audit/export?limit=4').expect(200);
      expect(first.body.items.map((e: { request_id: string }) => e.request_id)).toEqual(['r1', 'r2', 'r3', 'r4']);
      expect(first.body).toMatchObject({ next_cursor: '4.4', has_more: true });
      const second = await http().get(`/v1/audit/export?limit=4&cursor=${first.body.next_cursor}`).expect(200);
      expect(second.body.items.map((e: { request_id: string }) => e.request_id)).toEqual(['r5', 'r6']);
      expect(second.body).toMatchObject({ next_cursor: '6.6', has_more: false });
      expect(second.body.items[1]).toEqual({
        id: '6',
        at: expect.any(String),
        request_id: 'r6',
        actor_tenant: 'other',
        actor_subject: 'alice',
        target_tenant: 'default',
        action: 'job.submit',
        resource: 'job/6',
        result: 'deny',
        reason: 'missing_scope',
        occurrences: 12,
      });
      expect((await http().get('/v1/audit/export?cursor=6.6').expect(200)).body).toEqual({ items: [], next_cursor: '6.6', has_more: false });
      await t.audit.record(event(7));
      expect((await http().get('/v1/audit/export?cursor=6.6').expect(200)).body).toMatchObject({ items: [{ request_id: 'r7' }], next_cursor: '7.7' });
    });

    it('refuses export cursors it did not issue and bad page sizes with 400', async () => {
      for (const query of ['cursor=6', 'cursor=abc', 'cursor=1.0', 'cursor=-1.5', 'cursor=18446744073709551616.1', 'cursor=1.2.3', 'limit=0', 'limit=5001', 'limit=1e1']) {
        const response = await http().get(`/v1/audit/export?${query}`);
        expect({ query, status: response.status, code: response.body.error?.code }).toEqual({ query, status: 400, code: 'validation_failed' });
      }
      await http().get('/v1/audit/export?cursor=18446744073709551615.1').expect(200);
    });
  });

  describe('with the real token guard', () => {
    beforeEach(async () => {
      t = await createTestApp({}, { auth: 'real' });
    });

    it('needs a token with admin:audit', async () => {
      await http().get('/v1/audit').expect(401);
      const tenantsAdmin = t.userToken({ scope: 'admin:tenants' });
      await http().get('/v1/audit').set('Authorization', `Bearer ${tenantsAdmin}`).expect(403);
      const auditor = t.userToken({ scope: 'admin:audit' });
      await http().get('/v1/audit').set('Authorization', `Bearer ${auditor}`).expect(200);
      await http().get('/v1/audit/export').expect(401);
      await http().get('/v1/audit/export').set('Authorization', `Bearer ${tenantsAdmin}`).expect(403);
      await http().get('/v1/audit/export').set('Authorization', `Bearer ${auditor}`).expect(200);
    });
  });
});
