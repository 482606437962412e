import { echoRunner } from './echo.runner';
import { gpuDemoRunner } from './gpu-demo.runner';
import { inferenceRunner } from './inference.runner';
import type { Runner } from './runner';
import { sleepRunner } from './sleep.runner';

const ALL_RUNNERS: readonly Runner[] = [sleepRunner, gpuDemoRunner, inferenceRunner, echoRunner];

/** Every task type this build can run, keyed by task type; the API validates submissions against it. */
export const RUNNERS: ReadonlyMap<string, Runner> = new Map(ALL_RUNNERS.map((runner) => [runner.taskType, runner]));

export const TASK_TYPES: readonly string[] = [...RUNNERS.keys()];

export function getRunner(taskType: string): Runner | undefined {
  return RUNNERS.get(taskType);
}
