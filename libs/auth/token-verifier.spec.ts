import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign, type Algorithm, type SignOptions } from 'jsonwebtoken';
import { USER_TOKEN_TYPE, WORKER_TOKEN_TYPE } from './claims';
import { mintUserToken, mintWorkerToken } from './dev-tokens';
import { JwksKeySource, readDevSecret, TokenRejectedError, TokenVerifier, type KeySource, type TokenRejection } from './token-verifier';

const SECRET = 'a'.repeat(24) + 'per-install-secret-0123456789';
const auth = {
  issuer: 'mlis-dev',
  audience: 'mlis-api',
  workerAudience: 'mlis-worker',
  algorithms: ['HS256'],
  clockSkewSeconds: 30,
  workerTokenTtlSeconds: 3600,
};
const userClaims = { sub: 'alice', tenant: 'acme', scope: 'jobs:read jobs:submit' };
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaPublicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();

/** A KeySource that records every kid it is asked for. */
class MapKeySource implements KeySource {
  readonly asked: string[] = [];
  constructor(readonly keys: Map<string, string>) {}
  async getKey(kid: string): Promise<string | undefined> {
    this.asked.push(kid);
    return this.keys.get(kid);
  }
}

const now = () => Math.floor(Date.now() / 1000);

/** A user token with full control over header, claims and key. */
function token(
  key: string | KeyObject,
  { alg = 'HS256', header = {}, claims = {}, omit = [] }: { alg?: Algorithm; header?: Record<string, unknown>; claims?: Record<string, unknown>; omit?: string[] } = {},
): string {
  const payload: Record<string, unknown> = { iss: auth.issuer, aud: auth.audience, iat: now(), nbf: now(), exp: now() + 600, ...userClaims, ...claims };
  for (const claim of omit) delete payload[claim];
  const options: SignOptions = { algorithm: alg, header: { alg, typ: USER_TOKEN_TYPE, ...header } as SignOptions['header'] };
  return sign(payload, key, options);
}

/** A token with `alg: none`: header and payload, empty signature. */
function unsigned(claims: Record<string, unknown> = {}): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const payload = { iss: auth.issuer, aud: auth.audience, nbf: now(), exp: now() + 600, ...userClaims, ...claims };
  return `${part({ alg: 'none', typ: USER_TOKEN_TYPE })}.${part(payload)}.`;
}

async function rejection(promise: Promise<unknown>): Promise<TokenRejection> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TokenRejectedError) return error.reason;
    throw error;
  }
  throw new Error('the token was accepted');
}

describe(TokenVerifier.name, () => {
  const dev = new TokenVerifier({ auth, secret: SECRET });
  const jwks = new MapKeySource(
    new Map([
      ['rsa-1', rsaPublicPem],
      ['ec-1', ec.publicKey.export({ type: 'spki', format: 'pem' }).toString()],
    ]),
  );
  const prod = new TokenVerifier({ auth: { ...auth, algorithms: ['RS256', 'ES256'] }, secret: SECRET, jwks });
  // Both key sources at once: the case where algorithm confusion would bite.
  const mixed = new TokenVerifier({ auth: { ...auth, algorithms: ['HS256', 'RS256', 'ES256'] }, secret: SECRET, jwks });

  beforeEach(() => {
    jwks.asked.length = 0;
  });

  describe('accepts', () => {
    it('a dev user token: subject, tenant, scopes, no cross-tenant capability', async () => {
      const verified = await dev.verify(mintUserToken(SECRET, auth, userClaims), 'user');
      expect(verified.kind).toBe('user');
      expect(verified.actor).toEqual({
        kind: 'user',
        subject: 'alice',
        tenantId: 'acme',
        scopes: new Set(['jobs:read', 'jobs:submit']),
        crossTenant: false,
      });
    });

    it('the cross-tenant capability only when the claim is exactly true', async () => {
      const yes = await dev.verify(mintUserToken(SECRET, auth, { ...userClaims, mlis_cross_tenant: true }), 'user');
      expect(yes.actor.crossTenant).toBe(true);
      const no = await dev.verify(token(SECRET, { claims: { mlis_cross_tenant: 'true' } }), 'user');
      expect(no.actor.crossTenant).toBe(false);
    });

    it('a worker token bound to its node incarnation', async () => {
      const verified = await dev.verify(mintWorkerToken(SECRET, auth, { sub: 'node:cpu-1', node_id: 'cpu-1', incarnation: 3 }), 'worker');
      expect(verified).toMatchObject({ kind: 'worker', nodeId: 'cpu-1', incarnation: 3, actor: { kind: 'worker', subject: 'node:cpu-1' } });
    });

    it('RS256 and ES256 tokens from the key set, looked up by kid', async () => {
      await expect(prod.verify(token(rsa.privateKey, { alg: 'RS256', header: { kid: 'rsa-1' } }), 'user')).resolves.toMatchObject({ kind: 'user' });
      await expect(prod.verify(token(ec.privateKey, { alg: 'ES256', header: { kid: 'ec-1' } }), 'user')).resolves.toMatchObject({ kind: 'user' });
      expect(jwks.asked).toEqual(['rsa-1', 'ec-1']);
    });

    it('typ case-insensitively and with the application/ prefix (RFC 8725 3.11)', async () => {
      await expect(dev.verify(token(SECRET, { header: { typ: 'application/AT+JWT' } }), 'user')).resolves.toMatchObject({ kind: 'user' });
    });

    it('exp and nbf within the clock-skew allowance', async () => {
      await expect(dev.verify(token(SECRET, { claims: { exp: now() - 10, nbf: now() + 10 } }), 'user')).resolves.toMatchObject({ kind: 'user' });
    });
  });

  describe('refuses (RFC 8725)', () => {
    it('no token', async () => {
      expect(await rejection(dev.verify(undefined, 'user'))).toBe('missing_token');
    });

    it('garbage', async () => {
      expect(await rejection(dev.verify('not.a.jwt', 'user'))).toBe('malformed_token');
      expect(await rejection(dev.verify('abc', 'user'))).toBe('malformed_token');
    });

    it('alg none, even with an allow-list that names it, before any key lookup', async () => {
      expect(await rejection(dev.verify(unsigned(), 'user'))).toBe('algorithm_not_allowed');
      const lax = new TokenVerifier({ auth: { ...auth, algorithms: ['HS256', 'none'] }, secret: SECRET, jwks });
      expect(await rejection(lax.verify(unsigned(), 'user'))).toBe('algorithm_not_allowed');
      expect(jwks.asked).toEqual([]);
    });

    it('HS256 signed with the RS public key (algorithm confusion), in RS-only and in mixed mode', async () => {
      const confused = token(rsaPublicPem, { header: { kid: 'rsa-1' } });
      expect(await rejection(prod.verify(confused, 'user'))).toBe('algorithm_not_allowed');
      // With HS256 allowed the key is only ever the per-install secret, so the signature fails.
      expect(await rejection(mixed.verify(token(rsaPublicPem), 'user'))).toBe('bad_signature');
      expect(await rejection(mixed.verify(confused, 'user'))).toBe('unknown_kid');
      expect(jwks.asked).toEqual([]);
    });

    it('an algorithm outside the allow-list', async () => {
      expect(await rejection(dev.verify(token(rsa.privateKey, { alg: 'RS256' }), 'user'))).toBe('algorithm_not_allowed');
      expect(await rejection(dev.verify(token(SECRET, { alg: 'HS512' }), 'user'))).toBe('algorithm_not_allowed');
    });

    it('a bad signature', async () => {
      expect(await rejection(dev.verify(token('another-secret-of-the-same-sort-0123456789'), 'user'))).toBe('bad_signature');
    });

    it('wrong aud, wrong iss', async () => {
      expect(await rejection(dev.verify(token(SECRET, { claims: { aud: 'someone-else' } }), 'user'))).toBe('wrong_audience');
      expect(await rejection(dev.verify(token(SECRET, { claims: { iss: 'https://evil.example' } }), 'user'))).toBe('wrong_issuer');
    });

    it('expired, and nbf in the future, beyond the skew', async () => {
      expect(await rejection(dev.verify(token(SECRET, { claims: { exp: now() - 31 } }), 'user'))).toBe('token_expired');
      expect(await rejection(dev.verify(token(SECRET, { claims: { nbf: now() + 600 } }), 'user'))).toBe('token_not_yet_valid');
    });

    it.each([
      ['sub', 'missing_claim'],
      ['exp', 'missing_claim'],
      ['nbf', 'missing_claim'],
      ['iss', 'wrong_issuer'],
      ['aud', 'wrong_audience'],
    ])('a missing %s: %s', async (claim, reason) => {
      expect(await rejection(dev.verify(token(SECRET, { omit: [claim] }), 'user'))).toBe(reason);
    });

    it('an empty sub, a missing or malformed tenant', async () => {
      expect(await rejection(dev.verify(token(SECRET, { claims: { sub: '' } }), 'user'))).toBe('invalid_claim');
      expect(await rejection(dev.verify(token(SECRET, { omit: ['tenant'] }), 'user'))).toBe('missing_claim');
      expect(await rejection(dev.verify(token(SECRET, { claims: { tenant: "x' OR '1'='1" } }), 'user'))).toBe('invalid_claim');
    });

    it('an unknown kid (after asking the key set), and any kid on an HS256 token', async () => {
      expect(await rejection(prod.verify(token(rsa.privateKey, { alg: 'RS256', header: { kid: 'rsa-9' } }), 'user'))).toBe('unknown_kid');
      expect(jwks.asked).toEqual(['rsa-9']);
      expect(await rejection(dev.verify(token(SECRET, { header: { kid: 'whatever' } }), 'user'))).toBe('unknown_kid');
    });

    it.each(['../../../../dev/null', "rsa-1' OR '1'='1", 'rsa-1; DROP TABLE jobs; --', '/etc/passwd', 'a'.repeat(200)])(
      'a kid that is not a plain key id (%s), before any lookup',
      async (kid) => {
        expect(await rejection(prod.verify(token(rsa.privateKey, { alg: 'RS256', header: { kid } }), 'user'))).toBe('invalid_kid');
        expect(await rejection(dev.verify(token(SECRET, { header: { kid } }), 'user'))).toBe('invalid_kid');
        expect(jwks.asked).toEqual([]);
      },
    );

    it('crit header parameters', async () => {
      expect(await rejection(dev.verify(token(SECRET, { header: { crit: ['exp'] } }), 'user'))).toBe('unsupported_header');
    });

    it('a worker token on a user route and a user token on a worker route (RFC 8725 3.12)', async () => {
      const worker = mintWorkerToken(SECRET, auth, { sub: 'node:cpu-1', node_id: 'cpu-1', incarnation: 1 });
      expect(await rejection(dev.verify(worker, 'user'))).toBe('wrong_token_type');
      expect(await rejection(dev.verify(mintUserToken(SECRET, auth, userClaims), 'worker'))).toBe('wrong_token_type');
      // The right typ is not enough: the audience must be the kind's own.
      const userAudience = sign({ node_id: 'cpu-1', incarnation: 1, sub: 'node:cpu-1', iss: auth.issuer, aud: auth.audience, nbf: now(), exp: now() + 60 }, SECRET, {
        header: { alg: 'HS256', typ: WORKER_TOKEN_TYPE },
      });
      expect(await rejection(dev.verify(userAudience, 'worker'))).toBe('wrong_audience');
    });

    it('a worker token without its node binding', async () => {
      const unbound = sign({ sub: 'node:cpu-1', iss: auth.issuer, aud: auth.workerAudience, nbf: now(), exp: now() + 60 }, SECRET, {
        header: { alg: 'HS256', typ: WORKER_TOKEN_TYPE },
      });
      expect(await rejection(dev.verify(unbound, 'worker'))).toBe('missing_claim');
    });
  });

  describe('jku / x5u in the token', () => {
    let server: Server;
    let hits = 0;
    let url = '';

    beforeAll(async () => {
      server = createServer((_req, res) => {
        hits += 1;
        res.end(JSON.stringify({ keys: [] }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    });

    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it('are never fetched: the token is checked against our keys only', async () => {
      const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const forged = token(attacker.privateKey, { alg: 'RS256', header: { kid: 'rsa-1', jku: url, x5u: url } });
      expect(await rejection(prod.verify(forged, 'user'))).toBe('bad_signature');
      expect(hits).toBe(0);
    });
  });
});

describe(JwksKeySource.name, () => {
  let server: Server;
  let served: Record<string, unknown>[] = [];
  let requests = 0;
  let down = false;
  let uri = '';
  const jwk = (key: KeyObject, kid: string) => ({ ...key.export({ format: 'jwk' }), kid, use: 'sig' });

  beforeAll(async () => {
    server = createServer((_req, res) => {
      requests += 1;
      if (down) {
        res.statusCode = 503;
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: served }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('caches the set, refetches on an unknown kid, and drops keys removed at rotation', async () => {
    const next = generateKeyPairSync('rsa', { modulusLength: 2048 });
    served = [jwk(rsa.publicKey, 'old')];
    requests = 0;
    const keys = new JwksKeySource(uri);
    const verifier = new TokenVerifier({ auth: { ...auth, algorithms: ['RS256'] }, secret: SECRET, jwks: keys });
    const oldToken = token(rsa.privateKey, { alg: 'RS256', header: { kid: 'old' } });
    const newToken = token(next.privateKey, { alg: 'RS256', header: { kid: 'new' } });

    await expect(verifier.verify(oldToken, 'user')).resolves.toMatchObject({ kind: 'user' });
    await expect(verifier.verify(oldToken, 'user')).resolves.toMatchObject({ kind: 'user' });
    expect(requests).toBe(1);

    served = [jwk(next.publicKey, 'new')];
    await expect(verifier.verify(newToken, 'user')).resolves.toMatchObject({ kind: 'user' });
    expect(requests).toBe(2);
    expect(await rejection(verifier.verify(oldToken, 'user'))).toBe('unknown_kid');
  });

  it('keeps verifying with the last key set while the identity provider is down, asking it again only every so often', async () => {
    served = [jwk(rsa.publicKey, 'old')];
    requests = 0;
    let clock = 0;
    const keys = new JwksKeySource(uri, { cacheMaxAgeMs: 60_000, staleGraceMs: 3_600_000, retryAfterFailureMs: 30_000, now: () => clock });
    expect(await keys.getKey('old')).toBeDefined();
    down = true;
    try {
      // Fresh set, unknown kid: the refetch is refused, and within the back-off the kid stays unknowable (not unknown).
      await expect(keys.getKey('rotated-in')).rejects.toThrow();
      await expect(keys.getKey('rotated-in')).rejects.toThrow();
      expect(await keys.getKey('old')).toBeDefined();
      expect(requests).toBe(2);
      clock += 150_000;
      // Stale: refetched, refused, and the old key still verifies.
      expect(await keys.getKey('old')).toBeDefined();
      expect(requests).toBe(3);
      // Within the back-off: no request at all, the old key; a kid the old set lacks cannot be told (503, not 401).
      for (let i = 0; i < 5; i += 1) expect(await keys.getKey('old')).toBeDefined();
      await expect(keys.getKey('other')).rejects.toThrow();
      expect(requests).toBe(3);
      clock += 30_000;
      expect(await keys.getKey('old')).toBeDefined();
      expect(requests).toBe(4);
      // Past the grace: the set is too old to trust.
      clock += 3_600_000;
      await expect(keys.getKey('old')).rejects.toThrow();
      await expect(keys.getKey('old')).rejects.toThrow();
      expect(requests).toBe(5);
    } finally {
      down = false;
    }
    clock += 30_000;
    expect(await keys.getKey('old')).toBeDefined();
  });

  it('rate-limits refetches for unknown kids', async () => {
    served = [jwk(rsa.publicKey, 'old')];
    requests = 0;
    let clock = 0;
    const keys = new JwksKeySource(uri, { refetchBurst: 2, refetchPerMinute: 1, now: () => clock });
    for (let i = 0; i < 6; i += 1) await expect(keys.getKey(`missing-${i}`)).resolves.toBeUndefined();
    // The first fetch fills the empty cache; then only the burst of two refetches.
    expect(requests).toBe(3);
    clock += 60_000;
    await keys.getKey('missing-again');
    expect(requests).toBe(4);
  });
});

describe(readDevSecret.name, () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlis-secret-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a 0600 secret', () => {
    const path = join(dir, 'ok');
    writeFileSync(path, `${SECRET}\n`, { mode: 0o600 });
    expect(readDevSecret(path)).toBe(SECRET);
  });

  it('refuses a missing, group/world-readable or short secret without printing it', () => {
    expect(() => readDevSecret(join(dir, 'absent'))).toThrow(/missing/);
    const open = join(dir, 'open');
    writeFileSync(open, SECRET);
    chmodSync(open, 0o644);
    expect(() => readDevSecret(open)).toThrow(/group or others/);
    chmodSync(open, 0o640);
    expect(() => readDevSecret(open)).toThrow(/group or others/);
    const short = join(dir, 'short');
    writeFileSync(short, 'tiny', { mode: 0o600 });
    expect(() => readDevSecret(short)).toThrow(/shorter/);
    try {
      readDevSecret(open);
    } catch (error) {
      expect(String(error)).not.toContain(SECRET);
    }
  });
});
