import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parsePid } from '../../support/pid';

// Global setup and teardown import this file: Jest loads them outside its module registry, where moduleNameMapper
// does not apply, so it (and what it imports) must not import @mlis/* modules.

export const ROOT = resolve(__dirname, '../../..');
export const STATE_DIR = join(ROOT, '.mlis/test-stack');
const ENV_FILE = join(STATE_DIR, 'env.json');

/** Where the integration stack listens; written by global setup, read by every spec. */
export interface StackEnv {
  apiUrl: string;
  /** The runtime role's URL, as api and control connect. */
  databaseUrl: string;
  /** The owner's URL, as migrations ran. */
  ownerDatabaseUrl: string;
  temporalAddress: string;
  /** Environment for scripts/stack.sh and the processes it starts. */
  processEnv: Record<string, string>;
  /** The suite started the local Postgres cluster (it was not up): the teardown stops it again. */
  startedPostgres: boolean;
}

export function writeStackEnv(env: StackEnv): void {
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(ENV_FILE, JSON.stringify(env, null, 2));
}

export function readStackEnv(): StackEnv {
  return JSON.parse(readFileSync(ENV_FILE, 'utf8')) as StackEnv;
}

/** Runs scripts/stack.sh with the integration stack's environment. */
export function stack(env: StackEnv, ...args: string[]): string {
  return stackWithEnv(env, {}, ...args);
}

/** Runs scripts/stack.sh with the integration stack's environment and `extra` over it (a process started differently). */
export function stackWithEnv(env: StackEnv, extra: Record<string, string>, ...args: string[]): string {
  return execFileSync('bash', [join(ROOT, 'scripts/stack.sh'), ...args], {
    env: { ...process.env, ...env.processEnv, ...extra },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** The pid scripts/stack.sh recorded for a process it supervises; throws when it has none. */
export function stackPid(env: StackEnv, name: string): number {
  const text = stack(env, 'pid', name);
  const pid = parsePid(text);
  if (pid === undefined) throw new Error(`no pid recorded for ${name} (read "${text}")`);
  return pid;
}

export function script(path: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync('bash', [join(ROOT, path), ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** Drops a database the suite created, so test runs do not pile databases up in the local cluster. */
export function dropDatabase(name: string): void {
  script('scripts/postgres.sh', ['psql', '-q', '-c', `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`]);
}
