import { readStackEnv, script, stack } from './support/stack-env';

/** Stops the processes and the Temporal dev server the suite started; Postgres stays up for the next run. */
export default async function globalTeardown(): Promise<void> {
  const env = readStackEnv();
  stack(env, 'stop');
  script('temporal/dev-server.sh', ['stop'], env.processEnv);
}
