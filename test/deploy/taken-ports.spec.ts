import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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

// The stack's own ports are the user's (the API's is in the README): start refuses a taken one instead of moving it,
// and before it starts anything, where the API used to exit on EADDRINUSE until a 60 s readiness wait gave up.
describe('scripts/stack.sh start on a taken port', () => {
  const state = mkdtempSync(join(tmpdir(), 'mlis-stack-port-'));
  const holders: Server[] = [];

  afterAll(async () => {
    rmSync(state, { recursive: true, force: true });
    await Promise.all(holders.map((holder) => new Promise<void>((resolve) => holder.close(() => resolve()))));
  });

  /** A free port, held from now on by this test's own listener. */
  async function heldPort(): Promise<number> {
    const holder = await holdPort(0);
    if (!holder) throw new Error('could not listen on a free port');
    holders.push(holder);
    const address = holder.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return address.port;
  }

  it('names each taken port, whose it is and the variable that moves it, and starts nothing', async () => {
    const apiPort = await heldPort();
    const metricsPort = await heldPort();
    const started = spawnSync('bash', [join(ROOT, 'scripts/stack.sh'), 'start'], {
      env: {
        ...process.env,
        MLIS_STATE_DIR: state,
        MLIS_API_PORT: String(apiPort),
        MLIS_STACK_METRICS_PORT: String(metricsPort),
        MLIS_STACK_NODES: 'cpu-9:cpu:1:1:512:0',
      },
      encoding: 'utf8',
    });
    expect(started.status).toBe(1);
    // This test's own process holds both ports: the message names it by its pid.
    const holder = `is taken by another process \\([^,]+, pid ${process.pid}\\)`;
    expect(started.stderr).toMatch(new RegExp(`port ${apiPort}, api's, ${holder}: stop it, or set MLIS_API_PORT to move the stack's ports`));
    expect(started.stderr).toMatch(new RegExp(`port ${metricsPort}, control's, ${holder}: stop it, or set MLIS_STACK_METRICS_PORT`));
    expect(readdirSync(state)).toEqual([]);
  }, 60_000);
});
