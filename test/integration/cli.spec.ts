import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { env, tokenFor } from './support/api';
import { ROOT } from './support/stack-env';

const run = promisify(execFile);
const token = tokenFor({ sub: 'it-cli' });

/** Runs the real `mlis` launcher against the running API. */
async function mlis(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return mlisWith({ MLIS_TOKEN: token }, ...args);
}

async function mlisWith(extraEnv: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(join(ROOT, 'bin/mlis'), args, {
      env: {
        ...process.env,
        MLIS_API_URL: env.apiUrl,
        MLIS_AUTH_DEV_SECRET_FILE: env.processEnv.MLIS_AUTH_DEV_SECRET_FILE,
        // Never a developer's saved token.
        MLIS_TOKEN_FILE: join(ROOT, '.mlis/test-stack/no-such-token'),
        MLIS_TOKEN: '',
        ...extraEnv,
      },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('the mlis CLI against the real API', () => {
  jest.setTimeout(60_000);

  it('submit --wait runs a job to SUCCEEDED and status shows its assignment', async () => {
    const submitted = await mlis('--json', 'submit', 'sleep', '--seconds', '0.2', '--wait');
    expect(submitted.code).toBe(0);
    const job = JSON.parse(submitted.stdout);
    expect(job).toMatchObject({ state: 'SUCCEEDED', result: { slept: 0.2 } });

    const status = await mlis('status', job.id);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(job.id);
    expect(status.stdout).toContain('SUCCEEDED');
    expect(status.stdout).toContain(job.latest_assignment.node_id);

    // list's filters reach the ledger: the job is found by its node and time, and not under another submitter.
    const node = job.latest_assignment.node_id;
    const found = await mlis('--json', 'list', '--task-type', 'sleep', '--node', node, '--state', 'SUCCEEDED', '--since', job.created_at, '--limit', '100');
    expect(found.code).toBe(0);
    expect(JSON.parse(found.stdout).items.map((item: { id: string }) => item.id)).toContain(job.id);
    const none = await mlis('--json', 'list', '--node', node, '--submitted-by', 'nobody-submits-as-this', '--since', job.created_at);
    expect(JSON.parse(none.stdout)).toEqual({ items: [], next_cursor: null });
  });

  it('submit --input uploads the file and references it; result prints the whole result, or writes it with -o', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlis-it-cli-'));
    try {
      const input = join(dir, 'texts.json');
      writeFileSync(input, JSON.stringify(['first text', 'second text']));
      const submitted = await mlis('--json', 'submit', 'echo', '--input', input, '--param', 'pad="' + 'x'.repeat(70_000) + '"', '--wait');
      expect(submitted.code).toBe(0);
      expect(submitted.stderr).toMatch(/uploaded .*texts\.json as artifact [0-9a-f-]{36}/);
      const job = JSON.parse(submitted.stdout);
      expect(job).toMatchObject({ state: 'SUCCEEDED', result: null, result_artifact: expect.any(String) });

      const printed = await mlis('result', job.id);
      expect(printed.code).toBe(0);
      const result = JSON.parse(printed.stdout);
      const ref: string = result.params.input;
      expect(ref).toMatch(/^artifact:\/\/[0-9a-f-]{36}$/);
      expect(result.artifacts[ref]).toEqual({ sha256: createHash('sha256').update(readFileSync(input)).digest('hex'), size_bytes: readFileSync(input).length, content_type: 'application/json' });

      const output = join(dir, 'result.json');
      const written = await mlis('result', job.id, '-o', output);
      expect(written.code).toBe(0);
      expect(JSON.parse(readFileSync(output, 'utf8'))).toEqual(result);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('submit --input with --idempotency-key, run again, returns the same job and uploads no second artifact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlis-it-cli-'));
    try {
      const input = join(dir, 'texts.txt');
      writeFileSync(input, 'one text\n');
      const key = `it-cli-${Date.now()}`;
      const first = await mlis('--json', 'submit', 'echo', '--input', input, '--idempotency-key', key);
      expect(first.code).toBe(0);
      // The rerun after a lost answer: the upload finds its artifact, so the job's params compare equal.
      const again = await mlis('--json', 'submit', 'echo', '--input', input, '--idempotency-key', key);
      expect(again.code).toBe(0);
      const artifactOf = (stderr: string): string | undefined => /as artifact ([0-9a-f-]{36})/.exec(stderr)?.[1];
      const uploaded = artifactOf(first.stderr);
      expect(uploaded).toMatch(/^[0-9a-f-]{36}$/);
      expect(artifactOf(again.stderr)).toBe(uploaded);
      expect(JSON.parse(again.stdout).id).toBe(JSON.parse(first.stdout).id);
      // Another file under the same key is another request: refused, as another job would be.
      writeFileSync(input, 'another text\n');
      const changed = await mlis('submit', 'echo', '--input', input, '--idempotency-key', key);
      expect(changed.code).toBe(2);
      expect(changed.stderr).toContain('idempotency_conflict');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('workers lists every node with its pid', async () => {
    const workers = await mlis('--json', 'workers');
    expect(workers.code).toBe(0);
    const nodes = JSON.parse(workers.stdout).items;
    expect(nodes.map((n: { node_id: string }) => n.node_id).sort()).toEqual(['cpu-1', 'cpu-2', 'gpu-1', 'gpu-2']);
    const table = await mlis('workers');
    for (const node of nodes) expect(table.stdout).toContain(String(node.pid));
  });

  it('dev-token mints a token that whoami shows back: the two-command developer flow', async () => {
    const minted = await mlisWith({}, 'dev-token', '--tenant', 'default', '--user', 'it-cli-dev', '--scope', 'jobs:read,jobs:submit');
    expect(minted.code).toBe(0);
    const who = await mlisWith({ MLIS_TOKEN: minted.stdout.trim() }, '--json', 'whoami');
    expect(who.code).toBe(0);
    expect(who.stdout).toContain('it-cli-dev');
    expect(who.stdout).toContain('default');
    expect(who.stdout).toContain('jobs:read');
  });

  it('without any token the API refuses the CLI with 401, exit 2', async () => {
    const result = await mlisWith({}, 'workers');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unauthorized');
  });

  it('an API error exits 2 and prints its code', async () => {
    const result = await mlis('submit', 'no_such_task');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown_task_type');
  });
});
