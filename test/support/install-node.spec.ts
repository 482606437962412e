import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPTS = join(__dirname, '../../scripts');

// scripts/install-node.sh and use_mlis_node (ADR 0055), with stand-ins for `node` and `npm` on PATH: nothing is
// fetched, and what the script asks npm for is recorded.
describe('the Node MLIS runs on (scripts/install-node.sh, scripts/with-node.sh)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mlis-install-node-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const executable = (path: string, text: string): void => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, `#!/usr/bin/env bash\n${text}\n`);
    chmodSync(path, 0o755);
  };
  /** A directory whose `node` says it is this major version (install-node.sh asks with `node -p`). */
  const machineNode = (major: number): string => {
    const bin = join(dir, `machine-node-${major}`);
    executable(join(bin, 'node'), `echo ${major}`);
    return bin;
  };
  /** An `npm` whose `pack` writes the package's tarball with a working bin/node, and records its arguments. */
  const registryNpm = (): string => {
    const bin = join(dir, 'npm-bin');
    const content = join(dir, 'tarball');
    executable(join(content, 'package/bin/node'), 'exit 0');
    executable(join(bin, 'npm'), `echo "$*" >> "${join(dir, 'npm-calls')}"
[[ "$1" == pack ]] || exit 1
name="\${@: -1}"; name="\${name/@/-}"
tar -czf "$name.tgz" -C "${content}" package`);
    return bin;
  };
  const installNode = (path: string[], env: Record<string, string> = {}) =>
    spawnSync('bash', [join(SCRIPTS, 'install-node.sh')], {
      env: { HOME: dir, PATH: [...path, '/usr/bin', '/bin'].join(':'), MLIS_CACHE_DIR: join(dir, 'cache'), ...env },
      encoding: 'utf8',
    });
  const npmCalls = (): string[] => (existsSync(join(dir, 'npm-calls')) ? readFileSync(join(dir, 'npm-calls'), 'utf8').trim().split('\n') : []);
  const arch = execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim() === 'x86_64' ? 'x64' : 'arm64';

  it("uses the machine's node when its major version is the pinned one's or later", () => {
    const bin = machineNode(27);
    const run = installNode([bin, registryNpm()]);
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(bin);
    expect(npmCalls()).toEqual([]);
  });

  it("fetches the pinned version from the npm registry when the machine's is older, once", () => {
    const path = [machineNode(20), registryNpm()];
    const first = installNode(path, { MLIS_NODE_VERSION: '26.1.2' });
    expect(first.status).toBe(0);
    const cached = join(dir, 'cache/node-v26.1.2/bin');
    expect(first.stdout.trim()).toBe(cached);
    expect(existsSync(join(cached, 'node'))).toBe(true);
    expect(npmCalls()).toEqual([`pack --silent node-linux-${arch}@26.1.2`]);

    const again = installNode(path, { MLIS_NODE_VERSION: '26.1.2' });
    expect(again.stdout.trim()).toBe(cached);
    expect(npmCalls()).toHaveLength(1);
  });

  it('compares against the major version asked for', () => {
    const bin = machineNode(24);
    const run = installNode([bin, registryNpm()], { MLIS_NODE_VERSION: '24.0.0' });
    expect(run.stdout.trim()).toBe(bin);
    expect(npmCalls()).toEqual([]);
  });

  it('leaves nothing in the cache when the registry does not answer', () => {
    const failingNpm = join(dir, 'failing-npm');
    executable(join(failingNpm, 'npm'), 'exit 1');
    const run = installNode([machineNode(20), failingNpm], { MLIS_NODE_VERSION: '26.1.2' });
    expect(run.status).not.toBe(0);
    // Neither the runtime nor the folder it was unpacked in.
    expect(existsSync(join(dir, 'cache')) ? readdirSync(join(dir, 'cache')) : []).toEqual([]);
  });

  it('runs a command with MLIS_NODE_BIN first on PATH, and refuses one that holds no node', () => {
    const bin = machineNode(26);
    const ran = execFileSync('bash', [join(SCRIPTS, 'with-node.sh'), 'bash', '-c', 'command -v node'], {
      env: { ...process.env, MLIS_NODE_BIN: bin },
      encoding: 'utf8',
    });
    expect(ran.trim()).toBe(join(bin, 'node'));

    const refused = spawnSync('bash', [join(SCRIPTS, 'with-node.sh'), 'true'], { env: { ...process.env, MLIS_NODE_BIN: join(dir, 'nowhere') }, encoding: 'utf8' });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('holds no node');
  });
});
