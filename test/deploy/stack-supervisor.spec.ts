import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../support/wait-for';

const ROOT = join(__dirname, '../..');
const STACK = join(ROOT, 'scripts/stack.sh');

/** The pids of the processes whose command line contains `text`. */
function pgrep(text: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', '--', text], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch (error) {
    // pgrep exits 1 when nothing matches; anything else (no pgrep, a bad pattern) must fail the test, not pass it.
    if ((error as { status?: number }).status === 1) return [];
    throw error;
  }
}

// scripts/stack.sh supervises each process and restarts it when it exits; `stop` writes the operator's marker first. A
// supervisor that looked for the marker just before it was written starts one more child: stop must end that one too.
describe('scripts/stack.sh stop', () => {
  const dirs: string[] = [];

  afterAll(() => {
    for (const dir of dirs) {
      for (const pid of pgrep(dir)) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves no child behind of a supervisor that restarts it as the marker is written', async () => {
    for (let round = 0; round < 20; round += 1) {
      const state = mkdtempSync(join(tmpdir(), 'mlis-supervisor-'));
      dirs.push(state);
      const marker = join(state, 'api9.stopped');
      // A child that exits at once until the marker exists, and stays once it does: the supervisor restarts it without
      // a pause, so a restart is under way whenever the marker is written. Its command line names the checkout's dist/,
      // as the stack's processes do (stop signals only those, with the start time their supervisor recorded).
      const supervisor = spawn(
        'bash',
        [STACK, '__supervise', 'api9', '0', '--', 'bash', '-c', 'if [ -e "$0" ]; then sleep 60 & wait; else exit 1; fi', marker, join(ROOT, 'dist/supervised-child')],
        { env: { ...process.env, MLIS_STATE_DIR: state }, detached: true, stdio: 'ignore' },
      );
      writeFileSync(join(state, 'api9.supervisor.pid'), `${supervisor.pid}\n`);
      await waitFor(async () => existsSync(join(state, 'api9.restarts')), { timeoutMs: 5_000, description: 'the supervisor to restart its child' });

      execFileSync('bash', [STACK, 'stop'], { env: { ...process.env, MLIS_STATE_DIR: state }, stdio: 'ignore' });

      expect({ round, left: pgrep(marker) }).toEqual({ round, left: [] });
      expect({ round, supervisor: pgrep(`__supervise api9 0 -- bash -c`).filter((pid) => pid === supervisor.pid) }).toEqual({ round, supervisor: [] });
    }
  }, 120_000);
});
