import { randomUUID } from 'node:crypto';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '@mlis/contracts';
import { createTimeSkippingEnv } from '../support/time-skipping';

// The harness every workflow spec builds on: the offline Java test server, time skipping, our search attributes.
describe('createTimeSkippingEnv', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  }, 60_000);

  afterAll(async () => {
    await env?.teardown();
  });

  it('skips time', async () => {
    expect(env.supportsTimeSkipping).toBe(true);
    const before = Date.now();
    await env.sleep('7 days');
    expect(Date.now() - before).toBeLessThan(30_000);
  });

  it('accepts every MLIS search attribute on a workflow', async () => {
    // No worker polls this queue: the start and describe exercise only the server's attribute registry.
    const handle = await env.client.workflow.start('noWorkerWorkflow', {
      taskQueue: `no-worker-${randomUUID()}`,
      workflowId: `sa-${randomUUID()}`,
      typedSearchAttributes: [
        { key: SEARCH_ATTRIBUTES.tenant, value: 'acme' },
        { key: SEARCH_ATTRIBUTES.taskType, value: 'sleep' },
        { key: SEARCH_ATTRIBUTES.state, value: 'QUEUED' },
        { key: SEARCH_ATTRIBUTES.workerGroup, value: 'cpu' },
        { key: SEARCH_ATTRIBUTES.node, value: 'cpu-1' },
      ],
    });
    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.state)).toBe('QUEUED');
    expect(description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.node)).toBe('cpu-1');
    await handle.terminate();
  });

  it('rejects an attribute that was never registered', async () => {
    // Proves the server validates attributes, so the test above is not passing vacuously.
    await expect(
      env.client.workflow.start('noWorkerWorkflow', {
        taskQueue: `no-worker-${randomUUID()}`,
        workflowId: `sa-${randomUUID()}`,
        typedSearchAttributes: [{ key: defineSearchAttributeKey('MlisUnregistered', SearchAttributeType.KEYWORD), value: 'x' }],
      }),
    ).rejects.toMatchObject({ cause: { details: 'search attribute MlisUnregistered is not defined' } });
  });
});
