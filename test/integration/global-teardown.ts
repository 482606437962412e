import { dropDatabase, readStackEnv, script, stack } from './support/stack-env';

/** Stops what the suite started and drops its database; Postgres itself stays up for the next run. */
export default async function globalTeardown(): Promise<void> {
  const env = readStackEnv();
  stack(env, 'stop');
  script('temporal/dev-server.sh', ['stop'], env.processEnv);
  dropDatabase(new URL(env.databaseUrl).pathname.slice(1));
}
