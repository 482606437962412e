import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '../..');
const POSTGRES = join(ROOT, 'scripts/postgres.sh');
const DEFAULT_PORT = 55432;

/** Listens on 127.0.0.1:port; undefined when another process already does (then the port is taken all the same). */
async function holdPort(port: number): Promise<Server | undefined> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(undefined) : reject(error)));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

// A second checkout's cluster (or anything else) on the default port must not stop this checkout's suite: CI once
// failed when another stack's Postgres held 55432 and this checkout's fresh cluster could not bind it.
describe('scripts/postgres.sh on a taken port', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlis-pg-port-'));
  const env: NodeJS.ProcessEnv = { ...process.env, MLIS_PG_DIR: join(dir, 'pg') };
  delete env.MLIS_PG_PORT;
  delete env.DATABASE_URL;
  delete env.MLIS_MIGRATION_DATABASE_URL;
  const postgres = (...args: string[]) => spawnSync('bash', [POSTGRES, ...args], { env, encoding: 'utf8' });
  let holder: Server | undefined;

  beforeAll(async () => {
    holder = await holdPort(DEFAULT_PORT);
  });

  afterAll(async () => {
    postgres('stop');
    rmSync(dir, { recursive: true, force: true });
    await new Promise<void>((resolve) => (holder ? holder.close(() => resolve()) : resolve()));
  });

  it('starts on the next free port, answers there, and comes back on it after a stop', () => {
    const started = postgres('start');
    expect({ status: started.status, stderr: started.stderr }).toEqual({ status: 0, stderr: expect.stringContaining(`port ${DEFAULT_PORT} is taken by another process`) });

    const url = new URL(postgres('url').stdout.trim());
    const port = Number(url.port);
    expect(port).toBeGreaterThan(DEFAULT_PORT);
    expect(readFileSync(join(dir, 'pg', 'port'), 'utf8').trim()).toBe(String(port));
    expect(postgres('status').stdout.trim()).toBe(`running ${url.href}`);
    // owner-url and psql follow the port too: a query runs on this cluster.
    expect(new URL(postgres('owner-url').stdout.trim()).port).toBe(String(port));
    expect(execFileSync('bash', [POSTGRES, 'psql', '-At', '-c', 'SHOW port'], { env, encoding: 'utf8' }).trim()).toBe(String(port));

    expect(postgres('stop').status).toBe(0);
    expect(postgres('status').status).toBe(1);
    const restarted = postgres('start');
    expect(restarted.status).toBe(0);
    expect(restarted.stderr).not.toContain('is taken');
    expect(postgres('url').stdout.trim()).toBe(url.href);
  }, 60_000);

  it('refuses a port pinned with MLIS_PG_PORT that another process holds, naming it', () => {
    postgres('stop');
    const pinned = spawnSync('bash', [POSTGRES, 'start'], { env: { ...env, MLIS_PG_PORT: String(DEFAULT_PORT) }, encoding: 'utf8' });
    expect(pinned.status).toBe(1);
    expect(pinned.stderr).toContain(`port ${DEFAULT_PORT} (MLIS_PG_PORT) is taken by another process`);
  }, 60_000);
});

describe('scripts/s3-test-server.sh on a taken port', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlis-s3-port-'));
  const env: NodeJS.ProcessEnv = { ...process.env, MLIS_S3_TEST_DIR: dir };
  delete env.MLIS_S3_TEST_PORT;
  const server = (...args: string[]) => spawnSync('bash', [join(ROOT, 'scripts/s3-test-server.sh'), ...args], { env, encoding: 'utf8' });
  let holder: Server | undefined;

  afterAll(async () => {
    server('stop');
    rmSync(dir, { recursive: true, force: true });
    await new Promise<void>((resolve) => (holder ? holder.close(() => resolve()) : resolve()));
  });

  it('starts on the next free port and url names it', async () => {
    holder = await holdPort(39000);
    const started = server('start');
    expect({ status: started.status, stderr: started.stderr }).toEqual({ status: 0, stderr: expect.stringContaining('port 39000 is taken by another process') });
    const url = new URL(server('url').stdout.trim());
    expect(Number(url.port)).toBeGreaterThan(39000);
    // moto answers there.
    const response = await fetch(new URL('/moto-api/', url));
    expect(response.status).toBe(200);
  }, 120_000);
});
