import { Inject, Injectable } from '@nestjs/common';
import { AuditRepository, type AuditEventRecord } from '@mlis/db';
import { decodeAuditCursor, decodeAuditExportCursor, encodeAuditCursor, encodeAuditExportCursor } from './audit-cursor';
import {
  DEFAULT_AUDIT_EXPORT_PAGE_SIZE,
  DEFAULT_AUDIT_PAGE_SIZE,
  type AuditEventDto,
  type AuditExportPageDto,
  type AuditExportQueryDto,
  type AuditPageDto,
  type AuditQueryDto,
} from './audit.dto';

function toDto(event: AuditEventRecord): AuditEventDto {
  return {
    id: event.id,
    at: event.at.toISOString(),
    request_id: event.requestId,
    actor_tenant: event.actorTenant,
    actor_subject: event.actorSubject,
    target_tenant: event.targetTenant,
    action: event.action,
    resource: event.resource,
    result: event.result,
    reason: event.reason,
    occurrences: event.occurrences,
  };
}

/** Reads the audit log for administrators; writing happens where the audited change happens. */
@Injectable()
export class AuditService {
  constructor(@Inject(AuditRepository) private readonly audit: AuditRepository) {}

  async list(query: AuditQueryDto): Promise<AuditPageDto> {
    const limit = query.limit ?? DEFAULT_AUDIT_PAGE_SIZE;
    const events = await this.audit.list(
      {
        action: query.action,
        result: query.result,
        actorTenant: query.actor_tenant,
        targetTenant: query.target_tenant,
        resource: query.resource,
        since: query.since === undefined ? undefined : new Date(query.since),
        until: query.until === undefined ? undefined : new Date(query.until),
      },
      query.cursor === undefined ? undefined : decodeAuditCursor(query.cursor),
      // One extra row tells whether another page exists.
      limit + 1,
    );
    const page = events.slice(0, limit);
    return {
      items: page.map(toDto),
      next_cursor: events.length > limit ? encodeAuditCursor(page[page.length - 1].id) : null,
    };
  }

  /** The next events in export order: a complete, resumable feed for a log shipper (ADR 0035). */
  async exportPage(query: AuditExportQueryDto): Promise<AuditExportPageDto> {
    const after = query.cursor === undefined ? null : decodeAuditExportCursor(query.cursor);
    const page = await this.audit.exportAfter(after, query.limit ?? DEFAULT_AUDIT_EXPORT_PAGE_SIZE);
    const last = page.events.at(-1);
    return {
      items: page.events.map(toDto),
      next_cursor: last ? encodeAuditExportCursor(last.position) : (query.cursor ?? null),
      has_more: page.more,
    };
  }
}
