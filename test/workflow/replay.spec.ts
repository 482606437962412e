import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { bundleJobWorkflows, installQuietRuntime } from './support/workers';

const HISTORIES = join(__dirname, 'histories');

// Job workflows that were open when a new control version rolled out replay their history on it: each recorded
// history must replay without a non-determinism error (docs/runbooks/upgrades.md).
describe('jobWorkflow replays histories recorded by earlier versions', () => {
  let workflowBundle: WorkflowBundle;

  beforeAll(async () => {
    installQuietRuntime();
    workflowBundle = await bundleJobWorkflows();
  }, 60_000);

  const files = readdirSync(HISTORIES).filter((file) => file.endsWith('.json'));

  it('has histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)('%s', async (file) => {
    const history = temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(join(HISTORIES, file), 'utf8')));
    await expect(Worker.runReplayHistory({ workflowBundle }, history, file)).resolves.toBeUndefined();
  });
});
