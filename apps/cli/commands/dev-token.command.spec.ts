import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verify, type JwtPayload } from 'jsonwebtoken';
import { SCOPES } from '@mlis/auth';
import type { CliIo } from '../cli-context';
import { run } from '../main';
import { parseTtl } from './dev-token.command';

const SECRET = 'a-dev-signing-key-of-at-least-32-characters';
const ENV_KEYS = ['MLIS_AUTH_DEV_SECRET_FILE', 'MLIS_TOKEN_FILE', 'MLIS_TOKEN', 'MLIS_DEFAULT_TENANT'] as const;

function captureIo(): CliIo & { out: () => string; err: () => string } {
  let stdout = '';
  let stderr = '';
  return { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), out: () => stdout, err: () => stderr };
}

describe('mlis dev-token, whoami and token resolution', () => {
  let dir: string;
  const saved: Partial<Record<(typeof ENV_KEYS)[number], string>> = {};
  let server: Server;
  let url: string;
  const seen: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ subject: 'alice', tenant: 'acme', scopes: ['jobs:read'], cross_tenant: false, token_kind: 'user' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mlis-dev-token-'));
    for (const key of ENV_KEYS) {
      saved[key] = process.env[key];
      delete process.env[key];
    }
    writeFileSync(join(dir, 'dev-signing-key'), `${SECRET}\n`, { mode: 0o600 });
    process.env.MLIS_AUTH_DEV_SECRET_FILE = join(dir, 'dev-signing-key');
    process.env.MLIS_TOKEN_FILE = join(dir, 'config', 'token');
    seen.length = 0;
  });

  afterEach(() => {
    for (const key of ENV_KEYS) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('mints a verifiable HS256 user token with tenant, subject, scopes and lifetime', async () => {
    const io = captureIo();
    expect(await run(['dev-token', '--tenant', 'acme', '--user', 'alice', '--scope', 'jobs:read,admin:audit', '--ttl', '30m'], io)).toBe(0);
    const token = io.out().trim();
    const claims = verify(token, SECRET, { algorithms: ['HS256'], issuer: 'mlis-dev', audience: 'mlis-api', complete: true });
    expect(claims.header).toMatchObject({ alg: 'HS256', typ: 'at+jwt' });
    const payload = claims.payload as JwtPayload;
    expect(payload).toMatchObject({ sub: 'alice', tenant: 'acme', scope: 'jobs:read admin:audit' });
    expect(payload.mlis_cross_tenant).toBeUndefined();
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(1800);
    expect(io.err()).toContain('tenant acme');
  });

  it('--scope all --cross-tenant grants every scope and the capability; defaults are tenant default, user dev', async () => {
    const io = captureIo();
    expect(await run(['--json', 'dev-token', '--scope', 'all', '--cross-tenant'], io)).toBe(0);
    const printed = JSON.parse(io.out()) as { token: string; saved_to: string | null };
    const payload = verify(printed.token, SECRET, { algorithms: ['HS256'] }) as JwtPayload;
    expect(payload).toMatchObject({ sub: 'dev', tenant: 'default', scope: SCOPES.join(' '), mlis_cross_tenant: true });
    expect(printed.saved_to).toBeNull();
  });

  it('refuses unknown scopes and an unreadable key without minting anything', async () => {
    const bad = captureIo();
    expect(await run(['dev-token', '--scope', 'jobs:read,root'], bad)).toBe(2);
    expect(bad.err()).toContain('unknown: root');
    expect(bad.out()).toBe('');
    // A tenant id the API could never know (the verifier refuses ':'; tenants are lowercase): refused before minting.
    for (const tenant of ['acme:prod', 'Acme']) {
      const refused = captureIo();
      expect(await run(['dev-token', '--tenant', tenant, '--save'], refused)).toBe(2);
      expect(refused.err()).toContain('must be a tenant id');
      expect(refused.out()).toBe('');
    }
    process.env.MLIS_AUTH_DEV_SECRET_FILE = join(dir, 'missing');
    const missing = captureIo();
    expect(await run(['dev-token'], missing)).toBe(2);
    expect(missing.err()).toMatch(/cannot read the dev signing key.*ENOENT/);
    expect(missing.out()).toBe('');
  });

  it('--save stores the token with mode 0600 and later commands send it; --token and MLIS_TOKEN win over the file', async () => {
    const io = captureIo();
    expect(await run(['dev-token', '--user', 'alice', '--save'], io)).toBe(0);
    const file = join(dir, 'config', 'token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'config')).mode & 0o777).toBe(0o700);
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toBe(io.out().trim());

    const who = captureIo();
    expect(await run(['whoami', '--api-url', url], who)).toBe(0);
    expect(seen[0].authorization).toBe(`Bearer ${token}`);
    expect(who.out()).toContain('tenant:       acme');
    expect(who.out()).toContain('scopes:       jobs:read');

    process.env.MLIS_TOKEN = 'env-token';
    expect(await run(['whoami', '--api-url', url], captureIo())).toBe(0);
    expect(await run(['whoami', '--api-url', url, '--token', 'flag-token'], captureIo())).toBe(0);
    expect(seen.slice(1).map((h) => h.authorization)).toEqual(['Bearer env-token', 'Bearer flag-token']);
  });

  it('sends no Authorization header when there is no token at all', async () => {
    expect(await run(['--json', 'whoami', '--api-url', url], captureIo())).toBe(0);
    expect(seen[0].authorization).toBeUndefined();
  });

  it.each([['59'], ['31d'], ['12x'], ['']])('refuses the lifetime %p', (raw) => {
    expect(() => parseTtl(raw)).toThrow(/from 1m to 30d/);
  });
});
