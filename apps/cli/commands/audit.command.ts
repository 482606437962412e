import type { AuditEvent, AuditQuery } from '../api-types';
import { UsageError } from '../arguments';
import { ExitCode, printJson, type CliContext } from '../cli-context';
import { formatTable, formatTime } from '../format';

export function parseAuditResult(raw: string): 'allow' | 'deny' {
  if (raw !== 'allow' && raw !== 'deny') throw new UsageError(`--result must be allow or deny, got "${raw}"`);
  return raw;
}

export function formatAuditEvents(events: AuditEvent[]): string {
  return formatTable(
    ['AT', 'RESULT', 'ACTION', 'ACTOR', 'TARGET', 'RESOURCE', 'REASON', 'REQUEST_ID'],
    events.map((e) => [
      formatTime(e.at),
      e.result,
      e.action,
      `${e.actor_tenant ?? '-'}/${e.actor_subject ?? '-'}`,
      e.target_tenant ?? '-',
      e.resource,
      e.reason ?? '-',
      e.request_id,
    ]),
  );
}

/** GET /v1/audit, newest first; prints the cursor of the next page when there is one. */
export async function auditCommand(context: CliContext, query: AuditQuery): Promise<ExitCode> {
  const page = await context.client.listAudit(query);
  if (context.json) {
    printJson(context, page);
    return ExitCode.Ok;
  }
  context.out(page.items.length > 0 ? formatAuditEvents(page.items) : 'no audit events');
  if (page.next_cursor) context.out(`next cursor: ${page.next_cursor}`);
  return ExitCode.Ok;
}
