import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '@mlis/contracts';

const ROOT = resolve(__dirname, '../..');

// npm test installs once and exports the launcher path; a bare `npx jest` installs here (a no-op when done).
export function testServerPath(): string {
  const fromEnv = process.env.MLIS_TEST_SERVER;
  if (fromEnv) return fromEnv;
  return execFileSync('bash', [resolve(ROOT, 'temporal/install-test-server.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/**
 * Temporal's time-skipping test server, started from the offline install (the SDK's default
 * download needs the internet), with MLIS's search attributes registered so workflows can upsert them.
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: testServerPath() } },
  });
  const searchAttributes: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  for (const key of Object.values(SEARCH_ATTRIBUTES)) {
    searchAttributes[key.name] = temporal.api.enums.v1.IndexedValueType[`INDEXED_VALUE_TYPE_${key.type}`];
  }
  try {
    await env.connection.operatorService.addSearchAttributes({ namespace: env.namespace ?? 'default', searchAttributes });
  } catch (error) {
    await env.teardown();
    throw error;
  }
  return env;
}
