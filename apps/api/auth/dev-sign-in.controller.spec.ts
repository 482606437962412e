import request from 'supertest';
import { verify } from 'jsonwebtoken';
import { createTestApp, type TestApp } from '../testing/test-app';

describe('dev sign-in (POST /v1/auth/dev-token)', () => {
  let t: TestApp;

  afterEach(async () => {
    await t.app.close();
  });

  it('mints a user token the API then accepts, with exactly the asked tenant, user and scopes', async () => {
    t = await createTestApp({}, { auth: 'real' });
    const http = request(t.app.getHttpServer());
    const minted = await http.post('/v1/auth/dev-token').send({ tenant: 'team-a', user: 'ops', scopes: ['jobs:read'], ttl_seconds: 600 }).expect(200);
    const claims = verify(minted.body.token, t.secret, { algorithms: ['HS256'] }) as Record<string, unknown>;
    expect(claims).toMatchObject({ sub: 'ops', tenant: 'team-a', scope: 'jobs:read' });
    expect(claims.mlis_cross_tenant).toBeUndefined();
    expect(Date.parse(minted.body.expires_at) - Date.now()).toBeGreaterThan(590_000);
    const whoami = await http.get('/v1/auth/whoami').set('Authorization', `Bearer ${minted.body.token}`).expect(200);
    expect(whoami.body).toMatchObject({ subject: 'ops', tenant: 'team-a', scopes: ['jobs:read'], cross_tenant: false });
    expect((await http.get('/ui/api/console-config').expect(200)).body.dev_sign_in).toBe(true);
  });

  it('refuses unknown scopes, a bad tenant and a too-long lifetime with 400 validation_failed', async () => {
    t = await createTestApp({}, { auth: 'real' });
    const response = await request(t.app.getHttpServer())
      .post('/v1/auth/dev-token')
      .send({ tenant: 'Bad Tenant', user: 'ops', scopes: ['root'], ttl_seconds: 10 * 24 * 3600 })
      .expect(400);
    expect(response.body.error.code).toBe('validation_failed');
    expect(response.body.error.details.map((d: { field: string }) => d.field).sort()).toEqual(['scopes', 'tenant', 'ttl_seconds']);
  });

  it('does not exist when tokens come from a JWKS, nor when switched off', async () => {
    const envs: Record<string, string>[] = [{ MLIS_AUTH_JWKS_URL: 'https://idp.example.com/jwks.json' }, { MLIS_CONSOLE_DEV_SIGN_IN: 'false' }];
    for (const env of envs) {
      t = await createTestApp(env, { auth: 'real' });
      const http = request(t.app.getHttpServer());
      expect((await http.post('/v1/auth/dev-token').send({ tenant: 'a', user: 'b', scopes: [] })).status).toBe(404);
      expect((await http.get('/ui/api/console-config').expect(200)).body.dev_sign_in).toBe(false);
      await t.app.close();
    }
    t = await createTestApp();
  });
});
