import { Global, Inject, Injectable, Logger, Module, type DynamicModule, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { Client } from '@temporalio/client';
import { DataSource } from 'typeorm';
import type { AppConfig } from '@mlis/config';
import { AssignmentsRepository, AuditRepository, createDataSource, JobFinishedFeed, JobFinishedNotices, JobsRepository, SchedulingStore } from '@mlis/db';
import { connectClient, cycleOptions, JobWorkflowStarter, Scheduler } from '@mlis/temporal';
import { startTracing, type Tracing } from '@mlis/tracing';
import { Access } from '../common/access';
import { APP_CONFIG } from './app-config';
import { Draining } from './draining';

/** The process's tracing (libs/tracing): started with the app, its buffered spans flushed at shutdown. */
export const TRACING = Symbol('TRACING');

/** The Temporal SDK's worker metrics as exposition text, which /metrics appends; null when the process has none. */
export const TEMPORAL_SDK_METRICS = Symbol('TEMPORAL_SDK_METRICS');
export type TemporalSdkMetrics = (() => Promise<string>) | null;

/** Closes what CoreModule opened, after the HTTP server stopped taking requests. */
@Injectable()
export class ConnectionsCloser implements OnApplicationShutdown {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(Client) private readonly client: Client,
    @Inject(JobFinishedFeed) private readonly finished: JobFinishedFeed,
    @Inject(JobFinishedNotices) private readonly notices: JobFinishedNotices,
    @Inject(TRACING) private readonly tracing: Tracing,
    @Inject(Access) private readonly access: Access,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.access.close();
    await this.finished.close();
    await this.client.connection.close();
    // The last ends' notifications, before their connection goes.
    await this.notices.settled();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    await this.tracing.shutdown();
    new Logger('api').log('stopped');
  }
}

/**
 * Config, Postgres (with the job-finished feed), tenant access and the audit log, the Temporal client, the job workflow
 * starter and the scheduler, each under its class token.
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: AppConfig, temporalSdkMetrics: TemporalSdkMetrics = null): DynamicModule {
    const shared: Provider[] = [
      { provide: APP_CONFIG, useValue: config },
      { provide: TEMPORAL_SDK_METRICS, useValue: temporalSdkMetrics },
      Draining,
      { provide: TRACING, useFactory: () => startTracing('api', config.tracing) },
      { provide: DataSource, useFactory: () => createDataSource(config.databaseUrl).initialize() },
      // One for the process: every route's deny rows go through its one collapser (ADR 0040).
      { provide: Access, useFactory: (audit: AuditRepository) => new Access(audit, config.auditDenialsPerMinute), inject: [AuditRepository] },
      // After TRACING, so the client's interceptors find the tracer provider registered.
      { provide: Client, useFactory: (_tracing: Tracing) => connectClient(config.temporal, 'api'), inject: [TRACING] },
      {
        // One LISTEN connection for every GET /v1/jobs/:id?wait= in this process.
        provide: JobFinishedFeed,
        useFactory: () => {
          const feed = new JobFinishedFeed(config.databaseUrl, (message) => new Logger('JobFinishedFeed').warn(message));
          feed.start();
          return feed;
        },
      },
      {
        // This process exports spans: the workflows it starts run the tracing interceptors (ADR 0019).
        provide: JobWorkflowStarter,
        useFactory: (client: Client) => new JobWorkflowStarter(client, config.scheduling, config.tracing.otlpEndpoint !== null),
        inject: [Client],
      },
      {
        // The API runs a cycle for each burst of submissions, so a new job's workflow can start with its placement (ADR 0031),
        // and when a node joins or is undrained, so waiting jobs need not wait for the control's timer.
        provide: Scheduler,
        useFactory: (store: SchedulingStore, assignments: AssignmentsRepository, jobs: JobsRepository, client: Client, starter: JobWorkflowStarter) =>
          new Scheduler(store, assignments, jobs, client, starter, cycleOptions(config.scheduling), (message) => new Logger('Scheduler').warn(message)),
        inject: [SchedulingStore, AssignmentsRepository, JobsRepository, Client, JobWorkflowStarter],
      },
    ];
    return {
      module: CoreModule,
      providers: [...shared, ConnectionsCloser],
      exports: shared,
    };
  }
}
