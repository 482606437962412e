import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInstant, UTC_INSTANT_PATTERN } from '../common/date-time-pattern';
import { IsPlainText, PLAIN_TEXT_PATTERN } from '../common/plain-text';
import { IntegerQuery } from '../common/validation';
import { AUDIT_CURSOR_PATTERN, AUDIT_EXPORT_CURSOR_PATTERN } from './audit-cursor';
import { IsIn, IsInt, IsOptional, IsString, Length, Max, MaxLength, Min } from 'class-validator';

export const AUDIT_RESULTS = ['allow', 'deny'] as const;
export const DEFAULT_AUDIT_PAGE_SIZE = 50;
export const MAX_AUDIT_PAGE_SIZE = 500;
export const DEFAULT_AUDIT_EXPORT_PAGE_SIZE = 500;
export const MAX_AUDIT_EXPORT_PAGE_SIZE = 5000;

export class AuditQueryDto {
  @ApiPropertyOptional({ description: 'Only this action, e.g. job.submit, job.cancel, tenant.update, auth.scope (a token without the scope a route needs).', minLength: 1, maxLength: 100, pattern: PLAIN_TEXT_PATTERN })
  @IsOptional()
  @IsPlainText()
  @Length(1, 100)
  action?: string;

  @ApiPropertyOptional({ description: 'Only allowed or only denied requests.', enum: AUDIT_RESULTS })
  @IsOptional()
  @IsIn(AUDIT_RESULTS)
  result?: 'allow' | 'deny';

  @ApiPropertyOptional({ description: 'Only events whose caller belongs to this tenant.', minLength: 1, maxLength: 100, pattern: PLAIN_TEXT_PATTERN })
  @IsOptional()
  @IsPlainText()
  @Length(1, 100)
  actor_tenant?: string;

  @ApiPropertyOptional({ description: 'Only events that acted on this tenant.', minLength: 1, maxLength: 100, pattern: PLAIN_TEXT_PATTERN })
  @IsOptional()
  @IsPlainText()
  @Length(1, 100)
  target_tenant?: string;

  @ApiPropertyOptional({ description: 'Only events on exactly this resource, e.g. job/<id>.', example: 'job/0b9f3c1e-8a57-4c1b-9d0e-2f6a3b7c8d9e', minLength: 1, maxLength: 300, pattern: PLAIN_TEXT_PATTERN })
  @IsOptional()
  @IsPlainText()
  @Length(1, 300)
  resource?: string;

  @ApiPropertyOptional({ description: 'Only events at or after this instant (ISO 8601, UTC).', format: 'date-time', pattern: UTC_INSTANT_PATTERN })
  @IsOptional()
  @IsInstant()
  since?: string;

  @ApiPropertyOptional({ description: 'Only events before this instant (ISO 8601, UTC).', format: 'date-time', pattern: UTC_INSTANT_PATTERN })
  @IsOptional()
  @IsInstant()
  until?: string;

  @ApiPropertyOptional({ description: 'Page size.', type: 'integer', minimum: 1, maximum: MAX_AUDIT_PAGE_SIZE, default: DEFAULT_AUDIT_PAGE_SIZE })
  @IsOptional()
  @IntegerQuery()
  @IsInt()
  @Min(1)
  @Max(MAX_AUDIT_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({ description: 'next_cursor of the previous page: the id of its last event.', pattern: AUDIT_CURSOR_PATTERN, example: '1234' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  cursor?: string;
}

export class AuditEventDto {
  @ApiProperty({ description: 'Event id; increases with insertion.' })
  id: string;

  @ApiProperty({ description: 'When it was recorded.', format: 'date-time' })
  at: string;

  @ApiProperty({ description: 'X-Request-ID of the request that caused it.' })
  request_id: string;

  @ApiProperty({ description: "Caller's tenant (null when the caller could not be identified).", type: String, nullable: true })
  actor_tenant: string | null;

  @ApiProperty({ description: "Caller's subject (user, or node:<id> for workers).", type: String, nullable: true })
  actor_subject: string | null;

  @ApiProperty({ description: 'Tenant acted on.', type: String, nullable: true })
  target_tenant: string | null;

  @ApiProperty({ description: 'Dotted verb, e.g. job.submit.' })
  action: string;

  @ApiProperty({ description: 'What was acted on, e.g. job/<id>, tenant/<id>, or a route for denials.' })
  resource: string;

  @ApiProperty({ description: 'Whether the request was allowed.', enum: AUDIT_RESULTS })
  result: 'allow' | 'deny';

  @ApiProperty({ description: 'Why it was denied (e.g. invalid_token, missing_scope, rate_limited).', type: String, nullable: true })
  reason: string | null;

  @ApiProperty({
    description:
      'How many requests the event stands for: 1, except for the summary of a kind of denial (the same action, resource, reason, caller and ' +
      'target) that one API process refused more often in a minute than MLIS_AUDIT_DENIALS_PER_MINUTE rows allow; it counts the refusals ' +
      'past those rows, and its request_id is the last one.',
    type: 'integer',
    minimum: 1,
  })
  occurrences: number;
}

export class AuditPageDto {
  @ApiProperty({ description: 'Events, newest first.', type: [AuditEventDto] })
  items: AuditEventDto[];

  @ApiProperty({ description: 'Cursor of the next (older) page; null on the last page.', type: String, nullable: true })
  next_cursor: string | null;
}

export class AuditExportQueryDto {
  @ApiPropertyOptional({
    description: 'next_cursor of the previous page; none: from the first event.',
    pattern: AUDIT_EXPORT_CURSOR_PATTERN,
    example: '48213.1234',
  })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  cursor?: string;

  @ApiPropertyOptional({ description: 'Page size.', type: 'integer', minimum: 1, maximum: MAX_AUDIT_EXPORT_PAGE_SIZE, default: DEFAULT_AUDIT_EXPORT_PAGE_SIZE })
  @IsOptional()
  @IntegerQuery()
  @IsInt()
  @Min(1)
  @Max(MAX_AUDIT_EXPORT_PAGE_SIZE)
  limit?: number;
}

export class AuditExportPageDto {
  @ApiProperty({
    description:
      'Events after the cursor in export order (by the transaction that wrote them, then by id; close to time order), only those whose ' +
      'transaction and every earlier one have ended: an event committed later never lands before the cursor.',
    type: [AuditEventDto],
  })
  items: AuditEventDto[];

  @ApiProperty({
    description: 'Where the next page starts: the last event of this page, else the cursor given (null when none was given and nothing was ready). Keep it to resume.',
    type: String,
    nullable: true,
    pattern: AUDIT_EXPORT_CURSOR_PATTERN,
  })
  next_cursor: string | null;

  @ApiProperty({ description: 'More events are ready now: ask again at once. False: ask again later (poll), new events follow the cursor.' })
  has_more: boolean;
}
