import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const SCRIPT = join(resolve(__dirname, '../..'), 'scripts/s3-test-server.sh');

/**
 * The endpoint of a real S3-compatible server (moto, scripts/s3-test-server.sh) for the calling spec file:
 * `npm test` starts one and sets MLIS_S3_TEST_ENDPOINT; a targeted run starts its own here and stops it after
 * the file. Call at the top level of a spec; the returned function gives the endpoint inside tests.
 */
export function useS3TestServer(): () => string {
  let endpoint: string | undefined;
  // Jest runs spec files in parallel worker processes: each worker gets its own server (port and state dir),
  // so one file's teardown never stops another's server. Ports from MLIS_S3_TEST_PORT (default 39000) + 1..99.
  const env = {
    ...process.env,
    MLIS_S3_TEST_PORT: String(Number(process.env.MLIS_S3_TEST_PORT ?? 39000) + 1 + (process.pid % 99)),
    MLIS_S3_TEST_DIR: join(resolve(__dirname, '../..'), '.mlis', `s3-test-server-${process.pid}`),
  };
  let started = false;
  beforeAll(() => {
    endpoint = process.env.MLIS_S3_TEST_ENDPOINT;
    if (endpoint) return;
    execFileSync('bash', [SCRIPT, 'start'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    started = true;
    endpoint = execFileSync('bash', [SCRIPT, 'url'], { env, encoding: 'utf8' }).trim();
  }, 300_000);
  afterAll(() => {
    if (!started) return;
    execFileSync('bash', [SCRIPT, 'stop'], { env, stdio: 'ignore' });
    // The state dir is this process's alone (pid file and moto's log): nothing in it outlives the server.
    rmSync(env.MLIS_S3_TEST_DIR, { recursive: true, force: true });
  });
  return () => {
    if (!endpoint) throw new Error('the S3 test server is not started yet (use the endpoint inside tests or hooks)');
    return endpoint;
  };
}
