import { readFile, rename, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTransient } from '../api-client';
import type { AuditEvent, AuditExportPage, AuditQuery } from '../api-types';
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
      // A summary of collapsed denials says how many refusals it stands for (ADR 0040).
      e.occurrences > 1 ? `${e.reason ?? '-'} ×${e.occurrences}` : (e.reason ?? '-'),
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

export interface AuditExportOptions {
  cursor?: string;
  /** Read the cursor to start from here (when the file exists), and store the next one after each page is written. */
  cursorFile?: string;
  follow?: boolean;
  limit?: number;
}

// How long --follow waits when nothing is ready, or after the API failed, before it asks again.
const DEFAULT_FOLLOW_INTERVAL_MS = 2_000;

/**
 * GET /v1/audit/export: every event from a cursor, oldest first, one JSON object a line. A shipper run with a cursor
 * file resumes where it stopped: an event is written before the cursor past it, so one may be written twice after a
 * crash (its id tells), never lost. --follow keeps asking, through API restarts, until it is stopped.
 */
export async function auditExportCommand(context: CliContext, options: AuditExportOptions): Promise<ExitCode> {
  if (options.cursor !== undefined && options.cursorFile !== undefined) throw new UsageError('give --cursor or --cursor-file, not both');
  let cursor = options.cursor ?? (options.cursorFile === undefined ? undefined : await readCursor(options.cursorFile));
  const intervalMs = context.io.pollIntervalMs ?? DEFAULT_FOLLOW_INTERVAL_MS;
  for (;;) {
    let page: AuditExportPage;
    try {
      // With --follow this loop rides out failures itself, at its own pace.
      page = await context.client.exportAudit({ cursor, limit: options.limit }, { retry: !options.follow });
    } catch (error) {
      if (!options.follow || !isTransient(error)) throw error;
      await sleep(intervalMs);
      continue;
    }
    for (const event of page.items) context.out(JSON.stringify(event));
    if (page.next_cursor !== null && page.next_cursor !== cursor) {
      cursor = page.next_cursor;
      if (options.cursorFile !== undefined) await writeCursor(options.cursorFile, cursor);
    }
    if (page.has_more) continue;
    if (!options.follow) break;
    await sleep(intervalMs);
  }
  if (options.cursorFile === undefined && cursor !== undefined) context.err(`next cursor: ${cursor}`);
  return ExitCode.Ok;
}

async function readCursor(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim() || undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Replaces the file whole (a temporary file renamed over it), so a crash leaves the old cursor or the new one. */
async function writeCursor(file: string, cursor: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${cursor}\n`);
  await rename(temporary, file);
}
