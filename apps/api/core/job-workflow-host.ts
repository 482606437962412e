import type { INestApplication } from '@nestjs/common';
import { Client } from '@temporalio/client';
import type { AppConfig } from '@mlis/config';
import { AssignmentsRepository, SchedulingStore } from '@mlis/db';
import { errorFields, type Logger } from '@mlis/logging';
import { nativeConnectionOf, Scheduler } from '@mlis/temporal';
import type { Tracing } from '@mlis/tracing';
import { createJobWorkflowWorker } from '@mlis/workflow-host';
import { workflowStackTracesState } from '@mlis/workflow-host/workflow-stack-traces';
import { TRACING } from './core.module';

/** The job workflow worker an API process runs beside its HTTP server; stop it before the app closes. */
export interface JobWorkflowHost {
  /** Lets the workflow tasks under way finish; the workflows it ran go on in another worker. */
  stop(): Promise<void>;
}

/**
 * Runs the job workflows and their ledger activities in this API process, on the control queue and over the native
 * connection its Temporal client uses, so that the workflow of each job it accepts starts eagerly: its first task comes
 * back with the start and runs here at once, and the workflow stays in this worker's cache for its later tasks (ADR
 * 0052). `failed` is called if the worker stops for any reason but `stop()`.
 */
export async function startJobWorkflowHost(
  app: INestApplication,
  config: AppConfig,
  logger: Logger,
  failed: (error: unknown) => void,
): Promise<JobWorkflowHost> {
  const scheduler = app.get(Scheduler);
  const worker = await createJobWorkflowWorker({
    connection: nativeConnectionOf(app.get(Client)),
    namespace: config.temporal.namespace,
    process: 'api',
    ledger: {
      scheduling: app.get(SchedulingStore),
      assignments: app.get(AssignmentsRepository),
      requestCycle: (reason) => scheduler.requestCycle(reason),
      laneWindow: config.scheduling.laneWindow,
    },
    leaseSeconds: config.scheduling.leaseSeconds,
    logger,
    tracing: app.get<Tracing>(TRACING),
  });
  let stopping = false;
  const running = worker.run().then(
    () => {
      if (!stopping) failed(new Error('the job workflow worker stopped'));
    },
    (error: unknown) => {
      if (!stopping) failed(error);
      else logger.warn(errorFields(error), 'the job workflow worker failed while stopping');
    },
  );
  logger.info({ workflow_stack_traces: workflowStackTracesState().state }, 'running job workflows');
  return {
    async stop() {
      stopping = true;
      // The Temporal runtime also shuts workers down on SIGINT/SIGTERM; only the first call may.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}
