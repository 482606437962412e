// RFC 8725 negative cases against the real API: each is a 401 with a deny row in audit_events.
// JWKS (RS256/ES256, rotation by kid) runs on a second API process pointed at a key server on 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { sign, type Algorithm, type SignOptions } from 'jsonwebtoken';
import { mintUserToken, mintWorkerToken, USER_TOKEN_TYPE } from '@mlis/auth';
import { api, authConfig, env, poll, stackDevSecret, tokenFor, withDb } from './support/api';
import { ROOT } from './support/stack-env';

// In the suite's block of API ports (global-setup), apart from the replicas and the other specs' second APIs.
const JWKS_API_PORT = Number(env.processEnv.MLIS_API_PORT) + 10;
const JWKS_API_URL = `http://127.0.0.1:${JWKS_API_PORT}`;

interface AuditRow {
  actor_tenant: string | null;
  actor_subject: string | null;
  action: string;
  result: string;
  reason: string | null;
}

/** The audit rows one request left (the guard writes them before it answers). */
function auditRowsFor(requestId: string): Promise<AuditRow[]> {
  return withDb(async (db) => {
    const { rows } = await db.query<AuditRow>(
      `SELECT actor_tenant, actor_subject, action, result, reason FROM audit_events WHERE request_id = $1 ORDER BY id`,
      [requestId],
    );
    return rows;
  });
}

const now = () => Math.floor(Date.now() / 1000);

/** A user token with any header, claims and key. */
function forge(
  key: string | KeyObject,
  { alg = 'HS256', header = {}, claims = {}, omit = [] }: { alg?: Algorithm; header?: Record<string, unknown>; claims?: Record<string, unknown>; omit?: string[] } = {},
): string {
  const payload: Record<string, unknown> = {
    iss: authConfig.issuer,
    aud: authConfig.audience,
    sub: 'mallory',
    tenant: 'default',
    scope: 'jobs:read jobs:submit jobs:cancel',
    iat: now(),
    nbf: now(),
    exp: now() + 600,
    ...claims,
  };
  for (const claim of omit) delete payload[claim];
  return sign(payload, key, { algorithm: alg, header: { alg, typ: USER_TOKEN_TYPE, ...header } as SignOptions['header'] });
}

function unsigned(): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const payload = { iss: authConfig.issuer, aud: authConfig.audience, sub: 'mallory', tenant: 'default', scope: 'jobs:read', nbf: now(), exp: now() + 600 };
  return `${part({ alg: 'none', typ: USER_TOKEN_TYPE })}.${part(payload)}.`;
}

/** Calls `path` on `baseUrl` with the token and a fresh request id; returns status and that id. */
async function call(baseUrl: string, token: string | undefined, path = '/v1/jobs', method = 'GET', body?: unknown) {
  const requestId = `sec-${randomUUID()}`;
  const headers: Record<string, string> = { 'x-request-id': requestId, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as { error?: { code: string } }, requestId };
}

async function expectRefused(baseUrl: string, token: string | undefined, reason: string, path = '/v1/jobs', method = 'GET', body?: unknown) {
  const response = await call(baseUrl, token, path, method, body);
  expect([response.status, response.body.error?.code]).toEqual([401, 'unauthorized']);
  expect(await auditRowsFor(response.requestId)).toEqual([expect.objectContaining({ result: 'deny', reason })]);
}

/** A JWKS endpoint on 127.0.0.1 whose key set the test changes, counting requests. */
class KeyServer {
  keys: Record<string, unknown>[] = [];
  hits = 0;
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((_req, res) => {
      this.hits += 1;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: this.keys }));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

const jwk = (key: KeyObject, kid: string, alg: string) => ({ ...key.export({ format: 'jwk' }), kid, alg, use: 'sig' });

describe('security: token verification (RFC 8725)', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaPublicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const attacker = new KeyServer();

  beforeAll(async () => {
    await attacker.start();
  });

  afterAll(async () => {
    await attacker.stop();
  });

  describe('the stack API (HS256 per-install key)', () => {
    it('accepts a valid token (control case)', async () => {
      expect((await call(env.apiUrl, tokenFor())).status).toBe(200);
    });

    it('no token', async () => {
      await expectRefused(env.apiUrl, undefined, 'missing_token');
    });

    it('alg: none', async () => {
      await expectRefused(env.apiUrl, unsigned(), 'algorithm_not_allowed');
    });

    it('HS256 signed with an RS public key (algorithm confusion)', async () => {
      await expectRefused(env.apiUrl, forge(rsaPublicPem), 'bad_signature');
    });

    it('wrong aud', async () => {
      await expectRefused(env.apiUrl, forge(stackDevSecret(), { claims: { aud: 'another-api' } }), 'wrong_audience');
    });

    it('wrong iss', async () => {
      await expectRefused(env.apiUrl, forge(stackDevSecret(), { claims: { iss: 'https://issuer.invalid' } }), 'wrong_issuer');
    });

    it('expired (beyond the clock skew)', async () => {
      const skew = authConfig.clockSkewSeconds;
      await expectRefused(env.apiUrl, forge(stackDevSecret(), { claims: { exp: now() - skew - 60 } }), 'token_expired');
    });

    it('nbf in the future (beyond the clock skew)', async () => {
      const skew = authConfig.clockSkewSeconds;
      await expectRefused(env.apiUrl, forge(stackDevSecret(), { claims: { nbf: now() + skew + 600 } }), 'token_not_yet_valid');
    });

    it('missing sub', async () => {
      await expectRefused(env.apiUrl, forge(stackDevSecret(), { omit: ['sub'] }), 'missing_claim');
    });

    it('unknown kid', async () => {
      await expectRefused(env.apiUrl, forge(stackDevSecret(), { header: { kid: 'no-such-key' } }), 'unknown_kid');
    });

    it.each(['../../../../../dev/null', "x' UNION SELECT secret FROM keys --", '/proc/self/environ'])('kid with path/SQL injection: %s', async (kid) => {
      await expectRefused(env.apiUrl, forge(stackDevSecret(), { header: { kid } }), 'invalid_kid');
    });

    it('a jku pointing elsewhere is ignored, never fetched', async () => {
      const evil = generateKeyPairSync('rsa', { modulusLength: 2048 });
      attacker.keys = [jwk(evil.publicKey, 'evil', 'RS256')];
      attacker.hits = 0;
      const token = forge(evil.privateKey, { alg: 'RS256', header: { kid: 'evil', jku: `${attacker.url}/jwks.json`, x5u: `${attacker.url}/cert.pem` } });
      await expectRefused(env.apiUrl, token, 'algorithm_not_allowed');
      // Also with the HS256 algorithm the stack accepts: the key still comes only from our own file.
      await expectRefused(env.apiUrl, forge('attacker-chosen-secret-0123456789abcdef', { header: { jku: `${attacker.url}/jwks.json` } }), 'bad_signature');
      expect(attacker.hits).toBe(0);
    });

    it('a worker token on a user route', async () => {
      const worker = mintWorkerToken(stackDevSecret(), authConfig, { sub: 'node:cpu-1', node_id: 'cpu-1', incarnation: 1 });
      await expectRefused(env.apiUrl, worker, 'wrong_token_type');
    });

    it('a user token on a worker route', async () => {
      await expectRefused(env.apiUrl, tokenFor(), 'wrong_token_type', '/v1/internal/nodes/cpu-1/heartbeat', 'POST', { incarnation: 1 });
    });

    it('audits a refused token with the actor unknown, and a missing scope (403) with the actor', async () => {
      const denied = await call(env.apiUrl, forge(stackDevSecret(), { claims: { aud: 'x' } }));
      expect(await auditRowsFor(denied.requestId)).toEqual([
        { actor_tenant: null, actor_subject: null, action: 'auth.user_token', result: 'deny', reason: 'wrong_audience' },
      ]);
      const forbidden = await call(env.apiUrl, tokenFor({ sub: 'reader', scopes: ['jobs:read'] }), '/v1/workers');
      expect(forbidden.status).toBe(403);
      expect(await auditRowsFor(forbidden.requestId)).toEqual([
        { actor_tenant: 'default', actor_subject: 'reader', action: 'auth.scope', result: 'deny', reason: 'missing_scope' },
      ]);
    });
  });

  describe('a second API with a JWKS URL (RS256/ES256, rotation by kid)', () => {
    const keyServer = new KeyServer();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const next = generateKeyPairSync('rsa', { modulusLength: 2048 });
    let child: ChildProcess | undefined;
    let output = '';

    beforeAll(async () => {
      await keyServer.start();
      keyServer.keys = [jwk(rsa.publicKey, 'rsa-2026-01', 'RS256'), jwk(ec.publicKey, 'ec-2026-01', 'ES256')];
      child = spawn('node', [join(ROOT, 'dist/apps/api/main.js')], {
        env: {
          ...process.env,
          ...env.processEnv,
          MLIS_API_PORT: String(JWKS_API_PORT),
          MLIS_API_URL: JWKS_API_URL,
          MLIS_AUTH_JWKS_URL: `${keyServer.url}/.well-known/jwks.json`,
          MLIS_AUTH_ALGORITHMS: 'RS256,ES256',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      await poll(
        'the JWKS API to answer /health/live',
        async () => {
          if (child?.exitCode !== null) throw new Error(`the JWKS API exited: ${output.slice(-2000)}`);
          const response = await fetch(`${JWKS_API_URL}/health/live`);
          return response.ok ? true : undefined;
        },
        { timeoutMs: 60_000 },
      );
    }, 90_000);

    afterAll(async () => {
      if (child && child.exitCode === null) {
        const exited = new Promise((resolve) => child?.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await keyServer.stop();
    });

    const rsToken = (key: KeyObject, kid: string, alg: Algorithm = 'RS256') => forge(key, { alg, header: { kid } });

    it('accepts RS256 and ES256 tokens whose kid is in the key set', async () => {
      expect((await call(JWKS_API_URL, rsToken(rsa.privateKey, 'rsa-2026-01'))).status).toBe(200);
      expect((await call(JWKS_API_URL, rsToken(ec.privateKey, 'ec-2026-01', 'ES256'))).status).toBe(200);
    });

    it('refuses HS256 signed with the RS public key (algorithm confusion), and alg none', async () => {
      await expectRefused(JWKS_API_URL, forge(rsaPublicPem, { header: { kid: 'rsa-2026-01' } }), 'algorithm_not_allowed');
      await expectRefused(JWKS_API_URL, unsigned(), 'algorithm_not_allowed');
    });

    it('refuses the stack dev token: HS256 is not on this allow-list', async () => {
      await expectRefused(JWKS_API_URL, tokenFor(), 'algorithm_not_allowed');
    });

    it('refuses an unknown kid after asking the key server', async () => {
      const before = keyServer.hits;
      await expectRefused(JWKS_API_URL, rsToken(next.privateKey, 'rsa-unknown'), 'unknown_kid');
      expect(keyServer.hits).toBeGreaterThan(before);
    });

    it('refuses kids with path/SQL injection without asking the key server', async () => {
      const before = keyServer.hits;
      await expectRefused(JWKS_API_URL, rsToken(rsa.privateKey, '../../keys/rsa-2026-01'), 'invalid_kid');
      await expectRefused(JWKS_API_URL, rsToken(rsa.privateKey, "rsa-2026-01' OR '1'='1"), 'invalid_kid');
      expect(keyServer.hits).toBe(before);
    });

    it('never fetches a jku from the token', async () => {
      attacker.hits = 0;
      const evil = generateKeyPairSync('rsa', { modulusLength: 2048 });
      attacker.keys = [jwk(evil.publicKey, 'rsa-2026-01', 'RS256')];
      const token = forge(evil.privateKey, { alg: 'RS256', header: { kid: 'rsa-2026-01', jku: `${attacker.url}/jwks.json` } });
      await expectRefused(JWKS_API_URL, token, 'bad_signature');
      expect(attacker.hits).toBe(0);
    });

    it('rotation: a new key is accepted once published, a removed key is refused', async () => {
      const oldToken = rsToken(rsa.privateKey, 'rsa-2026-01');
      const newToken = rsToken(next.privateKey, 'rsa-2026-02');
      expect((await call(JWKS_API_URL, oldToken)).status).toBe(200);
      // Not published yet.
      await expectRefused(JWKS_API_URL, newToken, 'unknown_kid');

      keyServer.keys = [jwk(next.publicKey, 'rsa-2026-02', 'RS256')];
      // Refetches on an unknown kid are rate limited: poll until the new set is seen.
      await poll('the rotated key to be accepted', async () => ((await call(JWKS_API_URL, newToken)).status === 200 ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 1_000,
      });
      await expectRefused(JWKS_API_URL, oldToken, 'unknown_kid');
    });
  });

  it('the dev token minter and the stack agree (control for every case above)', async () => {
    const token = mintUserToken(stackDevSecret(), authConfig, { sub: 'it-user', tenant: 'default', scope: 'jobs:read' });
    const { status, body } = await api('GET', '/v1/auth/whoami', undefined, { authorization: `Bearer ${token}` });
    expect(status).toBe(200);
    expect(body).toEqual({ subject: 'it-user', tenant: 'default', scopes: ['jobs:read'], cross_tenant: false, token_kind: 'user' });
  });
});
