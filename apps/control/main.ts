import { createArtifactStore } from '@mlis/artifacts';
import { loadConfig } from '@mlis/config';
import { CONTROL_TASK_QUEUE } from '@mlis/contracts';
import {
  ArtifactsRepository,
  AssignmentsRepository,
  createDataSource,
  JobFinishedNotices,
  JobsRepository,
  MetricsRepository,
  NodesRepository,
  SchedulingStore,
  TenantsRepository,
} from '@mlis/db';
import { createLogger, errorFields, temporalLogger } from '@mlis/logging';
import { rankedTenants } from '@mlis/metrics';
import { installWorkerRuntime } from '@mlis/metrics/worker-process-metrics';
import { connectClient, cycleOptions, JobWorkflowStarter, nativeConnectionOf, Scheduler } from '@mlis/temporal';
import { startTracing } from '@mlis/tracing';
import { createJobWorkflowWorker } from '@mlis/workflow-host';
import { workflowStackTracesState } from '@mlis/workflow-host/workflow-stack-traces';
import { ArtifactRetention } from './artifact-retention';
import { JobRetention } from './job-retention';
import { NodeReaper } from './node-reaper';
import { runPeriodicSteps, type PeriodicStep } from './periodic-steps';
import { TENANT_RANKING_INTERVAL_MS, TenantRankingRefresh } from './tenant-ranking';

// How often control looks for jobs past MLIS_JOB_RETENTION_DAYS: a day's retention is never more than this late.
const JOB_RETENTION_INTERVAL_MS = 10 * 60_000;
// How far back each tick looks for job workflows that closed without ending their job: a control restart or a missed
// tick within it loses nothing.
const CLOSED_WORKFLOW_LOOKBACK_SECONDS = 600;

/**
 * The control process: job workflows and ledger activities on the control queue, the scheduler's periodic cycle, the node
 * reaper, artifact and job retention, and (with a tenant label) the ranking its metrics name tenants by.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const tracing = startTracing('control', config.tracing);
  const logger = createLogger('control', config.logLevel);
  const log = (line: string): void => logger.info(line);
  // The job workflow worker warns when they were asked off and stay on.
  logger.info({ revision: config.metrics.buildRevision, tracing: tracing.enabled, workflow_stack_traces: workflowStackTracesState().state }, 'starting');
  const { metrics } = config;
  const metricsServer = await installWorkerRuntime({
    process: 'control',
    logger: temporalLogger(logger),
    coreThreads: config.temporal.coreThreads,
    host: metrics.host,
    port: metrics.controlPort,
    revision: metrics.buildRevision,
    byTenant: metrics.tenantLabelTopN !== null,
  });
  if (metricsServer) log(`metrics on http://${metrics.host}:${metrics.controlPort}/metrics`);
  const dataSource = createDataSource(config.databaseUrl);
  await dataSource.initialize();
  const client = await connectClient(config.temporal, 'control');
  const store = new SchedulingStore(dataSource);
  const finishedNotices = new JobFinishedNotices(dataSource, (line) => logger.warn(line));
  const assignments = new AssignmentsRepository(dataSource, finishedNotices);
  const jobs = new JobsRepository(dataSource);
  const { scheduling } = config;
  const starter = new JobWorkflowStarter(client, scheduling, tracing.enabled);
  const scheduler = new Scheduler(store, assignments, jobs, client, starter, cycleOptions(scheduling), (line) => logger.warn(line));

  const reaper = new NodeReaper(
    new NodesRepository(dataSource),
    (settledSeconds) => scheduler.withdrawPlacementsOnGoneNodes(settledSeconds),
    {
      deadAfterSeconds: scheduling.nodeDeadAfterSeconds,
      heartbeatSeconds: scheduling.nodeHeartbeatSeconds,
      retentionSeconds: scheduling.nodeRetentionSeconds,
    },
    log,
  );
  const retention = new ArtifactRetention(
    new ArtifactsRepository(dataSource),
    createArtifactStore(config.artifacts),
    config.artifacts.retentionIntervalSeconds * 1000,
    log,
  );
  const tenantRanking = new TenantRankingRefresh(new MetricsRepository(dataSource), rankedTenants, metrics.tenantLabelTopN, TENANT_RANKING_INTERVAL_MS, log);
  const jobRetention = new JobRetention(jobs, new TenantsRepository(dataSource), config.jobRetentionDays, JOB_RETENTION_INTERVAL_MS, log);

  let cycleTimer: NodeJS.Timeout | undefined;
  try {
    const worker = await createJobWorkflowWorker({
      connection: nativeConnectionOf(client),
      namespace: config.temporal.namespace,
      process: 'control',
      ledger: { scheduling: store, assignments, requestCycle: (reason) => scheduler.requestCycle(reason), laneWindow: scheduling.laneWindow },
      leaseSeconds: scheduling.leaseSeconds,
      logger,
      tracing,
    });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        log(`${signal}: draining`);
        // The Temporal runtime also shuts workers down on these signals; only the first call may.
        if (worker.getState() === 'RUNNING') worker.shutdown();
      });
    }
    reaper.start();
    retention.start();
    jobRetention.start();
    tenantRanking.start();
    // Events (submissions, releases, node joins) trigger cycles at once; this one catches what they
    // cannot: aging, a node whose heartbeat lapsed, a placement signal that was lost.
    // A placement older than schedule-to-start plus one tick was never dispatched: its workflow missed the signal.
    const staleAfterSeconds = scheduling.scheduleToStartSeconds + scheduling.cycleIntervalSeconds;
    const periodicSteps: PeriodicStep[] = [
      ['cycle', () => scheduler.requestCycle('timer')],
      ['stale placements', () => scheduler.nudgeStalePlacements(staleAfterSeconds)],
      // A victim that got its request stops at its next heartbeat, well within a lease: one still holding its place
      // after a lease most likely never got it.
      ['stale preemptions', () => scheduler.resendStalePreemptions(scheduling.leaseSeconds)],
      // A workflow an operator terminated leaves its job live in the ledger: ended within a tick (ADR 0042).
      ['closed workflows', () => scheduler.releaseClosedWorkflows(CLOSED_WORKFLOW_LOOKBACK_SECONDS)],
    ];
    cycleTimer = setInterval(() => {
      void runPeriodicSteps(periodicSteps, (step, error) => logger.warn({ ...errorFields(error), step }, 'periodic scheduling failed'));
    }, scheduling.cycleIntervalSeconds * 1000);
    log(`pid ${process.pid} polling ${CONTROL_TASK_QUEUE} ready`);
    await worker.run();
  } finally {
    clearInterval(cycleTimer);
    await reaper.stop();
    metricsServer?.close();
    await retention.stop();
    await jobRetention.stop();
    await tenantRanking.stop();
    await client.connection.close();
    // The last ends' notifications, before their connection goes.
    await finishedNotices.settled();
    await dataSource.destroy();
    await tracing.shutdown();
    log('stopped');
  }
}

main().catch((error: unknown) => {
  createLogger('control', 'info').fatal({ ...errorFields(error), stack: error instanceof Error ? error.stack : undefined }, 'control failed');
  process.exit(1);
});
