import { Client, Connection } from '@temporalio/client';
import type { TemporalConfig } from '@mlis/config';
import { tracingClientInterceptors } from '@mlis/tracing';

/** A Temporal client for the configured namespace, tracing its starts and signals; close it with `client.connection.close()`. */
export async function connectClient(config: TemporalConfig): Promise<Client> {
  const connection = await Connection.connect({ address: config.address });
  return new Client({ connection, namespace: config.namespace, interceptors: { workflow: tracingClientInterceptors() } });
}
