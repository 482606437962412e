import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import request from 'supertest';
import type { EntityManager } from 'typeorm';
import type { ArtifactStore } from '@mlis/artifacts';
import { ARTIFACT_STORE } from '../artifacts/artifacts.service';
import { TokenRevocations } from '../auth/token-revocations';
import { createTestApp, type TestApp } from '../testing/test-app';

describe('download links (/v1/artifacts/:id/download-link, /v1/jobs/:id/result/download-link, /v1/downloads)', () => {
  let t: TestApp;
  let http: ReturnType<TestApp['app']['getHttpServer']>;

  beforeEach(async () => {
    t = await createTestApp({}, { auth: 'real' });
    http = t.app.getHttpServer();
  });

  afterEach(() => t.app.close());

  async function artifact(tenantId: string, bytes: Buffer, name: string | null): Promise<string> {
    const stored = await t.app.get<ArtifactStore>(ARTIFACT_STORE).put(Readable.from([bytes]));
    const id = randomUUID();
    await t.artifacts.insert({} as EntityManager, {
      id,
      tenantId,
      name,
      contentType: 'application/octet-stream',
      sizeBytes: stored.sizeBytes,
      sha256: stored.sha256,
      createdBy: 'someone',
      expiresAt: null,
    });
    return id;
  }

  const bearer = (scope: string, sub = 'alice') => `Bearer ${t.userToken({ tenant: 'default', sub, scope })}`;

  /** The link's response body, with the ticket out of its URL. */
  async function linkTo(path: string, scope: string, sub = 'alice'): Promise<{ url: string; expires_at: string }> {
    return (await request(http).post(path).set('Authorization', bearer(scope, sub)).expect(201)).body as { url: string; expires_at: string };
  }

  it('downloads an artifact once, with no bearer token, as an attachment under its name; the link opens that download only', async () => {
    const bytes = Buffer.from('weights '.repeat(1000));
    const id = await artifact('default', bytes, 'model wéights.bin');
    const link = await linkTo(`/v1/artifacts/${id}/download-link`, 'artifacts:read');
    expect(link.url).toMatch(/^\/v1\/downloads\?ticket=[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(link.expires_at) - Date.now()).toBeGreaterThan(25_000);

    const response = await request(http).get(link.url).buffer(true).parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done(null, Buffer.concat(chunks)));
    });
    expect(response.status).toBe(200);
    expect((response.body as Buffer).equals(bytes)).toBe(true);
    expect(response.headers).toMatchObject({
      'content-type': 'application/octet-stream',
      'content-length': String(bytes.length),
      'content-disposition': `attachment; filename="model w_ights.bin"; filename*=UTF-8''model%20w%C3%A9ights.bin`,
      'cache-control': 'no-store',
    });

    const again = await request(http).get(link.url).expect(401);
    // A HEAD (a link checker's) is refused before it could spend a ticket.
    const unspent = await linkTo(`/v1/artifacts/${id}/download-link`, 'artifacts:read');
    const head = await request(http).head(unspent.url).expect(405);
    expect(head.headers.allow).toBe('GET');
    await request(http).get(unspent.url).expect(200);
    expect(again.body.error).toMatchObject({ code: 'unauthorized', message: 'download link unknown, used or expired: ask for a new one' });
    // A download link is no stream ticket, nor the other way round.
    const ticket = new URL((await linkTo(`/v1/artifacts/${id}/download-link`, 'artifacts:read')).url, 'http://x').searchParams.get('ticket');
    await request(http).get(`/v1/stream?ticket=${ticket}`).expect(401);
    const stream = (await request(http).post('/v1/stream/tickets').set('Authorization', bearer('jobs:read')).expect(201)).body.ticket as string;
    await request(http).get(`/v1/downloads?ticket=${stream}`).expect(401);
  });

  it("names an artifact without a name by its id, and downloads a job's whole result as result-<id>.json", async () => {
    const nameless = await artifact('default', Buffer.from('x'), null);
    const first = await request(http).get((await linkTo(`/v1/artifacts/${nameless}/download-link`, 'artifacts:read')).url).expect(200);
    expect(first.headers['content-disposition']).toBe(`attachment; filename="artifact-${nameless}"; filename*=UTF-8''artifact-${nameless}`);

    const job = randomUUID();
    t.jobs.seed({ id: job, state: 'SUCCEEDED', result: { labels: ['positive', 'negative'] } });
    const result = await request(http).get((await linkTo(`/v1/jobs/${job}/result/download-link`, 'jobs:read')).url).expect(200);
    expect(result.headers['content-type']).toMatch(/^application\/json/);
    expect(result.headers['content-disposition']).toBe(`attachment; filename="result-${job}.json"; filename*=UTF-8''result-${job}.json`);
    expect(JSON.parse(result.text)).toEqual({ labels: ['positive', 'negative'] });
  });

  it("refuses a link to what the caller may not read, before any ticket: another tenant's artifact or job, a result not there yet, a missing scope", async () => {
    const theirs = await artifact('other', Buffer.from('secret'), 'secret.bin');
    const refused = await request(http).post(`/v1/artifacts/${theirs}/download-link`).set('Authorization', bearer('artifacts:read')).expect(404);
    expect(refused.body.error.code).toBe('artifact_not_found');
    const running = randomUUID();
    t.jobs.seed({ id: running, state: 'RUNNING' });
    const early = await request(http).post(`/v1/jobs/${running}/result/download-link`).set('Authorization', bearer('jobs:read')).expect(409);
    expect(early.body.error.code).toBe('result_not_available');
    const other = randomUUID();
    t.jobs.seed({ id: other, tenantId: 'other', state: 'SUCCEEDED', result: { secret: true } });
    expect((await request(http).post(`/v1/jobs/${other}/result/download-link`).set('Authorization', bearer('jobs:read')).expect(404)).body.error.code).toBe(
      'job_not_found',
    );
    const mine = await artifact('default', Buffer.from('mine'), 'mine.bin');
    await request(http).post(`/v1/artifacts/${mine}/download-link`).set('Authorization', bearer('jobs:read')).expect(403);
    await request(http).post(`/v1/artifacts/${mine}/download-link`).expect(401);
    await request(http).get('/v1/downloads?ticket=nope').expect(401);
    await request(http).get('/v1/downloads').expect(400);
  });

  it('checks again when the link is opened: an artifact deleted since is 404, a link of a revoked token or an expired one is 401', async () => {
    const id = await artifact('default', Buffer.from('soon gone'), 'gone.bin');
    const deleted = await linkTo(`/v1/artifacts/${id}/download-link`, 'artifacts:read');
    t.artifacts.rows.splice(0);
    expect((await request(http).get(deleted.url).expect(404)).body.error.code).toBe('artifact_not_found');

    const kept = await artifact('default', Buffer.from('kept'), 'kept.bin');
    const expiring = await linkTo(`/v1/artifacts/${kept}/download-link`, 'artifacts:read');
    t.accessTickets.expireAll();
    await request(http).get(expiring.url).expect(401);

    const revoked = await linkTo(`/v1/artifacts/${kept}/download-link`, 'artifacts:read', 'bob');
    t.tokenRevocations.revocations.set('default\nbob', { tenantId: 'default', subject: 'bob', revokedAt: new Date(Date.now() + 1000), revokedBy: 'default/root' });
    await t.app.get(TokenRevocations).refresh();
    const refused = await request(http).get(revoked.url).expect(401);
    expect(refused.body.error.message).toBe('the token this download link was issued with was revoked: sign in again');
  });
});
