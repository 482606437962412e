import { ExitCode, printJson, type CliContext } from '../cli-context';
import { formatJob } from '../format';

/** GET /v1/jobs/:id as a readable block. The exit code says whether the lookup worked, not how the job ended. */
export async function statusCommand(context: CliContext, id: string): Promise<ExitCode> {
  const job = await context.client.getJob(id);
  if (context.json) printJson(context, job);
  else context.out(formatJob(job));
  return ExitCode.Ok;
}
