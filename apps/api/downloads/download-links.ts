import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import type { AccessTickets } from '../auth/access-tickets';
import type { Actor } from '../common/actor';

/** What a download link opens: an artifact's bytes, or a SUCCEEDED job's whole result. */
export type DownloadTarget = { kind: 'artifact'; id: string } | { kind: 'job-result'; id: string };

const OPENS = /^(artifact|job-result)\/([0-9a-f-]{36})$/;

/** The target a ticket's `opens` names; null for the event stream's tickets, or anything else. */
export function downloadTargetOf(opens: string | null): DownloadTarget | null {
  const match = opens === null ? null : OPENS.exec(opens);
  return match ? { kind: match[1] as DownloadTarget['kind'], id: match[2] } : null;
}

export class DownloadLinkResponseDto {
  @ApiProperty({
    description: 'GET it (no Authorization header: the link is the credential) to save the bytes as an attachment; once, within 30 s.',
    example: '/v1/downloads?ticket=2Jb0…',
  })
  url: string;

  @ApiProperty({ description: 'When it stops being accepted.', format: 'date-time' })
  expires_at: string;
}

export class DownloadQueryDto {
  @ApiProperty({ description: 'The ticket of a link from a download-link route (never a bearer token).', minLength: 1, maxLength: 100 })
  @IsString()
  @Length(1, 100)
  ticket: string;
}

/**
 * A single-use link to `target` for `actor` (ADR 0063), whose right to read it the caller has checked: the download
 * checks it again, as the ticket's holder, when the link is opened.
 */
export async function issueDownloadLink(
  tickets: AccessTickets,
  actor: Actor,
  tokenIssuedAt: number | null,
  target: DownloadTarget,
): Promise<DownloadLinkResponseDto> {
  const { ticket, expiresAt } = await tickets.issue(actor, tokenIssuedAt, `${target.kind}/${target.id}`);
  return { url: `/v1/downloads?ticket=${ticket}`, expires_at: expiresAt.toISOString() };
}
