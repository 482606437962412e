import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestApp, type TestApp } from '../../api/testing/test-app';
import { run } from '../main';
import { parseExpiresIn } from './artifacts.command';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

// The artifacts commands against the real API app (in-memory metadata, fs store), over HTTP.
describe('mlis artifacts', () => {
  let t: TestApp;
  let apiUrl: string;
  let token: string;
  const dir = mkdtempSync(join(tmpdir(), 'mlis-cli-artifacts-'));

  beforeAll(async () => {
    t = await createTestApp({}, { auth: 'real' });
    await t.app.listen(0, '127.0.0.1');
    apiUrl = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    token = t.userToken({ sub: 'cli-user' });
  });

  afterAll(() => t.app.close());

  async function mlis(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return mlisAt(apiUrl, ...args);
  }

  async function mlisAt(url: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const code = await run(['--api-url', url, '--token', token, ...args], {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
      // A retry's pause is not waited out.
      sleep: async () => undefined,
    });
    return { code, stdout, stderr };
  }

  it('shows a transfer\'s progress on a line redrawn in place when stderr is a terminal, and erases it before the answer', async () => {
    const bytes = randomBytes(3 * 1024 * 1024);
    const own = mkdtempSync(join(tmpdir(), 'mlis-cli-progress-'));
    const file = join(own, 'weights.bin');
    writeFileSync(file, bytes);
    let stdout = '';
    let stderr = '';
    // A clock a second on at every reading: every chunk redraws the line.
    let clock = Date.parse('2026-12-08T00:00:00Z');
    const terminal = (...args: string[]) =>
      run(['--api-url', apiUrl, '--token', token, ...args], {
        stdout: (text) => (stdout += text),
        stderr: (text) => (stderr += text),
        now: () => new Date((clock += 1000)),
        progress: true,
      });

    expect(await terminal('--json', 'artifacts', 'upload', file)).toBe(0);
    const redraws = stderr.split('\r\x1b[K');
    expect(redraws[0]).toBe('');
    expect(redraws).toContainEqual(expect.stringMatching(/^hashing weights\.bin: [0-9.]+ (KiB|MiB) of 3\.0 MiB \([0-9]+ %\), [0-9.]+ (KiB|MiB)\/s$/));
    expect(redraws).toContainEqual(expect.stringMatching(/^hashing weights\.bin: 3\.0 MiB of 3\.0 MiB \(100 %\), /));
    expect(redraws.filter((line) => line.startsWith('uploading weights.bin: ')).length).toBeGreaterThan(1);
    expect(redraws).toContainEqual(expect.stringMatching(/^uploading weights\.bin: 3\.0 MiB of 3\.0 MiB \(100 %\), /));
    // The last thing on stderr erases the line; stdout has the answer alone.
    expect(stderr.endsWith('\r\x1b[K')).toBe(true);
    expect(redraws[redraws.length - 1]).toBe('');
    const artifact = JSON.parse(stdout);
    expect(artifact.size_bytes).toBe(bytes.length);

    stdout = '';
    stderr = '';
    const output = join(own, 'weights-copy.bin');
    expect(await terminal('artifacts', 'download', artifact.id, '-o', output)).toBe(0);
    expect(stderr.split('\r\x1b[K')).toContainEqual(expect.stringMatching(/^downloading weights-copy\.bin: 3\.0 MiB of 3\.0 MiB \(100 %\), /));
    expect(stderr.endsWith('\r\x1b[K')).toBe(true);
    expect(stdout).toBe(`wrote ${bytes.length} bytes to ${output} (sha256 ${sha256(bytes)})\n`);
    expect(readFileSync(output).equals(bytes)).toBe(true);
  });

  it('lists only the artifacts whose name starts with --prefix', async () => {
    const own = mkdtempSync(join(tmpdir(), 'mlis-cli-prefix-'));
    for (const name of ['prefix-one.txt', 'prefix-two.txt', 'other.txt']) {
      writeFileSync(join(own, name), name);
      expect((await mlis('artifacts', 'upload', join(own, name))).code).toBe(0);
    }
    const listed = await mlis('--json', 'artifacts', 'ls', '--prefix', 'prefix-');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).items.map((item: { name: string }) => item.name)).toEqual(['prefix-two.txt', 'prefix-one.txt']);
    expect(await mlis('artifacts', 'ls', '--prefix', 'nothing-')).toMatchObject({ code: 0, stdout: 'no artifacts whose name starts with "nothing-"\n' });
  });

  it('uploads, lists, downloads byte-identical and removes', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 5);
    const file = join(dir, 'model.onnx');
    writeFileSync(file, bytes);

    const uploaded = await mlis('--json', 'artifacts', 'upload', file, '--content-type', 'application/x-onnx', '--expires-in', '2h');
    expect(uploaded).toMatchObject({ code: 0, stderr: '' });
    const artifact = JSON.parse(uploaded.stdout);
    expect(artifact).toMatchObject({ name: 'model.onnx', content_type: 'application/x-onnx', size_bytes: bytes.length, sha256: sha256(bytes), created_by: 'cli-user' });
    expect(Date.parse(artifact.expires_at) - Date.parse(artifact.created_at)).toBeGreaterThan(7190_000);

    const listed = await mlis('artifacts', 'ls');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(artifact.id);
    expect(listed.stdout).toContain('model.onnx');

    const output = join(dir, 'copy.onnx');
    const downloaded = await mlis('artifacts', 'download', artifact.id, '-o', output);
    expect(downloaded).toMatchObject({ code: 0, stderr: '' });
    expect(downloaded.stdout).toContain(`sha256 ${sha256(bytes)}`);
    expect(readFileSync(output).equals(bytes)).toBe(true);

    expect(await mlis('artifacts', 'rm', artifact.id)).toMatchObject({ code: 0, stdout: `deleted artifact ${artifact.id}\n` });
    const gone = await mlis('artifacts', 'download', artifact.id, '-o', join(dir, 'gone'));
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain('error artifact_not_found');
    // Nothing partial was left behind.
    expect(readdirSync(dir).sort()).toEqual(['copy.onnx', 'model.onnx']);
  });

  /**
   * A proxy in front of the API, for connections that break as when the API stops mid-request. `takeOver` may answer
   * (or drop) a request itself instead of forwarding it; `cutAnswer` says whether to close a forwarded request's
   * connection once about 1 MiB of its answer went through.
   */
  async function breakingProxy(options: {
    takeOver?: (req: IncomingMessage) => boolean;
    cutAnswer?: (req: IncomingMessage) => boolean;
  }): Promise<{ url: string; close(): Promise<void> }> {
    const server: Server = createServer((req, res) => {
      if (options.takeOver?.(req)) return;
      const cut = options.cutAnswer?.(req) ?? false;
      const upstream = httpRequest(`${apiUrl}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        let sent = 0;
        answer.on('data', (chunk: Buffer) => {
          res.write(chunk);
          sent += chunk.length;
          if (cut && sent > 1024 * 1024) {
            answer.destroy();
            res.socket?.destroy();
          }
        });
        answer.on('end', () => res.end());
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  /** Cuts the first `cuts` downloads of `path` after about 1 MiB, recording each one's Range header. */
  function cuttingDownloads(path: string, cuts: number): { ranges: (string | null)[]; cutAnswer: (req: IncomingMessage) => boolean } {
    const ranges: (string | null)[] = [];
    return {
      ranges,
      cutAnswer: (req) => {
        if (req.url !== path || req.method !== 'GET') return false;
        ranges.push(req.headers.range ?? null);
        return cuts-- > 0;
      },
    };
  }

  it('download picks up where a broken transfer stopped, with a Range request, and writes the whole artifact once', async () => {
    const bytes = randomBytes(4 * 1024 * 1024 + 3);
    const file = join(dir, 'resumed.bin');
    writeFileSync(file, bytes);
    const artifact = JSON.parse((await mlis('--json', 'artifacts', 'upload', file)).stdout) as { id: string };
    const downloads = cuttingDownloads(`/v1/artifacts/${artifact.id}`, 2);
    const proxy = await breakingProxy(downloads);
    try {
      const output = join(dir, 'resumed-copy.bin');
      const downloaded = await mlisAt(proxy.url, 'artifacts', 'download', artifact.id, '-o', output);

      expect(downloaded.code).toBe(0);
      expect(readFileSync(output).equals(bytes)).toBe(true);
      expect(downloaded.stdout).toContain(`sha256 ${sha256(bytes)}`);
      const resumedAt = downloads.ranges.slice(1).map((range) => Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1]));
      expect(downloads.ranges[0]).toBeNull();
      expect(resumedAt).toHaveLength(2);
      expect(resumedAt[0]).toBeGreaterThan(0);
      expect(resumedAt[1]).toBeGreaterThan(resumedAt[0]);
      const notices = downloaded.stderr.trimEnd().split('\n');
      expect(notices).toHaveLength(2);
      expect(notices[0]).toMatch(/^the download broke off at byte \d+ \(.+\); resuming \(1 of 3\)$/);
      expect(notices[1]).toMatch(/; resuming \(2 of 3\)$/);
    } finally {
      await proxy.close();
    }
  });

  it('download gives up after three resumes and leaves nothing behind', async () => {
    const bytes = randomBytes(8 * 1024 * 1024);
    const file = join(dir, 'flaky.bin');
    writeFileSync(file, bytes);
    const artifact = JSON.parse((await mlis('--json', 'artifacts', 'upload', file)).stdout) as { id: string };
    const downloads = cuttingDownloads(`/v1/artifacts/${artifact.id}`, 10);
    const proxy = await breakingProxy(downloads);
    try {
      const before = readdirSync(dir).sort();
      const downloaded = await mlisAt(proxy.url, 'artifacts', 'download', artifact.id, '-o', join(dir, 'flaky-copy.bin'));

      expect(downloaded.code).toBe(2);
      expect(downloads.ranges).toHaveLength(4);
      expect(downloaded.stderr).toContain('resuming (3 of 3)');
      expect(downloaded.stderr).toMatch(new RegExp(`error: the download of artifact ${artifact.id} broke off 4 times, the last at byte \\d+ \\(terminated\\); nothing was written\n$`));
      expect(readdirSync(dir).sort()).toEqual(before);
    } finally {
      await proxy.close();
    }
  });

  it('upload is sent again, afresh and with the same key of its own, when the connection dropped mid-body: one artifact', async () => {
    const bytes = randomBytes(2 * 1024 * 1024);
    const file = join(dir, 'dropped.bin');
    writeFileSync(file, bytes);
    const keys: (string | undefined)[] = [];
    let drops = 1;
    // Reads the first upload's body for a while, then closes the connection.
    const proxy = await breakingProxy({
      takeOver: (req) => {
        if (req.method !== 'POST' || !req.url?.startsWith('/v1/artifacts')) return false;
        keys.push(req.headers['idempotency-key'] as string | undefined);
        if (drops-- <= 0) return false;
        let seen = 0;
        req.on('data', (chunk: Buffer) => {
          seen += chunk.length;
          if (seen > 512 * 1024) req.socket.destroy();
        });
        return true;
      },
    });
    try {
      const uploaded = await mlisAt(proxy.url, '--json', 'artifacts', 'upload', file);

      expect(uploaded.code).toBe(0);
      expect(uploaded.stderr).toMatch(/: (UND_ERR_SOCKET|ECONNRESET|EPIPE); sending it again in 1 s \(1 of 3\)\n$/);
      expect(keys).toHaveLength(2);
      expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
      expect(keys[1]).toBe(keys[0]);
      const artifact = JSON.parse(uploaded.stdout) as { id: string; size_bytes: number; sha256: string };
      expect(artifact).toMatchObject({ size_bytes: bytes.length, sha256: sha256(bytes) });
      const listed = JSON.parse((await mlis('--json', 'artifacts', 'ls', '--limit', '100')).stdout) as { items: { name: string }[] };
      expect(listed.items.filter((item) => item.name === 'dropped.bin')).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });

  it('reports a refused upload and a missing file without a stack trace', async () => {
    const missing = await mlis('artifacts', 'upload', join(dir, 'nope.bin'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: cannot read .*nope\.bin: ENOENT/);

    const readOnly = t.userToken({ scope: 'artifacts:read' });
    let stderr = '';
    const file = join(dir, 'small.bin');
    writeFileSync(file, 'small');
    const code = await run(['--api-url', apiUrl, '--token', readOnly, 'artifacts', 'upload', file], { stdout: () => undefined, stderr: (text) => (stderr += text) });
    expect(code).toBe(2);
    expect(stderr).toContain('error forbidden: this token lacks the scope artifacts:write');
  });

  it('parses --expires-in durations', () => {
    expect(parseExpiresIn('90')).toBe(90);
    expect(parseExpiresIn('7d')).toBe(7 * 86400);
    expect(() => parseExpiresIn('0')).toThrow('must be a duration');
    expect(() => parseExpiresIn('soon')).toThrow('must be a duration');
  });
});
