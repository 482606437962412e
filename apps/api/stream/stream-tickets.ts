import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Actor } from '../common/actor';

export const STREAM_TICKET_TTL_SECONDS = 30;

interface Entry {
  actor: Actor;
  expiresAt: number;
}

/**
 * Short-lived, single-use tickets for the event stream. EventSource cannot send headers, and a bearer
 * token in a URL ends up in access logs and history; a ticket is worthless after one use or 30 s.
 * Kept in this process: the stream is served by the process that issued the ticket (one API process; see ADR 0014).
 */
@Injectable()
export class StreamTickets {
  private readonly tickets = new Map<string, Entry>();

  issue(actor: Actor, now = Date.now()): { ticket: string; expiresAt: Date } {
    this.prune(now);
    const ticket = randomBytes(32).toString('base64url');
    const expiresAt = now + STREAM_TICKET_TTL_SECONDS * 1000;
    this.tickets.set(ticket, { actor, expiresAt });
    return { ticket, expiresAt: new Date(expiresAt) };
  }

  /** The actor the ticket was issued to, once; null for an unknown, used or expired ticket. */
  redeem(ticket: string, now = Date.now()): Actor | null {
    const entry = this.tickets.get(ticket);
    this.tickets.delete(ticket);
    return entry && entry.expiresAt > now ? entry.actor : null;
  }

  private prune(now: number): void {
    for (const [ticket, entry] of this.tickets) if (entry.expiresAt <= now) this.tickets.delete(ticket);
  }
}
