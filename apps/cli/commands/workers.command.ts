import { ExitCode, printJson, type CliContext } from '../cli-context';
import { formatWorkers } from '../format';

/** GET /v1/workers: every registered node with its used/total capacity. */
export async function workersCommand(context: CliContext): Promise<ExitCode> {
  const workers = await context.client.listWorkers();
  if (context.json) printJson(context, workers);
  else context.out(workers.items.length > 0 ? formatWorkers(workers.items, context.now()) : 'no workers registered');
  return ExitCode.Ok;
}

/** POST /v1/workers/:id/drain|undrain. */
export async function drainCommand(context: CliContext, nodeId: string, draining: boolean): Promise<ExitCode> {
  const node = await context.client.setDraining(nodeId, draining);
  if (context.json) printJson(context, node);
  else context.out(`${node.node_id} ${node.status}`);
  return ExitCode.Ok;
}
