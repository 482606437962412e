import { sign } from 'jsonwebtoken';
import request from 'supertest';
import { SCOPES, USER_TOKEN_TYPE, type UserTokenClaims } from '@mlis/auth';
import type { TokenRevocation } from '@mlis/db';
import { createTestApp, type TestApp } from '../testing/test-app';
import { TokenRevocations } from './token-revocations';
import { TokenRevocationsController } from './token-revocations.controller';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe(TokenRevocationsController.name, () => {
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());
  const admin = () => bearer(t.userToken({ sub: 'root', scope: 'admin:tenants' }));
  /** A token of `claims` whose `iat` is `iat` (epoch seconds), or that has none. */
  const tokenIssuedAt = (iat: number | null, claims: Partial<UserTokenClaims> = {}) =>
    sign({ sub: 'alice', tenant: 'default', scope: SCOPES.join(' '), ...claims, ...(iat === null ? {} : { iat }) }, t.secret, {
      algorithm: 'HS256',
      header: { alg: 'HS256', typ: USER_TOKEN_TYPE },
      issuer: t.config.auth.issuer,
      audience: t.config.auth.audience,
      expiresIn: 3600,
      notBefore: 0,
      noTimestamp: iat === null,
    });

  beforeEach(async () => {
    t = await createTestApp({}, { auth: 'real' });
  });

  afterEach(async () => {
    await t.app.close();
  });

  it("refuses the holder's tokens issued up to the revocation, at once and audited; later tokens and other holders pass", async () => {
    const old = t.userToken({ sub: 'alice' });
    await http().get('/v1/auth/whoami').set(bearer(old)).expect(200);

    const revoked = await http().post('/v1/auth/revocations').set(admin()).set('X-Request-ID', 'req-revoke').send({ tenant_id: 'default', subject: 'alice' }).expect(201);
    expect(revoked.body).toEqual({ tenant_id: 'default', subject: 'alice', revoked_at: expect.any(String), revoked_by: 'default/root' });
    const cutoff = Math.floor(Date.parse(revoked.body.revoked_at) / 1000);

    const refused = await http().get('/v1/auth/whoami').set(bearer(old)).set('X-Request-ID', 'req-refused').expect(401);
    expect(refused.body.error).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('revoked') });
    // Issued in the very second of the revocation, or with no iat to tell: refused too.
    await http().get('/v1/auth/whoami').set(bearer(tokenIssuedAt(cutoff))).expect(401);
    await http().get('/v1/auth/whoami').set(bearer(tokenIssuedAt(null))).expect(401);
    // Issued after it; another holder; the same subject in another tenant.
    await http().get('/v1/auth/whoami').set(bearer(tokenIssuedAt(cutoff + 1))).expect(200);
    await http().get('/v1/auth/whoami').set(bearer(t.userToken({ sub: 'bob' }))).expect(200);
    await http().get('/v1/auth/whoami').set(bearer(t.userToken({ sub: 'alice', tenant: 'other' }))).expect(200);

    const rows = (id: string) =>
      t.audit.events.filter((e) => e.requestId === id).map((e) => [e.action, e.result, e.actorSubject, e.targetTenant, e.resource, e.reason]);
    expect(rows('req-revoke')).toEqual([['token.revoke', 'allow', 'root', 'default', 'user/alice', null]]);
    expect(rows('req-refused')).toEqual([['auth.user_token', 'deny', 'alice', 'default', 'GET /v1/auth/whoami', 'token_revoked']]);

    expect((await http().get('/v1/auth/revocations').set(admin()).expect(200)).body).toEqual({ items: [revoked.body] });
  });

  it('a revocation made elsewhere (another replica) applies here once the list is read again', async () => {
    const token = t.userToken({ sub: 'carol' });
    await t.tokenRevocations.revoke('default', 'carol', 'default/elsewhere', async () => undefined);
    await http().get('/v1/auth/whoami').set(bearer(token)).expect(200);
    // What the periodic read does (every REVOCATION_REFRESH_MS).
    await t.app.get(TokenRevocations).refresh();
    await http().get('/v1/auth/whoami').set(bearer(token)).expect(401);
  });

  it('a revocation made here while a read of the list is under way outlives that read, which may not have seen it', async () => {
    const token = t.userToken({ sub: 'dave' });
    const snapshot = await t.tokenRevocations.list();
    let answer: (rows: TokenRevocation[]) => void = () => undefined;
    jest.spyOn(t.tokenRevocations, 'list').mockReturnValueOnce(new Promise((resolve) => (answer = resolve)));
    const reading = t.app.get(TokenRevocations).refresh();
    await http().post('/v1/auth/revocations').set(admin()).send({ tenant_id: 'default', subject: 'dave' }).expect(201);
    // The read answers with the list as it was before the revocation committed.
    answer(snapshot);
    await reading;
    await http().get('/v1/auth/whoami').set(bearer(token)).expect(401);
  });

  it('needs admin:tenants, and refuses a malformed holder with 400 and nothing revoked', async () => {
    await http().post('/v1/auth/revocations').send({ tenant_id: 'default', subject: 'alice' }).expect(401);
    await http().post('/v1/auth/revocations').set(bearer(t.userToken({ scope: 'jobs:read admin:audit' }))).send({ tenant_id: 'default', subject: 'alice' }).expect(403);
    await http().get('/v1/auth/revocations').set(bearer(t.userToken({ scope: 'jobs:read' }))).expect(403);
    for (const body of [{ tenant_id: 'Default', subject: 'alice' }, { tenant_id: 'default', subject: '' }, { tenant_id: 'default', subject: 'a\nb' }, { tenant_id: 'default' }, { subject: 'x'.repeat(257), tenant_id: 'default' }]) {
      const response = await http().post('/v1/auth/revocations').set(admin()).send(body);
      expect({ body, status: response.status, code: response.body.error?.code }).toEqual({ body, status: 400, code: 'validation_failed' });
    }
    expect(t.tokenRevocations.revocations.size).toBe(0);
  });
});
