import { Inject, Injectable } from '@nestjs/common';
import { AuditRepository, type AuditEventRecord } from '@mlis/db';
import { decodeAuditCursor, encodeAuditCursor } from './audit-cursor';
import { DEFAULT_AUDIT_PAGE_SIZE, type AuditEventDto, type AuditPageDto, type AuditQueryDto } from './audit.dto';

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
}
