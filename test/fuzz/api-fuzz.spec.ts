import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { api, env, tokenFor } from '../integration/support/api';
import { ROOT, STATE_DIR } from '../integration/support/stack-env';

// schemathesis (PyPI, scripts/install-schemathesis.sh) with every check against the document the API serves,
// as a tenant of its own with every scope: 0 server errors and 0 failures, or the document and the API disagree.

const RUN = Date.now().toString(36);
const TENANT = `fuzz-${RUN}`;
// Bounded: examples per operation, a fixed seed so a failure can be replayed with the same command.
const MAX_EXAMPLES = 25;
const SEED = 20261201;

describe('API fuzzing from the OpenAPI document (schemathesis, all checks)', () => {
  jest.setTimeout(600_000);
  const reportDir = join(STATE_DIR, 'schemathesis');

  afterAll(async () => {
    // The fuzzer's jobs never run (max_running_jobs 0); cancel what it left waiting.
    const token = tokenFor({ tenant: TENANT });
    for (;;) {
      const { body } = await api('GET', '/v1/jobs?state=QUEUED&limit=100', undefined, { authorization: `Bearer ${token}` });
      if (!body.items?.length) break;
      await Promise.all(body.items.map((job: { id: string }) => api('POST', `/v1/jobs/${job.id}/cancel`, undefined, { authorization: `Bearer ${token}` })));
      await new Promise((resolve) => setTimeout(resolve, 500));
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
    const run = spawnSync(
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
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, SCHEMATHESIS_HOOKS: join(ROOT, 'test/fuzz/hooks.py') } },
    );
    const output = `${run.stdout}\n${run.stderr}`;
    // The summary goes to the log for docs/validation; the failures in full when there are any.
    const summary = output.split('\n').filter((line) => /generated|unique failure|Server error|ST\d{3} /.test(line));
    console.log(`schemathesis exit ${run.status}:\n${summary.join('\n')}`);
    if (run.status !== 0) console.log(output.slice(-20_000));
    expect(existsSync(junit)).toBe(true);
    expect(output).toMatch(/\d+ generated/);
    expect(output).not.toMatch(/Server error/);
    expect(run.status).toBe(0);
  });
});
