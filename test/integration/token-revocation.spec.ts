import { randomUUID } from 'node:crypto';
import { api, env, poll, tokenFor, withDb } from './support/api';

// Revoking a holder's user tokens against the real stack (ADR 0037): refused at once by the API that revoked, by any
// other replica once it reads the list again (here: a row written straight to the table), and audited.
describe('token revocation', () => {
  const whoami = async (token: string): Promise<number> => (await api('GET', '/v1/auth/whoami', undefined, { authorization: `Bearer ${token}` })).status;

  it("refuses the holder's tokens at once, audited; a token issued after the revocation works", async () => {
    const subject = `it-revoked-${randomUUID()}`;
    const token = tokenFor({ sub: subject });
    expect(await whoami(token)).toBe(200);

    const revoked = await api('POST', '/v1/auth/revocations', { tenant_id: 'default', subject });
    expect(revoked.status).toBe(201);
    expect(revoked.body).toMatchObject({ tenant_id: 'default', subject, revoked_by: 'default/it-user' });
    const refused = await api('GET', '/v1/jobs', undefined, { authorization: `Bearer ${token}`, 'x-request-id': `it-refused-${subject}` });
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('unauthorized');
    const rows = await withDb(async (db) =>
      (await db.query(`SELECT action, result, reason FROM audit_events WHERE request_id = $1 OR (action = 'token.revoke' AND resource = $2)`, [`it-refused-${subject}`, `user/${subject}`])).rows,
    );
    expect(rows).toEqual(
      expect.arrayContaining([
        { action: 'token.revoke', result: 'allow', reason: null },
        { action: 'auth.user_token', result: 'deny', reason: 'token_revoked' },
      ]),
    );
    expect((await api('GET', '/v1/auth/revocations')).body.items).toContainEqual(revoked.body);

    // Tokens are stamped to the second: one minted once the revocation's second has passed is a new token.
    await poll('a token issued after the revocation accepted', async () => ((await whoami(tokenFor({ sub: subject }))) === 200 ? true : undefined), {
      timeoutMs: 5_000,
    });
  });

  it("ends a console event stream opened with the holder's token once the API reads a revocation another replica wrote", async () => {
    const subject = `it-stream-revoked-${randomUUID()}`;
    const token = tokenFor({ sub: subject });
    const ticket = await api('POST', '/v1/stream/tickets', undefined, { authorization: `Bearer ${token}` });
    expect(ticket.status).toBe(201);
    const stream = await fetch(`${env.apiUrl}/v1/stream?ticket=${ticket.body.ticket}`);
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('retry:');

    await withDb((db) =>
      db.query(`INSERT INTO token_revocations (tenant_id, subject, revoked_at, revoked_by) VALUES ('default', $1, now(), 'default/another-replica')`, [subject]),
    );
    // The API ends the stream within its refresh interval (2 s): reading reaches the end well inside the test's timeout.
    let read = await reader.read();
    while (!read.done) read = await reader.read();
    // A new ticket for the same token is refused.
    expect((await api('POST', '/v1/stream/tickets', undefined, { authorization: `Bearer ${token}` })).status).toBe(401);
  }, 20_000);

  it('applies a revocation another replica wrote within the refresh interval', async () => {
    const subject = `it-revoked-elsewhere-${randomUUID()}`;
    const token = tokenFor({ sub: subject });
    expect(await whoami(token)).toBe(200);
    await withDb((db) =>
      db.query(`INSERT INTO token_revocations (tenant_id, subject, revoked_at, revoked_by) VALUES ('default', $1, now(), 'default/another-replica')`, [subject]),
    );
    await poll('the token refused', async () => ((await whoami(token)) === 401 ? true : undefined), { timeoutMs: 10_000, intervalMs: 100 });
  });
});
