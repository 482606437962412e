// Builds the real Nest app (modules, pipes, filter, middleware) over in-memory fakes.
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { Client } from '@temporalio/client';
import { DataSource } from 'typeorm';
import { loadConfig, type AppConfig } from '../../../libs/config';
import { JobsRepository, LedgerRepository, NodesRepository } from '../../../libs/db';
import { CapacityWaker } from '../../../libs/temporal';
import { AppModule } from '../app.module';
import { configureApp } from '../configure-app';
import {
  FakeCapacityWaker,
  FakeDataSource,
  FakeJobsRepository,
  FakeLedgerRepository,
  FakeNodesRepository,
  FakeTemporalClient,
} from './fakes';

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  jobs: FakeJobsRepository;
  nodes: FakeNodesRepository;
  ledger: FakeLedgerRepository;
  waker: FakeCapacityWaker;
  temporal: FakeTemporalClient;
  db: FakeDataSource;
}

/** `env` goes through loadConfig, as the real process's environment would. */
export async function createTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const config = loadConfig({ MLIS_API_BODY_LIMIT_BYTES: '4096', ...env });
  const fakes = {
    jobs: new FakeJobsRepository(),
    nodes: new FakeNodesRepository(),
    ledger: new FakeLedgerRepository(),
    waker: new FakeCapacityWaker(),
    temporal: new FakeTemporalClient(),
    db: new FakeDataSource(),
  };
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
    .overrideProvider(DataSource)
    .useValue(fakes.db)
    .overrideProvider(Client)
    .useValue(fakes.temporal)
    .overrideProvider(JobsRepository)
    .useValue(fakes.jobs)
    .overrideProvider(NodesRepository)
    .useValue(fakes.nodes)
    .overrideProvider(LedgerRepository)
    .useValue(fakes.ledger)
    .overrideProvider(CapacityWaker)
    .useValue(fakes.waker)
    .compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, logger: false });
  configureApp(app, config);
  await app.init();
  return { app, config, ...fakes };
}
