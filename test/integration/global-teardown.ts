import { dropDatabase, readStackEnv, script, stack } from './support/stack-env';

/** Stops what the suite started and drops its database; Postgres stays up only if it was up before the suite. */
export default async function globalTeardown(): Promise<void> {
  const env = readStackEnv();
  stack(env, 'stop');
  script('temporal/dev-server.sh', ['stop'], env.processEnv);
  dropDatabase(new URL(env.databaseUrl).pathname.slice(1));
  if (env.startedPostgres) script('scripts/postgres.sh', ['stop']);
}
