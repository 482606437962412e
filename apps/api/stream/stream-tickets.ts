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

  async issue(actor: Actor): Promise<{ ticket: string; expiresAt: Date }> {
    const ticket = randomBytes(32).toString('base64url');
    const holder = { kind: actor.kind, subject: actor.subject, tenantId: actor.tenantId, scopes: [...actor.scopes], crossTenant: actor.crossTenant };
    const expiresAt = await this.tickets.issue(sha256(ticket), holder, STREAM_TICKET_TTL_SECONDS);
    return { ticket, expiresAt };
  }

  /** The actor the ticket was issued to, once; null for an unknown, used or expired ticket. */
  async redeem(ticket: string): Promise<Actor | null> {
    const holder = await this.tickets.redeem(sha256(ticket));
    return holder && { ...holder, scopes: new Set(holder.scopes) };
  }
}
