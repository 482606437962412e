import { NativeConnection, Worker } from '@temporalio/worker';
import { createLedgerActivities, type LedgerActivityDeps } from '../../activities/ledger.activities';
import { CONTROL_TASK_QUEUE } from '@mlis/contracts';
import { temporalIdentity } from '@mlis/temporal';
import { activityLoggingInterceptors, type Logger } from '@mlis/logging';
import { tracingActivityInterceptors, type Tracing } from '@mlis/tracing';
import { jobWorkflowBundle } from './workflow-bundle';
import { workflowStackTracesState } from './workflow-stack-traces';

/**
 * Workflow tasks a worker holds at once, the SDK's 40 by default. An eager start takes one for its first task, or goes
 * to the control queue when none is free: with 40, a burst of 50 submissions sent about a fifth of its first tasks
 * there, and control spent 3.4 ms a job on them against 0.3-0.6 with 100 (quick runs at 50 clients, ADR 0052).
 */
const WORKFLOW_TASK_SLOTS = 100;

export interface JobWorkflowWorkerOptions {
  /** The connection the process's Temporal client uses: its starts then hand this worker their first task (ADR 0052). */
  connection: NativeConnection;
  namespace: string;
  /** The process, in the worker's identity (temporalIdentity). */
  process: 'api' | 'control';
  ledger: LedgerActivityDeps;
  /**
   * MLIS_LEASE_SECONDS. A workflow's next task waits this long on the sticky queue of the worker that ran its last one
   * before any worker may take it (the SDK's 10 s otherwise), so a workflow host that was killed holds its jobs up no
   * longer than a killed node holds its attempts.
   */
  leaseSeconds: number;
  logger: Logger;
  tracing: Tracing;
}

/**
 * The job workflows and the ledger activities on the control queue. Control runs one; so does every API process, which
 * starts the workflows of the jobs it accepts eagerly and so runs them itself (ADR 0052). Any of them takes any
 * workflow task: a workflow whose worker stopped goes on in another.
 */
export function createJobWorkflowWorker({ connection, namespace, process, ledger, leaseSeconds, logger, tracing }: JobWorkflowWorkerOptions): Promise<Worker> {
  const stackTraces = workflowStackTracesState();
  if ('notOff' in stackTraces) logger.warn(`MLIS_WORKFLOW_STACK_TRACES is false but workflow stack traces stay on: ${stackTraces.notOff}`);
  return Worker.create({
    connection,
    namespace,
    taskQueue: CONTROL_TASK_QUEUE,
    identity: temporalIdentity(process),
    workflowBundle: jobWorkflowBundle(),
    activities: createLedgerActivities(ledger),
    // Tracing first: the logging interceptor's lines then carry the activity span's trace_id. The workflow
    // interceptors are in the bundle.
    interceptors: {
      activity: [tracingActivityInterceptors, activityLoggingInterceptors(logger, 'debug')],
    },
    sinks: tracing.workflowSinks,
    maxConcurrentWorkflowTaskExecutions: WORKFLOW_TASK_SLOTS,
    stickyQueueScheduleToStartTimeout: leaseSeconds * 1000,
    // isolateExecutionTimeout stays the SDK's: its watchdog costs about 2 ms of CPU a job, and without it a workflow
    // that never yielded would hold every job workflow of the process (ADR 0059).
  });
}
