import { setTimeout as sleep } from 'node:timers/promises';
import { NativeConnection, Worker } from '@temporalio/worker';
import { RAW_ACTIVITY_QUEUE, RAW_WORKFLOW_QUEUE, type RawActivities } from './e2e-raw.workflow';

// A worker process of the raw-Temporal baseline (npm run bench:e2e), with the SDK's default options as MLIS's processes:
//   e2e-raw-worker.js workflows    polls the workflow queue (the counterpart of apps/control)
//   e2e-raw-worker.js activities   polls the activity queue (the counterpart of a node)
// TEMPORAL_ADDRESS names the server. Prints "ready" once polling; stops on SIGTERM.
async function main(): Promise<void> {
  const role = process.argv[2];
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const activities: RawActivities = { rawSleep: (milliseconds) => sleep(milliseconds) };
  const worker =
    role === 'workflows'
      ? await Worker.create({ connection, taskQueue: RAW_WORKFLOW_QUEUE, workflowsPath: require.resolve('./e2e-raw.workflow') })
      : role === 'activities'
        ? await Worker.create({ connection, taskQueue: RAW_ACTIVITY_QUEUE, activities })
        : undefined;
  if (!worker) throw new Error(`usage: e2e-raw-worker.js workflows|activities (got ${String(role)})`);
  const running = worker.run();
  console.log('ready');
  await running;
  await connection.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
