import type { ModelHost } from '@mlis/models';
import { echoRunner } from './echo.runner';
import { gpuDemoRunner } from './gpu-demo.runner';
import { createInferenceRunner, inferenceTask } from './inference.runner';
import { createOnnxRunner, onnxTask } from './onnx.runner';
import type { Runner, TaskSpec } from './runner';
import { sleepRunner } from './sleep.runner';

const TASK_SPECS: ReadonlyMap<string, TaskSpec> = new Map(
  [sleepRunner, gpuDemoRunner, inferenceTask, onnxTask, echoRunner].map((spec): [string, TaskSpec] => [spec.taskType, spec]),
);

/** Every task type this build can run. */
export const TASK_TYPES: readonly string[] = [...TASK_SPECS.keys()];

/** A task type's params check, for the API: it validates submissions and never loads a model. */
export function getTaskSpec(taskType: string): TaskSpec | undefined {
  return TASK_SPECS.get(taskType);
}

/** What runners need from the node they run on. */
export interface RunnerDeps {
  models: ModelHost;
}

/** The runners of one node, keyed by task type; model-backed ones share the node's model host. */
export function createRunners({ models }: RunnerDeps): ReadonlyMap<string, Runner> {
  const runners: Runner[] = [sleepRunner, gpuDemoRunner, createInferenceRunner(models), createOnnxRunner(models), echoRunner];
  return new Map(runners.map((runner) => [runner.taskType, runner]));
}
