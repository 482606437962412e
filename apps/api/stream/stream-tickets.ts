import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { StreamTicketsRepository } from '@mlis/db';
import type { Actor } from '../common/actor';

export const STREAM_TICKET_TTL_SECONDS = 30;

function sha256(ticket: string): Buffer {
  return createHash('sha256').update(ticket).digest();
}

/**
 * Short-lived, single-use tickets for the event stream. EventSource cannot send headers, and a bearer
 * token in a URL ends up in access logs and history; a ticket is worthless after one use or 30 s.
 * Kept in Postgres by their SHA-256, so any API replica redeems what another issued (ADR 0014).
 */
@Injectable()
export class StreamTickets {
  constructor(@Inject(StreamTicketsRepository) private readonly tickets: StreamTicketsRepository) {}

  /** A ticket for `actor`, whose token was issued at `tokenIssuedAt` (its stream ends when that token is revoked). */
  async issue(actor: Actor, tokenIssuedAt: number | null): Promise<{ ticket: string; expiresAt: Date }> {
    const ticket = randomBytes(32).toString('base64url');
    const { kind, subject, tenantId, crossTenant } = actor;
    const holder = { kind, subject, tenantId, scopes: [...actor.scopes], crossTenant, tokenIssuedAt };
    const expiresAt = await this.tickets.issue(sha256(ticket), holder, STREAM_TICKET_TTL_SECONDS);
    return { ticket, expiresAt };
  }

  /** The actor the ticket was issued to and its token's `iat`, once; null for an unknown, used or expired ticket. */
  async redeem(ticket: string): Promise<{ actor: Actor; tokenIssuedAt: number | null } | null> {
    const holder = await this.tickets.redeem(sha256(ticket));
    if (!holder) return null;
    const { tokenIssuedAt, ...actor } = holder;
    return { actor: { ...actor, scopes: new Set(actor.scopes) }, tokenIssuedAt };
  }
}
