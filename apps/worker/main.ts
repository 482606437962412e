import { appendFileSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createExecutionActivities } from '../../activities/execution.activities';
import { loadConfig, loadModelConfig, loadNodeConfig } from '@mlis/config';
import { activityLogger, activityLoggingInterceptors, createLogger, errorFields, temporalLogger } from '@mlis/logging';
import { installWorkerRuntime } from '@mlis/metrics/worker-process-metrics';
import { ModelHost } from '@mlis/models';
import { createRunners } from '@mlis/runners';
import { startTracing, tracingActivityInterceptors } from '@mlis/tracing';
import { ApiEndpoints } from './api-endpoints';
import { GpuProbeError, probeGpus } from './gpu-probe';
import { NodeArtifacts } from './node-artifacts';
import { NodeRegistration, registerNodeRequest } from './node-registration';
import { runAssignmentSpanInterceptors } from './run-assignment-span.interceptor';
import { runsInProgressInterceptors } from './runs-in-progress.interceptor';

// In-flight work gets this long to finish after SIGTERM; then it is cancelled, and the process
// exits by the force time even if something hangs (both below the stack's 10 s SIGKILL).
const SHUTDOWN_GRACE = '5s';
const SHUTDOWN_FORCE = '8s';
const HEARTBEAT_THROTTLE = '1s';
const EXIT_SUPERSEDED = 3;

/** The secret a node proves itself with at registration; the file's path is logged, its contents never. */
function readBootstrapSecret(file: string): string {
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new Error(`cannot read the worker bootstrap secret at ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}); run scripts/secrets.sh`);
  }
  if (secret === '') throw new Error(`the worker bootstrap secret file ${file} is empty; run scripts/secrets.sh`);
  return secret;
}

/** One executor node: registers with the ledger, heartbeats, and runs assignments from its own queue. */
async function main(): Promise<void> {
  const config = loadConfig();
  const node = loadNodeConfig();
  const modelConfig = loadModelConfig();
  const models = new ModelHost(modelConfig);
  const tracing = startTracing('node', config.tracing, { 'service.instance.id': node.nodeId, 'mlis.group': node.group });
  const logger = createLogger('node', config.logLevel, { node: node.nodeId, group: node.group });
  // Inside an activity, its job's fields (job_id, attempt, workflow_id) come with the line.
  const nodeLog = (line: string): void => activityLogger(logger).info(line);
  logger.info({ revision: config.metrics.buildRevision, tracing: tracing.enabled }, 'starting');
  const gpus = await probeGpus(node);
  const inventory = gpus.map((gpu) => `${gpu.index}: ${gpu.model} ${gpu.memory_mb} MiB`).join('; ');
  nodeLog(`GPUs (${node.gpuProbe}): ${inventory || 'none'}`);
  nodeLog(`models: ${modelConfig.modelDir}, providers ${modelConfig.onnxProviders.join(',')}, batches of ${modelConfig.batchMaxSize} within ${modelConfig.batchMaxWaitMs} ms`);
  let worker: Worker | undefined;
  let stopping = false;
  // Registered, and the worker polls the node's queue.
  let polling = false;
  const { metrics } = config;
  const metricsServer = await installWorkerRuntime({
    process: 'node',
    logger: temporalLogger(logger),
    coreThreads: config.temporal.coreThreads,
    host: metrics.host,
    port: node.metricsPort,
    revision: metrics.buildRevision,
    labels: { group: node.group, node: node.nodeId },
    readiness: () => {
      const ready = polling && !stopping;
      return { ready, node: node.nodeId, pid: process.pid, incarnation: ready ? (registration.registration?.incarnation ?? null) : null };
    },
  });
  if (metricsServer) nodeLog(`metrics on http://${metrics.host}:${node.metricsPort}/metrics, readiness on /health/ready`);

  let leaving: Promise<void> = Promise.resolve();
  const stop = (why: string): void => {
    if (stopping) return;
    nodeLog(`${why}: stopping`);
    stopping = true;
    // First, so nothing more is placed on this node while its work drains.
    leaving = registration.leave();
    // The Temporal runtime also shuts workers down on SIGINT/SIGTERM; only the first call may.
    if (worker?.getState() === 'RUNNING') worker.shutdown();
  };
  // One list for both: a transfer goes where the heartbeats last got an answer, and the other way round.
  const api = new ApiEndpoints(node.apiUrls);
  const registration = new NodeRegistration({
    api,
    bootstrapSecret: readBootstrapSecret(config.auth.workerBootstrapSecretFile),
    request: registerNodeRequest(node, gpus, hostname(), process.pid),
    log: nodeLog,
    onFatal: (reason) => {
      process.exitCode = EXIT_SUPERSEDED;
      stop(reason);
    },
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stop(signal));

  const registered = await registration.register().catch((error: unknown) => {
    if (stopping) return undefined;
    throw error;
  });
  if (!registered) return;
  nodeLog(`registered as incarnation ${registered.incarnation}`);
  const artifacts = new NodeArtifacts({
    api,
    cacheDir: node.artifactCacheDir,
    // The registration renews the token when it registers again.
    token: () => (registration.registration ?? registered).worker_token,
    tokenSettled: () => registration.settled(),
  });
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  try {
    worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: registered.task_queue,
      identity: `${node.nodeId}@${hostname()}:${process.pid}`,
      activities: createExecutionActivities({
        runners: createRunners({ models }),
        artifacts,
        inlinePayloadMaxBytes: config.inlinePayloadMaxBytes,
        reportStarted: ({ assignmentId, runningForMs }) => registration.reportStarted(assignmentId, runningForMs),
        startReportDelayMs: node.startReportDelayMs,
        log: nodeLog,
        // Synchronous append: the record is on disk before the result leaves the process.
        recordCompletion: node.executionLogFile
          ? (done) => appendFileSync(node.executionLogFile!, `${JSON.stringify({ ...done, node_id: node.nodeId, pid: process.pid })}\n`)
          : undefined,
      }),
      maxConcurrentActivityTaskExecutions: node.slots,
      shutdownGraceTime: SHUTDOWN_GRACE,
      shutdownForceTime: SHUTDOWN_FORCE,
      // Cancellation reaches an activity only in a heartbeat's reply; the SDK's default throttle
      // (80% of the lease) would let a cancelled job run on for seconds.
      maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
      // Tracing first: the runAssignment span and the log lines sit inside the activity's span.
      interceptors: {
        activity: [tracingActivityInterceptors, runAssignmentSpanInterceptors(node), runsInProgressInterceptors, activityLoggingInterceptors(logger, 'debug')],
      },
    });
    const running = worker.run();
    if (stopping) {
      // A signal arrived while connecting: drain at once (run() has made the worker RUNNING).
      worker.shutdown();
    } else {
      registration.start();
      polling = true;
      nodeLog(`group ${node.group} pid ${process.pid} queue ${registered.task_queue} ready`);
    }
    await running;
  } catch (error) {
    if (!stopping) throw error;
    // Assignments abandoned at shutdown hold the worker past the force time (the SDK then fails
    // run() or its finalisation): expected, their leases expire and the jobs are placed elsewhere.
    nodeLog(`forced shutdown (${error instanceof Error ? error.message : String(error)}); in-flight assignments left to their leases`);
  } finally {
    // The leave's answer first: stop() closes the registration's connections, the leave's among them, and a worker
    // with nothing to hand back stops before the API answers.
    await leaving;
    registration.stop();
    metricsServer?.close();
    await models.close();
    await connection.close().catch(() => undefined);
    await tracing.shutdown();
    nodeLog('stopped');
  }
}

// Exit explicitly: after a forced shutdown native handles of abandoned work may keep the loop alive.
main().then(
  () => process.exit(),
  (error: unknown) => {
    // A failed GPU probe is an operator's problem to fix, not a bug: its message says what to do.
    const why = error instanceof GpuProbeError ? { error: error.message } : { ...errorFields(error), stack: error instanceof Error ? error.stack : undefined };
    createLogger('node', 'info').fatal(why, 'worker failed');
    process.exit(1);
  },
);
