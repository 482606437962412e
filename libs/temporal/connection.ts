import { Client, Connection } from '@temporalio/client';
import type { TemporalConfig } from '../config';

/** A Temporal client for the configured namespace; close it with `client.connection.close()`. */
export async function connectClient(config: TemporalConfig): Promise<Client> {
  const connection = await Connection.connect({ address: config.address });
  return new Client({ connection, namespace: config.namespace });
}
