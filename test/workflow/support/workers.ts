import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type InjectedSinks, type WorkflowBundle } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { CONTROL_TASK_QUEUE, nodeTaskQueue } from '@mlis/contracts';
import { JOB_WORKFLOW_INTERCEPTOR_MODULES } from '@mlis/workflow-host/workflow-bundle';
import { resolveLibAliases } from '../../support/workflow-bundle';
import type { FakeLedger, FakeNode } from './fake-ledger';
import type { FakeRunner, RunnerLog } from './fake-runners';

/**
 * Keeps worker chatter (and the expected activity/workflow failure warnings) out of the test output.
 * Call before the test environment exists: the Runtime is created once.
 */
export function installQuietRuntime(): void {
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
  });
}

/** The real workflows folder with control's interceptors, bundled once per spec file rather than once per Worker. */
export function bundleJobWorkflows(): Promise<WorkflowBundle> {
  return bundleWorkflowCode({
    workflowsPath: require.resolve('../../../workflows'),
    workflowInterceptorModules: JOB_WORKFLOW_INTERCEPTOR_MODULES,
    logger: new DefaultLogger('WARN'),
    webpackConfigHook: resolveLibAliases,
  });
}

/** The names of the spans a control Worker's workflows handed to the tracing sink, as control's sink would export them. */
export class ExportedSpans {
  readonly names: string[] = [];
  readonly sinks: InjectedSinks<OpenTelemetrySinks> = {
    exporter: {
      export: {
        fn: (_info, spans) => {
          this.names.push(...spans.map((span) => span.name));
        },
      },
    },
  };
}

/** The control Worker: the real job workflow with the fake ledger's activities. */
export function createControlWorker(
  env: TestWorkflowEnvironment,
  workflowBundle: WorkflowBundle,
  ledger: FakeLedger,
  spans: ExportedSpans = new ExportedSpans(),
): Promise<Worker> {
  return Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace,
    taskQueue: CONTROL_TASK_QUEUE,
    workflowBundle,
    activities: ledger.activities,
    sinks: spans.sinks,
  });
}

// Cancellation reaches an activity in a heartbeat response, and the SDK holds heartbeats back for
// 80 % of the lease (8 s) by default: flush them quickly so a cancelled runner hears of it at once.
const HEARTBEAT_THROTTLE = '100ms';

/** A Worker polling one fake node's queue, hosting a fake runAssignment. */
export function createNodeWorker(
  env: TestWorkflowEnvironment,
  node: FakeNode,
  runner: FakeRunner,
  log: RunnerLog,
): Promise<Worker> {
  return Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace,
    taskQueue: nodeTaskQueue(node.group, node.nodeId),
    activities: { runAssignment: runner(node.nodeId, log) },
    maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
    defaultHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
  });
}

/**
 * Runs all workers until `body` settles, then shuts them down; returns what body returned.
 * A body still pending after `deadlineMs` fails, so a stuck test cannot leave its workers polling
 * into the next test (jest's own timeout does not stop the test's promise).
 */
export async function runWithWorkers<T>(workers: Worker[], deadlineMs: number, body: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`test body still pending after ${deadlineMs} ms`)), deadlineMs);
  });
  const running = Promise.race([body(), deadline]).finally(() => clearTimeout(timer));
  await Promise.all(workers.map((worker) => worker.runUntil(running)));
  return running;
}
