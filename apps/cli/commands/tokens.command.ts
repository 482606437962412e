import type { TokenRevocation } from '../api-types';
import { ExitCode, printJson, type CliContext } from '../cli-context';
import { formatTable, formatTime } from '../format';

/** POST /v1/auth/revocations: every token of the holder issued up to now is refused from now on. */
export async function tokensRevokeCommand(context: CliContext, subject: string, tenant: string): Promise<ExitCode> {
  const revocation = await context.client.revokeTokens({ tenant_id: tenant, subject });
  if (context.json) printJson(context, revocation);
  else context.out(`revoked every token of ${revocation.subject} in tenant ${revocation.tenant_id} issued up to ${formatTime(revocation.revoked_at)}`);
  return ExitCode.Ok;
}

export function formatRevocations(revocations: TokenRevocation[]): string {
  return formatTable(
    ['TENANT', 'SUBJECT', 'REVOKED UP TO', 'BY'],
    revocations.map((r) => [r.tenant_id, r.subject, formatTime(r.revoked_at), r.revoked_by]),
  );
}

/** GET /v1/auth/revocations. */
export async function tokensRevokedCommand(context: CliContext): Promise<ExitCode> {
  const list = await context.client.listRevocations();
  if (context.json) printJson(context, list);
  else context.out(list.items.length > 0 ? formatRevocations(list.items) : 'no tokens revoked');
  return ExitCode.Ok;
}
