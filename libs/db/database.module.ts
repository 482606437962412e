import { Global, Logger, Module, type Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ArtifactsRepository } from './artifacts.repository';
import { AssignmentsRepository } from './assignments.repository';
import { AuditRepository } from './audit.repository';
import { JobFinishedNotices } from './job-finished-feed';
import { JobsRepository } from './jobs.repository';
import { MetricsRepository } from './metrics.repository';
import { NodesRepository } from './nodes.repository';
import { SchedulingStore } from './scheduling/scheduling.store';
import { AccessTicketsRepository } from './access-tickets.repository';
import { TenantsRepository } from './tenants.repository';
import { TokenRevocationsRepository } from './token-revocations.repository';

/** Every repository: each is built on the process's DataSource, which the process provides. */
const REPOSITORIES = [
  ArtifactsRepository,
  AssignmentsRepository,
  AuditRepository,
  JobsRepository,
  MetricsRepository,
  NodesRepository,
  SchedulingStore,
  AccessTicketsRepository,
  TenantsRepository,
  TokenRevocationsRepository,
];

const providers: Provider[] = [
  // A notification it could not send is worth a line in the log; the process lets the last ones go out before its
  // DataSource closes.
  {
    provide: JobFinishedNotices,
    useFactory: (dataSource: DataSource) => new JobFinishedNotices(dataSource, (message) => new Logger(JobFinishedNotices.name).warn(message)),
    inject: [DataSource],
  },
  ...REPOSITORIES.map((repository) => ({
    provide: repository,
    useFactory: (dataSource: DataSource, notices: JobFinishedNotices) =>
      // The one repository that notifies.
      repository === AssignmentsRepository ? new AssignmentsRepository(dataSource, notices) : new repository(dataSource),
    inject: [DataSource, JobFinishedNotices],
  })),
];

/** Provides every repository under its class token, and the job-finished notices they send, to every module of a Nest application. */
@Global()
@Module({ providers, exports: [...REPOSITORIES, JobFinishedNotices] })
export class DatabaseModule {}
