import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { loadConfig, type AppConfig } from '@mlis/config';
import { temporalLogger } from '@mlis/logging';
import { installTemporalRuntime } from '@mlis/metrics/worker-process-metrics';
import type { Tracing } from '@mlis/tracing';
import { AppModule } from './app.module';
import { TRACING, type TemporalSdkMetrics } from './core/core.module';
import { startJobWorkflowHost, type JobWorkflowHost } from './core/job-workflow-host';
import { createLogger, type PinoNestLogger } from './common/logger';
import { configureApp } from './configure-app';

/** The API, configured but not listening: `await app.listen(port, host)` (port 0 for a random one). */
export async function createApp(config: AppConfig, logger: PinoNestLogger, temporalSdkMetrics: TemporalSdkMetrics = null): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, temporalSdkMetrics), {
    bodyParser: false,
    logger,
    // Start-up failures reject here instead of aborting the process.
    abortOnError: false,
  });
  configureApp(app, config);
  return app;
}

/**
 * Stops on SIGTERM or SIGINT, or when the job workflow worker fails (exit 1): the worker first, while the database and
 * the Temporal connection its tasks use are still open, then the app's shutdown hooks (draining first), then every log
 * line still to write, in order, then exit. Nest's own handler raised the signal again, which lost those lines; its
 * process.exit variant wrote them around a write still under way, out of order.
 */
function stopper(app: NestExpressApplication, logger: PinoNestLogger, workflows: () => JobWorkflowHost | undefined): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    try {
      await workflows()?.stop();
      await app.close();
    } catch (error) {
      logger.error(error, 'api');
      process.exitCode = 1;
    }
    await logger.close();
    process.exit();
  };
  return () => (stopping ??= stop());
}

export async function bootstrap(): Promise<NestExpressApplication> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  // Before the first Temporal connection: the SDK's lines in this log, its worker's metrics on this /metrics, and its
  // core's threads.
  const sdkMetricsLabels = config.api.jobWorkflows ? {} : null;
  const temporalSdkMetrics = (await installTemporalRuntime(temporalLogger(logger.pino), sdkMetricsLabels, config.temporal.coreThreads)) ?? null;
  const app = await createApp(config, logger, temporalSdkMetrics);
  let workflows: JobWorkflowHost | undefined;
  const stop = stopper(app, logger, () => workflows);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void stop());
  if (config.api.jobWorkflows) {
    workflows = await startJobWorkflowHost(app, config, logger.pino, (error) => {
      logger.fatal(error, 'the job workflow worker failed; stopping');
      process.exitCode = 1;
      void stop();
    });
  }
  await app.listen(config.api.port, config.api.host);
  const tracing = app.get<Tracing>(TRACING).enabled;
  Logger.log({ msg: 'listening', url: `http://${config.api.host}:${config.api.port}`, pid: process.pid, tracing }, 'api');
  return app;
}

if (require.main === module) {
  bootstrap().catch((error: unknown) => {
    console.error(JSON.stringify({ level: 'fatal', context: 'api', message: 'start-up failed', error: String(error) }));
    process.exit(1);
  });
}
