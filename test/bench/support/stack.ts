import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

// dist/test/bench/support → the repository root.
const ROOT = resolve(__dirname, '../../../..');

/** Runs the repository's bash script `path` with `args`, `env` over this process's environment; its trimmed output. */
export function script(path: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync('bash', [join(ROOT, path), ...args], { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/**
 * `scripts/stack.sh start` with `env`. A start that fails part way (a process never ready) leaves what did start
 * running: it is stopped before the error goes on, or the bench's next run would find it "already running" with this
 * run's settings, and its ports held.
 */
export function startBenchStack(env: Record<string, string>): void {
  try {
    script('scripts/stack.sh', ['start'], env);
  } catch (error) {
    script('scripts/stack.sh', ['stop'], env);
    throw error;
  }
}
