import { ExitCode, printJson, type CliContext } from '../cli-context';

function show(value: unknown): string {
  if (Array.isArray(value)) return value.join(' ');
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

/** GET /v1/auth/whoami: who the API takes the caller's token for (subject, tenant, scopes). */
export async function whoamiCommand(context: CliContext): Promise<ExitCode> {
  const identity = await context.client.whoami();
  if (context.json) {
    printJson(context, identity);
    return ExitCode.Ok;
  }
  const width = Math.max(...Object.keys(identity).map((key) => key.length)) + 1;
  for (const [key, value] of Object.entries(identity)) context.out(`${`${key}:`.padEnd(width)} ${show(value)}`);
  return ExitCode.Ok;
}
