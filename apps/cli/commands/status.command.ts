import { ExitCode, printJson, type CliContext } from '../cli-context';
import { formatJob } from '../format';
import { followJob } from './job-waiter';

export interface StatusOptions {
  wait?: boolean;
  /** Seconds. */
  waitTimeout: number;
}

/**
 * GET /v1/jobs/:id as a readable block. The exit code says whether the lookup worked, not how the job ended;
 * with --wait it follows the job to its end and exits as `submit --wait` does.
 */
export async function statusCommand(context: CliContext, id: string, options: StatusOptions = { waitTimeout: 0 }): Promise<ExitCode> {
  const job = await context.client.getJob(id);
  if (options.wait) return followJob(context, job, options.waitTimeout);
  if (context.json) printJson(context, job);
  else context.out(formatJob(job));
  return ExitCode.Ok;
}
