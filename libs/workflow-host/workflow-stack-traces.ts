// Preloaded into every process that runs job workflows, control and the API (`node -r
// dist/libs/workflow-host/workflow-stack-traces.js dist/apps/control/main.js`), and so into the Temporal SDK's workflow
// threads, which inherit the flag: see ADR 0044 and ADR 0052.
//
// In every thread that runs workflows, the SDK (1.24) installs a V8 promise hook that records a stack trace, mapped
// through the bundle's source map, for each promise a workflow creates, for the `__stack_trace` query (the Web UI's
// "Stack Trace" tab). A job's workflow creates 29 when its attempt succeeds; recording them was a sixth of control's
// CPU a job. With MLIS_WORKFLOW_STACK_TRACES false (the default) the hook is not installed, which the SDK already
// handles: the query answers "Workflow stack traces are not enabled on this worker", as on runtimes without promise
// hooks.
import { ConfigError, workflowStackTraces } from '@mlis/config/config';

/** Where the SDK keeps the hook; `workflow-stack-traces.spec.ts` fails when an SDK upgrade moves it. */
export const SDK_GLOBAL_HANDLERS_MODULE = '@temporalio/worker/lib/workflow/vm-shared';

interface GlobalHandlersClass {
  prototype: { setPromiseHook?: () => void };
}

export type WorkflowStackTracesState =
  | { state: 'on' }
  | { state: 'off' }
  /** Asked off, but this module was not preloaded (or the SDK moved the hook): the threads record them. */
  | { state: 'on'; notOff: string };

interface SdkGlobalHandlers {
  GlobalHandlers?: GlobalHandlersClass;
}

/**
 * Whether this thread's workflows record promise stack traces, and when not, the SDK's installer of the hook replaced
 * with one that installs nothing. `preloaded`: this module runs before the thread's main module; `sdk` loads the SDK
 * module that keeps the hook; `env`: the environment libs/config reads, the process's unless a test gives one.
 */
export function decideWorkflowStackTraces(
  preloaded: boolean,
  sdk: () => SdkGlobalHandlers,
  env?: Record<string, string | undefined>,
): WorkflowStackTracesState {
  let wanted: boolean;
  try {
    wanted = workflowStackTraces(env);
  } catch (error) {
    // loadConfig reports a bad value when the process starts; until then the SDK's default holds.
    if (error instanceof ConfigError) return { state: 'on' };
    throw error;
  }
  if (wanted) return { state: 'on' };
  if (!preloaded) return { state: 'on', notOff: 'this module was not preloaded (node -r dist/libs/workflow-host/workflow-stack-traces.js)' };
  const { GlobalHandlers } = sdk();
  if (typeof GlobalHandlers?.prototype.setPromiseHook !== 'function') {
    return { state: 'on', notOff: `the Temporal SDK has no GlobalHandlers.setPromiseHook in ${SDK_GLOBAL_HANDLERS_MODULE}` };
  }
  GlobalHandlers.prototype.setPromiseHook = () => undefined;
  return { state: 'off' };
}

// A module preloaded with -r runs before the thread's main module: require.main is not set yet.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const current = decideWorkflowStackTraces(require.main === undefined, () => require(SDK_GLOBAL_HANDLERS_MODULE) as SdkGlobalHandlers);

/** What this thread decided (the process's main thread logs it); each workflow thread decides the same way. */
export function workflowStackTracesState(): WorkflowStackTracesState {
  return current;
}
