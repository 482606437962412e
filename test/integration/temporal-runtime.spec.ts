import { readdirSync, readFileSync } from 'node:fs';
import { env, poll, STACK_NODE_IDS } from './support/api';
import { stack, stackPid, stackWithEnv } from './support/stack-env';

/**
 * The process's threads that tokio names for its runtime: its workers, and its blocking pool's threads, which end
 * after 10 s idle (Linux keeps the first 15 characters of "tokio-runtime-worker").
 */
function tokioThreads(pid: number): number {
  const named = readdirSync(`/proc/${pid}/task`).map((thread) => {
    try {
      return readFileSync(`/proc/${pid}/task/${thread}/comm`, 'utf8').trim();
    } catch {
      return ''; // the thread ended while we listed them
    }
  });
  return named.filter((name) => name === 'tokio-runtime-w').length;
}

/**
 * Until the stack's process `name` runs `expected` tokio threads: one just started has yet to build its runtime, and a
 * blocking-pool thread may outlive its work by 10 s.
 */
function tokioThreadsSettle(name: string, expected: number): Promise<number> {
  let seen = 'nothing yet';
  return poll(
    () => `${name} to run ${expected} tokio threads (seen: ${seen})`,
    async () => {
      const pid = stackPid(env, name);
      const threads = tokioThreads(pid);
      seen = `${threads} in pid ${pid}`;
      return threads === expected ? threads : undefined;
    },
    { timeoutMs: 30_000 },
  );
}

// Every MLIS process runs the Temporal SDK core's runtime on MLIS_TEMPORAL_CORE_THREADS worker threads, 1 unless set,
// where the SDK's default is one a core (ADR 0060). The stack leaves it unset.
describe("the Temporal SDK core's threads", () => {
  jest.setTimeout(90_000);

  it.each(['api', 'control', `node-${STACK_NODE_IDS[0]}`])('%s runs it on one thread', async (name) => {
    expect(await tokioThreadsSettle(name, 1)).toBe(1);
  });

  it('a process started with MLIS_TEMPORAL_CORE_THREADS=3 runs it on three', async () => {
    stackWithEnv(env, { MLIS_TEMPORAL_CORE_THREADS: '3' }, 'start-replica', 'control', '2');
    try {
      expect(await tokioThreadsSettle('control-2', 3)).toBe(3);
    } finally {
      stack(env, 'stop-replica', 'control', '2');
    }
  });
});
