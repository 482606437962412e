import { Inject, Injectable } from '@nestjs/common';
import { AuditRepository, type AuditEventRecord } from '../../../libs/db/audit.repository';
import { validationFailed } from '../common/validation';
import { DEFAULT_AUDIT_PAGE_SIZE, type AuditEventDto, type AuditPageDto, type AuditQueryDto } from './audit.dto';

const CURSOR_PREFIX = 'a:';

/** Opaque to callers: base64url of `a:<id>`. */
export function encodeAuditCursor(id: string): string {
  return Buffer.from(`${CURSOR_PREFIX}${id}`, 'utf8').toString('base64url');
}

export function decodeAuditCursor(value: string): string {
  const text = Buffer.from(value, 'base64url').toString('utf8');
  const id = text.startsWith(CURSOR_PREFIX) ? text.slice(CURSOR_PREFIX.length) : '';
  if (!/^[1-9][0-9]{0,18}$/.test(id)) throw validationFailed([{ field: 'cursor', problem: 'cursor is not one this API issued' }]);
  return id;
}

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
