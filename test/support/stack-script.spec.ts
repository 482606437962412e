import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPTS = join(__dirname, '../../scripts');
const STACK = join(SCRIPTS, 'stack.sh');

// Pid files outlive their processes (a stop keeps them, a reboot or a SIGKILL leaves them) and pids are reused.
describe('scripts/stack.sh with pid files that name some other process', () => {
  const state = mkdtempSync(join(tmpdir(), 'mlis-stack-pids-'));
  // A live process that is none of the stack's: what a recycled pid would name.
  const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
  afterAll(() => {
    stranger.kill('SIGKILL');
    rmSync(state, { recursive: true, force: true });
  });

  const stack = (...args: string[]): string =>
    execFileSync('bash', [STACK, ...args], { env: { ...process.env, MLIS_STATE_DIR: state }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  it('neither counts it as running nor signals it on stop', () => {
    for (const name of ['api', 'control', 'node-cpu-1']) {
      writeFileSync(join(state, `${name}.pid`), `${stranger.pid}\n`);
      writeFileSync(join(state, `${name}.supervisor.pid`), `${stranger.pid}\n`);
    }
    expect(stack('status').split('\n').filter(Boolean).sort()).toEqual([
      'api stopped (unsupervised, 0 restarts)',
      'control stopped (unsupervised, 0 restarts)',
      'node-cpu-1 stopped (unsupervised, 0 restarts)',
    ]);
    stack('stop');
    expect(stateOf(stranger.pid!)).not.toBe('Z');
  });

  it('nor a process that names this checkout: a dev server with its data under .mlis, or a node of another stack', () => {
    const root = join(__dirname, '../..');
    // What a recycled pid could name: the Temporal dev server's command line holds the checkout's .mlis, another
    // stack's node its dist/ (and its own start time, not the one recorded here).
    const idle = (arg: string) => spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', arg], { stdio: 'ignore' });
    const devServer = idle(`${root}/.mlis/test-stack/temporal/dev.sqlite`);
    const otherNode = idle(`${root}/dist/apps/worker/main.js`);
    try {
      writeFileSync(join(state, 'relay-cpu-2.pid'), `${devServer.pid}\n`);
      writeFileSync(join(state, 'node-cpu-2.pid'), `${otherNode.pid}\n`);
      writeFileSync(join(state, 'node-cpu-2.start'), '1\n');
      expect(stack('status').split('\n').filter((line) => /cpu-2/.test(line)).sort()).toEqual([
        'node-cpu-2 stopped (unsupervised, 0 restarts)',
        'relay-cpu-2 stopped (unsupervised, 0 restarts)',
      ]);
      stack('stop');
      expect([stateOf(devServer.pid!), stateOf(otherNode.pid!)]).toEqual([expect.not.stringMatching('Z'), expect.not.stringMatching('Z')]);
    } finally {
      devServer.kill('SIGKILL');
      otherNode.kill('SIGKILL');
    }
  });

  it('is not the S3 test server or the Temporal dev server either: their stop leaves it alone and drops the stale file', () => {
    const servers = [
      { script: join(SCRIPTS, 's3-test-server.sh'), pidFile: join(state, 'moto.pid'), env: { MLIS_S3_TEST_DIR: state } },
      {
        script: join(__dirname, '../../temporal/dev-server.sh'),
        pidFile: join(state, 'temporal', 'temporal.pid'),
        env: { MLIS_TEMPORAL_DIR: join(state, 'temporal') },
      },
    ];
    for (const server of servers) {
      execFileSync('mkdir', ['-p', join(server.pidFile, '..')]);
      writeFileSync(server.pidFile, `${stranger.pid}\n`);
      execFileSync('bash', [server.script, 'stop'], { env: { ...process.env, ...server.env }, stdio: 'ignore' });
      expect({ server: server.script, stale: existsSync(server.pidFile) }).toEqual({ server: server.script, stale: false });
      expect(stateOf(stranger.pid!)).not.toBe('Z');
    }
  });
});

/** The process's state letter: still running, not a zombie, means no signal ended it before stop returned. */
function stateOf(pid: number): string {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0];
}
