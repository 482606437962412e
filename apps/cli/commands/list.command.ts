import type { JobState } from '@mlis/contracts/states';
import type { ListJobsQuery } from '../api-types';
import { ExitCode, printJson, type CliContext } from '../cli-context';
import { formatJobList } from '../format';

/** `mlis list`'s options; the API checks the values (a malformed time is its 400 `validation_failed`). */
export interface ListOptions {
  limit?: number;
  state?: JobState;
  taskType?: string;
  group?: string;
  node?: string;
  submittedBy?: string;
  since?: string;
  until?: string;
  tenant?: string;
  cursor?: string;
}

/** GET /v1/jobs with the given filters, newest first; prints the cursor of the next page when there is one. */
export async function listCommand(context: CliContext, options: ListOptions): Promise<ExitCode> {
  const query: ListJobsQuery = {
    limit: options.limit,
    state: options.state,
    task_type: options.taskType,
    worker_group: options.group,
    node: options.node,
    submitted_by: options.submittedBy,
    created_after: options.since,
    created_before: options.until,
    tenant: options.tenant,
    cursor: options.cursor,
  };
  const page = await context.client.listJobs(query);
  if (context.json) {
    printJson(context, page);
    return ExitCode.Ok;
  }
  context.out(page.items.length > 0 ? formatJobList(page.items) : 'no jobs');
  if (page.next_cursor) context.out(`next cursor: ${page.next_cursor}`);
  return ExitCode.Ok;
}
