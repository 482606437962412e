import { Global, Inject, Injectable, Logger, Module, type DynamicModule, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { Client } from '@temporalio/client';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../../../libs/config';
import { createDataSource, JobFinishedFeed, JobsRepository, LedgerRepository, NodesRepository } from '../../../libs/db';
import { connectClient, cycleOptions, Scheduler } from '../../../libs/temporal';
import { APP_CONFIG } from './app-config';

/** Closes what CoreModule opened, after the HTTP server stopped taking requests. */
@Injectable()
export class ConnectionsCloser implements OnApplicationShutdown {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(Client) private readonly client: Client,
    @Inject(JobFinishedFeed) private readonly finished: JobFinishedFeed,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.finished.close();
    await this.client.connection.close();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/** Config, Postgres (with the job-finished feed), the Temporal client and the repositories, each under its class token. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: AppConfig): DynamicModule {
    const shared: Provider[] = [
      { provide: APP_CONFIG, useValue: config },
      { provide: DataSource, useFactory: () => createDataSource(config.databaseUrl).initialize() },
      { provide: Client, useFactory: () => connectClient(config.temporal) },
      {
        // One LISTEN connection for every GET /v1/jobs/:id?wait= in this process.
        provide: JobFinishedFeed,
        useFactory: () => {
          const feed = new JobFinishedFeed(config.databaseUrl, (message) => new Logger('JobFinishedFeed').warn(message));
          feed.start();
          return feed;
        },
      },
      { provide: LedgerRepository, useFactory: (db: DataSource) => new LedgerRepository(db), inject: [DataSource] },
      { provide: JobsRepository, useFactory: (db: DataSource) => new JobsRepository(db), inject: [DataSource] },
      { provide: NodesRepository, useFactory: (db: DataSource) => new NodesRepository(db), inject: [DataSource] },
      {
        // The API runs a cycle when a node joins or is undrained, so waiting jobs need not wait for the control's timer.
        provide: Scheduler,
        useFactory: (ledger: LedgerRepository, client: Client) =>
          new Scheduler(ledger, client, cycleOptions(config.scheduling), (message) => new Logger('Scheduler').warn(message)),
        inject: [LedgerRepository, Client],
      },
    ];
    return {
      module: CoreModule,
      providers: [...shared, ConnectionsCloser],
      exports: shared,
    };
  }
}
