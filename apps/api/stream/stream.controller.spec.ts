import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { fakeNode } from '../testing/fakes';
import { createTestApp, type TestApp } from '../testing/test-app';
import { TokenRevocations } from '../auth/token-revocations';
import { CHANGES_PER_POLL } from './stream.service';
import { openEventStream } from '../testing/event-stream';

describe('change stream (/v1/stream)', () => {
  let t: TestApp;
  let base: string;

  beforeEach(async () => {
    t = await createTestApp({}, { auth: 'real' });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await t.app.close();
  });

  /** A change stream opened with a ticket for a user of tenant default with these scopes. */
  async function streamAs(scope: string): ReturnType<typeof openEventStream> {
    const { body } = await request(t.app.getHttpServer()).post('/v1/stream/tickets').set('Authorization', `Bearer ${t.userToken({ tenant: 'default', scope })}`).expect(201);
    return openEventStream(`${base}/v1/stream?ticket=${body.ticket}`);
  }

  it("streams the ticket holder's tenant's job changes and, to an operator, node changes, and nothing of another tenant's", async () => {
    t.nodes.nodes = [fakeNode({ id: 'cpu-1' })];
    const stream = await streamAs('jobs:read admin:workers');
    const other = randomUUID();
    const mine = randomUUID();
    // Later than the stream's starting point (the fakes' clock is in 2025).
    t.jobs.seed({ id: other, tenantId: 'other', state: 'RUNNING', updatedAt: new Date('2030-01-01T00:00:00Z') });
    t.jobs.seed({ id: mine, state: 'RUNNING', updatedAt: new Date('2030-01-01T00:00:01Z') });
    const received = [await stream.next()];
    expect(received[0]).toEqual({ event: 'job', data: { id: mine, state: 'RUNNING', updated_at: '2030-01-01T00:00:01.000Z' } });
    // The poll that sent the job event also took the nodes' starting point.
    t.nodes.nodes = [fakeNode({ id: 'cpu-1', status: 'DRAINING' })];
    received.push(await stream.next());
    expect(received[1]).toEqual({ event: 'node', data: { node_id: 'cpu-1', status: 'DRAINING' } });
    t.jobs.cycleAt = '2030-01-01 00:00:02+00';
    received.push(await stream.next());
    expect(received[2]).toEqual({ event: 'queue', data: { cycle_at: '2030-01-01 00:00:02+00' } });
    stream.close();
    expect(JSON.stringify(received)).not.toContain(other);
  });

  it('sends no node changes to a ticket holder without admin:workers (nodes are operator data)', async () => {
    t.nodes.nodes = [fakeNode({ id: 'cpu-1' })];
    const stream = await streamAs('jobs:read');
    const mine = randomUUID();
    t.jobs.seed({ id: mine, state: 'RUNNING', updatedAt: new Date('2030-01-01T00:00:01Z') });
    expect((await stream.next()).event).toBe('job');
    // A poll sends node changes before the queue's: by the second queue change, a poll has seen the nodes change.
    t.nodes.nodes = [fakeNode({ id: 'cpu-1', status: 'DRAINING' }), fakeNode({ id: 'cpu-2' })];
    t.jobs.cycleAt = '2030-01-01 00:00:02+00';
    expect(await stream.next()).toEqual({ event: 'queue', data: { cycle_at: '2030-01-01 00:00:02+00' } });
    t.jobs.cycleAt = '2030-01-01 00:00:03+00';
    expect(await stream.next()).toEqual({ event: 'queue', data: { cycle_at: '2030-01-01 00:00:03+00' } });
    stream.close();
  });

  it("tells a holder of artifacts:read when the tenant's artifacts change (an upload, a delete), and no one else", async () => {
    const reader = await streamAs('jobs:read artifacts:read');
    const jobsOnly = await streamAs('jobs:read');
    // Both streams have taken their starting point once a queue change reaches them.
    t.jobs.cycleAt = '2030-01-01 00:00:01+00';
    expect((await reader.next()).event).toBe('queue');
    expect((await jobsOnly.next()).event).toBe('queue');
    const upload = await request(t.app.getHttpServer())
      .post('/v1/artifacts?name=a.txt')
      .set('Authorization', `Bearer ${t.userToken({ tenant: 'default', scope: 'artifacts:write' })}`)
      .set('Content-Type', 'text/plain')
      .send('hello')
      .expect(201);
    const uploaded = await reader.next();
    expect(uploaded).toEqual({ event: 'artifact', data: { changed_at: t.artifacts.changes.get('default') } });
    // Another tenant's artifacts are not this stream's business.
    const other = { id: randomUUID(), tenantId: 'other', name: 'b.txt', contentType: 'text/plain', sizeBytes: 5, sha256: 'b'.repeat(64) };
    await t.artifacts.insert({} as never, { ...other, createdBy: 'bob', expiresAt: null });
    await request(t.app.getHttpServer())
      .delete(`/v1/artifacts/${upload.body.id}`)
      .set('Authorization', `Bearer ${t.userToken({ tenant: 'default', scope: 'artifacts:write' })}`)
      .expect(204);
    const deleted = await reader.next();
    expect(deleted).toEqual({ event: 'artifact', data: { changed_at: t.artifacts.changes.get('default') } });
    expect(deleted.data.changed_at).not.toBe(uploaded.data.changed_at);
    // A poll sends the queue's change before the artifacts': the stream without artifacts:read gets the next queue
    // change and nothing before it.
    t.jobs.cycleAt = '2030-01-01 00:00:02+00';
    expect(await jobsOnly.next()).toEqual({ event: 'queue', data: { cycle_at: '2030-01-01 00:00:02+00' } });
    expect(await reader.next()).toEqual({ event: 'queue', data: { cycle_at: '2030-01-01 00:00:02+00' } });
    reader.close();
    jobsOnly.close();
  });

  it('sends a change stamped before the last one but committed after it, and each change once', async () => {
    const stream = await streamAs('jobs:read');
    const [early, late, next] = [randomUUID(), randomUUID(), randomUUID()];
    t.jobs.seed({ id: early, state: 'RUNNING', updatedAt: new Date('2030-01-01T00:00:05Z') });
    expect((await stream.next()).data.id).toBe(early);
    // Its transaction started first (older stamp) but committed after `early` was sent.
    t.jobs.seed({ id: late, state: 'QUEUED', updatedAt: new Date('2030-01-01T00:00:03Z') });
    expect((await stream.next()).data.id).toBe(late);
    t.jobs.seed({ id: next, state: 'QUEUED', updatedAt: new Date('2030-01-01T00:00:06Z') });
    // Not `early` again, although every poll re-reads the look-back window.
    expect((await stream.next()).data.id).toBe(next);
    stream.close();
  });

  it('sends every change when more than a page of them fall inside one look-back window', async () => {
    const stream = await streamAs('jobs:read');
    // A burst: a page and a half of changes within one second, then one more.
    const burst = Array.from({ length: CHANGES_PER_POLL + CHANGES_PER_POLL / 2 }, (_, i) => ({ id: randomUUID(), at: 1_000 + (i % 1000) }));
    for (const { id, at } of burst) t.jobs.seed({ id, state: 'SUCCEEDED', updatedAt: new Date(Date.parse('2030-01-01T00:00:00Z') + at) });
    const last = randomUUID();
    t.jobs.seed({ id: last, state: 'QUEUED', updatedAt: new Date('2030-01-01T00:00:03Z') });
    const received: string[] = [];
    while (!received.includes(last)) received.push(String((await stream.next()).data.id));
    stream.close();
    expect(received).toHaveLength(burst.length + 1);
    expect(new Set(received)).toEqual(new Set([...burst.map(({ id }) => id), last]));
  });

  it('ends a stream when the token its ticket was issued with is revoked, and refuses a ticket of that token; an older revocation ends nothing', async () => {
    const http = request(t.app.getHttpServer());
    const token = t.userToken({ sub: 'alice', scope: 'jobs:read' });
    const admin = t.userToken({ sub: 'root', scope: 'admin:tenants' });
    const ticketOf = async (bearer: string) => (await http.post('/v1/stream/tickets').set('Authorization', `Bearer ${bearer}`).expect(201)).body.ticket as string;
    const stream = await openEventStream(`${base}/v1/stream?ticket=${await ticketOf(token)}`);

    // A revocation from before the token was issued (an earlier sign-in of alice's) leaves its stream open.
    t.tokenRevocations.revocations.set('default\nalice', { tenantId: 'default', subject: 'alice', revokedAt: new Date(Date.now() - 60_000), revokedBy: 'default/root' });
    await t.app.get(TokenRevocations).refresh();
    const mine = randomUUID();
    t.jobs.seed({ id: mine, state: 'RUNNING', updatedAt: new Date('2030-01-01T00:00:01Z') });
    expect((await stream.next()).data.id).toBe(mine);

    const unused = await ticketOf(token);
    await http.post('/v1/auth/revocations').set('Authorization', `Bearer ${admin}`).send({ tenant_id: 'default', subject: 'alice' }).expect(201);
    await expect(stream.next()).rejects.toThrow('stream ended');
    const refused = await http.get(`/v1/stream?ticket=${unused}`).expect(401);
    expect(refused.body.error).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('revoked') });
  });

  it('takes a ticket once: a reused, unknown or expired ticket is 401, and a ticket needs jobs:read', async () => {
    const http = request(t.app.getHttpServer());
    const { body } = await http.post('/v1/stream/tickets').set('Authorization', `Bearer ${t.userToken({ scope: 'jobs:read' })}`).expect(201);
    const first = await fetch(`${base}/v1/stream?ticket=${body.ticket}`);
    expect(first.status).toBe(200);
    await first.body!.cancel();
    const again = await http.get(`/v1/stream?ticket=${body.ticket}`).expect(401);
    expect(again.body.error.code).toBe('unauthorized');
    await http.get('/v1/stream?ticket=nope').expect(401);
    // A HEAD is refused before it could spend a ticket: the ticket still opens the stream afterwards.
    const headed = (await http.post('/v1/stream/tickets').set('Authorization', `Bearer ${t.userToken({ scope: 'jobs:read' })}`).expect(201)).body.ticket as string;
    expect((await http.head(`/v1/stream?ticket=${headed}`).expect(405)).headers.allow).toBe('GET');
    const afterHead = await fetch(`${base}/v1/stream?ticket=${headed}`);
    expect(afterHead.status).toBe(200);
    await afterHead.body!.cancel();
    await http.post('/v1/stream/tickets').set('Authorization', `Bearer ${t.userToken({ scope: 'jobs:submit' })}`).expect(403);
    await http.post('/v1/stream/tickets').expect(401);

    const expiring = await http.post('/v1/stream/tickets').set('Authorization', `Bearer ${t.userToken({ scope: 'jobs:read' })}`).expect(201);
    expect(Date.parse(expiring.body.expires_at) - Date.now()).toBeGreaterThan(25_000);
    t.accessTickets.expireAll();
    await http.get(`/v1/stream?ticket=${expiring.body.ticket}`).expect(401);
  });
});
