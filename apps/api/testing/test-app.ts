// Builds the real Nest app (modules, pipes, filter, middleware) over in-memory fakes.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Response } from 'express';
import { Test } from '@nestjs/testing';
import { Client } from '@temporalio/client';
import { DataSource } from 'typeorm';
import { mintUserToken, mintWorkerToken, readDevSecret, SCOPES, type Actor, type UserTokenClaims, type WorkerTokenClaims } from '@mlis/auth';
import { loadConfig, type AppConfig } from '@mlis/config';
import {
  ArtifactsRepository,
  AssignmentsRepository,
  AuditRepository,
  JobFinishedFeed,
  JobsRepository,
  NodesRepository,
  AccessTicketsRepository,
  TenantsRepository,
  TokenRevocationsRepository,
} from '@mlis/db';
import { Scheduler } from '@mlis/temporal';
import { AppModule } from '../app.module';
import { ApiAuthGuard } from '../auth/auth.guard';
import type { AuthenticatedRequest } from '../auth/auth.decorators';
import { requestIdOf } from '../common/request-context';
import { configureApp } from '../configure-app';
import { FakeArtifactsRepository } from './artifact-fakes';
import { FakeAuditRepository, FakeTenantsRepository, FakeTokenRevocationsRepository } from './audit-fakes';
import {
  FakeScheduler,
  FakeDataSource,
  FakeJobFinishedFeed,
  FakeAssignmentsRepository,
  FakeJobsRepository,
  FakeNodesRepository,
  FakeAccessTicketsRepository,
  FakeTemporalClient,
} from './fakes';

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  jobs: FakeJobsRepository;
  nodes: FakeNodesRepository;
  assignments: FakeAssignmentsRepository;
  scheduler: FakeScheduler;
  temporal: FakeTemporalClient;
  db: FakeDataSource;
  audit: FakeAuditRepository;
  tenants: FakeTenantsRepository;
  artifacts: FakeArtifactsRepository;
  finished: FakeJobFinishedFeed;
  accessTickets: FakeAccessTicketsRepository;
  tokenRevocations: FakeTokenRevocationsRepository;
  /** The install's HS256 secret (a 0600 temp file unless `env` names one). */
  secret: string;
  /** A user token for this app (defaults: tenant default, subject anonymous, every scope). */
  userToken(claims?: Partial<UserTokenClaims>, ttlSeconds?: number): string;
  workerToken(claims: WorkerTokenClaims): string;
}

/** Who the fixed guard says every caller is: the spine's anonymous caller of the default tenant, with every scope. */
export const FIXED_ACTOR: Actor = {
  kind: 'user',
  subject: 'anonymous',
  tenantId: 'default',
  scopes: new Set(SCOPES),
  crossTenant: false,
};

/** Stands in for the real guard in specs about something else than authentication. */
@Injectable()
class FixedActorGuard implements CanActivate {
  constructor(private readonly actor: Actor) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const req = http.getRequest<AuthenticatedRequest>();
    req.actor = { ...this.actor, requestId: requestIdOf(http.getResponse<Response>()) };
    // As the real guard does for a user token: one issued now.
    if (this.actor.kind === 'user') req.tokenIssuedAt = Math.floor(Date.now() / 1000);
    return true;
  }
}

export interface TestAppOptions {
  /** 'real' runs the real token guard; the default lets every request through as `actor`. */
  auth?: 'fixed' | 'real';
  actor?: Actor;
}

function writeSecret(): { file: string; secret: string } {
  const secret = randomBytes(48).toString('base64');
  const file = join(mkdtempSync(join(tmpdir(), 'mlis-test-app-')), 'dev-signing-key');
  writeFileSync(file, secret, { mode: 0o600 });
  return { file, secret };
}

/** `env` goes through loadConfig, as the real process's environment would. */
export async function createTestApp(env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const generated = env.MLIS_AUTH_DEV_SECRET_FILE === undefined ? writeSecret() : undefined;
  const config = loadConfig({
    MLIS_API_BODY_LIMIT_BYTES: '4096',
    // The fs artifact store's bytes, in a fresh folder per app.
    MLIS_ARTIFACTS_DIR: mkdtempSync(join(tmpdir(), 'mlis-test-artifacts-')),
    ...(generated ? { MLIS_AUTH_DEV_SECRET_FILE: generated.file } : {}),
    ...env,
  });
  const audit = new FakeAuditRepository();
  const fakes = {
    jobs: new FakeJobsRepository(audit),
    nodes: new FakeNodesRepository(),
    assignments: new FakeAssignmentsRepository(),
    scheduler: new FakeScheduler(),
    temporal: new FakeTemporalClient(),
    db: new FakeDataSource(),
    audit,
    tenants: new FakeTenantsRepository(),
    artifacts: new FakeArtifactsRepository(),
    finished: new FakeJobFinishedFeed(),
    accessTickets: new FakeAccessTicketsRepository(),
    tokenRevocations: new FakeTokenRevocationsRepository(),
  };
  const builder = Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
    .overrideProvider(DataSource)
    .useValue(fakes.db)
    .overrideProvider(Client)
    .useValue(fakes.temporal)
    .overrideProvider(JobsRepository)
    .useValue(fakes.jobs)
    .overrideProvider(NodesRepository)
    .useValue(fakes.nodes)
    .overrideProvider(AssignmentsRepository)
    .useValue(fakes.assignments)
    .overrideProvider(Scheduler)
    .useValue(fakes.scheduler)
    .overrideProvider(AuditRepository)
    .useValue(fakes.audit)
    .overrideProvider(TenantsRepository)
    .useValue(fakes.tenants)
    .overrideProvider(ArtifactsRepository)
    .useValue(fakes.artifacts)
    .overrideProvider(JobFinishedFeed)
    .useValue(fakes.finished)
    .overrideProvider(AccessTicketsRepository)
    .useValue(fakes.accessTickets)
    .overrideProvider(TokenRevocationsRepository)
    .useValue(fakes.tokenRevocations);
  if (options.auth !== 'real') builder.overrideProvider(ApiAuthGuard).useValue(new FixedActorGuard(options.actor ?? FIXED_ACTOR));
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, logger: false });
  configureApp(app, config);
  await app.init();
  // After start-up, which refuses a missing or exposed secret file itself.
  const secret = generated?.secret ?? readDevSecret(config.auth.devSecretFile);
  return {
    app,
    config,
    ...fakes,
    secret,
    userToken: (claims = {}, ttlSeconds) =>
      mintUserToken(secret, config.auth, { sub: 'anonymous', tenant: 'default', scope: SCOPES.join(' '), ...claims }, ttlSeconds),
    workerToken: (claims) => mintWorkerToken(secret, config.auth, claims),
  };
}
