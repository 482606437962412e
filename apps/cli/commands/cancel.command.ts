import { ExitCode, printJson, type CliContext } from '../cli-context';

/** POST /v1/jobs/:id/cancel. The job may still show RUNNING until its workflow has released the node. */
export async function cancelCommand(context: CliContext, id: string): Promise<ExitCode> {
  const job = await context.client.cancelJob(id);
  if (context.json) printJson(context, job);
  else context.out(`cancel requested: ${job.id} ${job.state}`);
  return ExitCode.Ok;
}
