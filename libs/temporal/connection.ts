import { hostname } from 'node:os';
import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { TemporalConfig } from '@mlis/config';
import { tracingClientInterceptors } from '@mlis/tracing';

/**
 * A Temporal client for the configured namespace, tracing its starts and signals; close it with
 * `client.connection.close()`. It runs over the SDK's native connection, which a job workflow worker of the same
 * process shares (`nativeConnectionOf`): a start that asks for it then comes back with the workflow's first task
 * for that worker (ADR 0052).
 */
export async function connectClient(config: TemporalConfig, process: 'api' | 'control'): Promise<Client> {
  const connection = await NativeConnection.connect({ address: config.address });
  return new Client({
    connection,
    namespace: config.namespace,
    identity: temporalIdentity(process),
    interceptors: { workflow: tracingClientInterceptors() },
  });
}

/**
 * What a process's Temporal client and job workflow worker call themselves (`api:<pid>@<host>`): the Web UI names it on
 * every workflow task it ran, and on the first task of a workflow it started eagerly (ADR 0052).
 */
export function temporalIdentity(process: 'api' | 'control'): string {
  return `${process}:${globalThis.process.pid}@${hostname()}`;
}

/** The native connection under a client from `connectClient`, for a worker of the process to share. */
export function nativeConnectionOf(client: Client): NativeConnection {
  const { connection } = client;
  if (!(connection instanceof NativeConnection)) throw new Error('the Temporal client does not run over a native connection (connectClient)');
  return connection;
}
