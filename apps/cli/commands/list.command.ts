import type { ListJobsQuery } from '../api-types';
import { ExitCode, printJson, type CliContext } from '../cli-context';
import { formatJobList } from '../format';

/** GET /v1/jobs, newest first; prints the cursor of the next page when there is one. */
export async function listCommand(context: CliContext, query: ListJobsQuery): Promise<ExitCode> {
  const page = await context.client.listJobs(query);
  if (context.json) {
    printJson(context, page);
    return ExitCode.Ok;
  }
  context.out(page.items.length > 0 ? formatJobList(page.items) : 'no jobs');
  if (page.next_cursor) context.out(`next cursor: ${page.next_cursor}`);
  return ExitCode.Ok;
}
