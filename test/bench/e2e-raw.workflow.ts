import { proxyActivities } from '@temporalio/workflow';

// The raw-Temporal baseline of `npm run bench:e2e`: one workflow, one activity on a remote task queue, no MLIS code.
export const RAW_WORKFLOW_QUEUE = 'bench-raw-workflows';
export const RAW_ACTIVITY_QUEUE = 'bench-raw-activities';

export interface RawActivities {
  rawSleep(milliseconds: number): Promise<void>;
}

const { rawSleep } = proxyActivities<RawActivities>({ taskQueue: RAW_ACTIVITY_QUEUE, startToCloseTimeout: '30 seconds' });

export async function rawJobWorkflow(milliseconds: number): Promise<void> {
  await rawSleep(milliseconds);
}
