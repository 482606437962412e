import type { WorkerGroup } from '../api-types';
import { ExitCode, printJson, type CliContext } from '../cli-context';
import { formatNumber, formatTable } from '../format';

/** One row per group: nodes by status, then used/total over the live nodes that jobs can be placed on. */
export function formatGroups(groups: WorkerGroup[]): string {
  return formatTable(
    ['GROUP', 'ACTIVE', 'DRAINING', 'DEAD', 'LIVE', 'SLOTS', 'CPU', 'MEM MB', 'GPUS', 'GPU MODELS', 'DESCRIPTION'],
    groups.map((group) => [
      group.name,
      String(group.nodes.active),
      String(group.nodes.draining),
      String(group.nodes.dead),
      String(group.live_nodes),
      `${group.used_slots}/${group.slots}`,
      `${formatNumber(group.used_cpu)}/${formatNumber(group.cpu)}`,
      `${group.used_mem_mb}/${group.mem_mb}`,
      `${group.used_gpus}/${group.gpu_count}`,
      group.gpu_models.length > 0 ? group.gpu_models.join(', ') : '-',
      group.description || '-',
    ]),
  );
}

/** GET /v1/worker-groups. */
export async function groupsCommand(context: CliContext): Promise<ExitCode> {
  const groups = await context.client.listWorkerGroups();
  if (context.json) printJson(context, groups);
  else context.out(groups.items.length > 0 ? formatGroups(groups.items) : 'no worker groups');
  return ExitCode.Ok;
}
