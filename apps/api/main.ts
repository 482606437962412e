import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { loadConfig, type AppConfig } from '@mlis/config';
import type { Tracing } from '@mlis/tracing';
import { AppModule } from './app.module';
import { TRACING } from './core/core.module';
import { createLogger } from './common/logger';
import { configureApp } from './configure-app';

/** The API, configured but not listening: `await app.listen(port, host)` (port 0 for a random one). */
export async function createApp(config: AppConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    logger: createLogger(config.logLevel),
    // Start-up failures reject here instead of aborting the process.
    abortOnError: false,
  });
  // Ends with process.exit() once the shutdown hooks are done, rather than by raising the signal again: 'exit' is
  // what flushes the logger's buffer, which held the last requests' lines and the shutdown's own.
  app.enableShutdownHooks([], { useProcessExit: true });
  configureApp(app, config);
  return app;
}

export async function bootstrap(): Promise<NestExpressApplication> {
  const config = loadConfig();
  const app = await createApp(config);
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
