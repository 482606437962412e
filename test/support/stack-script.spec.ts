import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const STACK = join(__dirname, '../../scripts/stack.sh');

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
    // Still running, not a zombie: a signal would have ended it before stop returned.
    const processState = readFileSync(`/proc/${stranger.pid}/stat`, 'utf8').split(') ')[1][0];
    expect(processState).not.toBe('Z');
  });
});
