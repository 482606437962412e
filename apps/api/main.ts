import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { loadConfig, type AppConfig } from '@mlis/config';
import type { Tracing } from '@mlis/tracing';
import { AppModule } from './app.module';
import { TRACING } from './core/core.module';
import { createLogger, type PinoNestLogger } from './common/logger';
import { configureApp } from './configure-app';

/** The API, configured but not listening: `await app.listen(port, host)` (port 0 for a random one). */
export async function createApp(config: AppConfig, logger: PinoNestLogger): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    logger,
    // Start-up failures reject here instead of aborting the process.
    abortOnError: false,
  });
  configureApp(app, config);
  return app;
}

/**
 * On SIGTERM or SIGINT: the app's shutdown hooks (draining first), then every log line still to write, in order, then
 * exit 0. Nest's own handler raised the signal again, which lost those lines; its process.exit variant wrote them
 * around a write still under way, out of order.
 */
function stopOnSignals(app: NestExpressApplication, logger: PinoNestLogger): void {
  const stop = async (): Promise<void> => {
    try {
      await app.close();
    } catch (error) {
      logger.error(error, 'api');
      process.exitCode = 1;
    }
    await logger.close();
    process.exit();
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void stop());
}

export async function bootstrap(): Promise<NestExpressApplication> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const app = await createApp(config, logger);
  stopOnSignals(app, logger);
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
