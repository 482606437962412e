import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { api, env, tokenFor } from '../integration/support/api';
import { ROOT, STATE_DIR } from '../integration/support/stack-env';

// schemathesis (PyPI, scripts/install-schemathesis.sh) with every check against the document the API serves,
// as a tenant of its own with every scope: 0 server errors and 0 failures, or the document and the API disagree.

const RUN = Date.now().toString(36);
const TENANT = `fuzz-${RUN}`;
// Bounded: examples per operation, a fixed seed so a failure can be replayed with the same command.
const MAX_EXAMPLES = 25;
const SEED = 20261201;

const auth = () => ({ authorization: `Bearer ${tokenFor({ tenant: TENANT })}` });

/** Asks to cancel every job of the tenant still QUEUED (the first 100); how many there were. */
async function cancelQueued(): Promise<number> {
  const { body } = await api('GET', '/v1/jobs?state=QUEUED&limit=100', undefined, auth());
  const queued: { id: string }[] = body.items ?? [];
  await Promise.all(queued.map((job) => api('POST', `/v1/jobs/${job.id}/cancel`, undefined, auth())));
  return queued.length;
}

/** Runs the CLI to its end, without blocking the event loop (the canceller runs meanwhile). */
function runCli(command: string, args: string[], extraEnv: Record<string, string>): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, output: Buffer.concat(chunks).toString('utf8') }));
  });
}

describe('API fuzzing from the OpenAPI document (schemathesis, all checks)', () => {
  jest.setTimeout(600_000);
  const reportDir = join(STATE_DIR, 'schemathesis');

  afterAll(async () => {
    // Leave nothing waiting: the jobs never run (max_running_jobs 0), so cancel them until none is QUEUED.
    const deadline = Date.now() + 60_000;
    while ((await cancelQueued()) > 0) {
      if (Date.now() > deadline) throw new Error(`jobs of ${TENANT} still QUEUED after 60 s of cancelling`);
      await sleep(500);
    }
  });

  it('finds no server error and no failed check', async () => {
    // Its submissions wait instead of taking the stack's capacity from the other specs.
    const created = await api('POST', '/v1/tenants', { id: TENANT, max_running_jobs: 0 });
    expect(created.status).toBe(201);
    const st = execFileSync('bash', [join(ROOT, 'scripts/install-schemathesis.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    rmSync(reportDir, { recursive: true, force: true });
    mkdirSync(reportDir, { recursive: true });
    const junit = join(reportDir, 'junit.xml');

    // A job the fuzzer creates is cancelled within a second or two: a long-poll on it (?wait= up to 60 s) then
    // answers when it is CANCELLED, as documented, instead of holding the run for its whole wait.
    let fuzzing = true;
    const canceller = (async () => {
      while (fuzzing) {
        await cancelQueued();
        await sleep(1000);
      }
    })();
    const run = await runCli(
      st,
      [
        '--config-file',
        join(ROOT, 'test/fuzz/schemathesis.toml'),
        'run',
        `${env.apiUrl}/docs-json`,
        '--checks', 'all',
        '--max-examples', String(MAX_EXAMPLES),
        '--seed', String(SEED),
        '--header', `Authorization: Bearer ${tokenFor({ tenant: TENANT, sub: 'fuzzer' })}`,
        '--report',
        'junit',
        '--report-junit-path',
        junit,
        '--no-color',
      ],
      { SCHEMATHESIS_HOOKS: join(ROOT, 'test/fuzz/hooks.py') },
    ).finally(() => {
      fuzzing = false;
    });
    await canceller;

    // The summary goes to the log for docs/validation; the failures in full when there are any.
    const summary = run.output.split('\n').filter((line) => /generated|unique failure|Server error|ST\d{3} |passed|failed|\(in /.test(line));
    console.log(`schemathesis exit ${run.status}:\n${summary.join('\n')}`);
    if (run.status !== 0) console.log(run.output.slice(-20_000));
    expect(existsSync(junit)).toBe(true);
    expect(run.output).toMatch(/\d+ generated/);
    expect(run.output).not.toMatch(/Server error/);
    expect(run.status).toBe(0);
  });
});
