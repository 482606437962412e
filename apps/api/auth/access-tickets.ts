import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiErrorCode } from '@mlis/contracts';
import { AccessTicketsRepository } from '@mlis/db';
import type { Actor } from '../common/actor';
import { DomainError } from '../common/domain-error';

export const ACCESS_TICKET_TTL_SECONDS = 30;

/**
 * Express answers HEAD with a GET route's handler, which would spend a single-use ticket and deliver nothing (a link
 * checker's HEAD): a route that redeems one refuses HEAD with 405 before it does.
 */
export function refuseHeadOfTicketRoute(req: Request, res: Response): void {
  if (req.method !== 'HEAD') return;
  res.setHeader('Allow', 'GET');
  throw new DomainError(ApiErrorCode.MethodNotAllowed, `HEAD is not allowed on ${req.path}: it would spend the single-use ticket; allowed: GET`);
}

function sha256(ticket: string): Buffer {
  return createHash('sha256').update(ticket).digest();
}

/**
 * Short-lived, single-use tickets for what a browser opens without a bearer token: the event stream (EventSource
 * cannot send headers, ADR 0014) and a download the browser saves itself, streamed to disk (ADR 0063). A bearer token
 * in a URL ends up in access logs and history; a ticket is worthless after one use or 30 s, and opens only what it
 * was issued for. Kept in Postgres by their SHA-256, so any API replica redeems what another issued.
 */
@Injectable()
export class AccessTickets {
  constructor(@Inject(AccessTicketsRepository) private readonly tickets: AccessTicketsRepository) {}

  /**
   * A ticket for `actor`, whose token was issued at `tokenIssuedAt` (a revocation of that token voids what it opens);
   * `opens`: null for the event stream, else the one download (`artifact/<id>`, `job-result/<id>`).
   */
  async issue(actor: Actor, tokenIssuedAt: number | null, opens: string | null): Promise<{ ticket: string; expiresAt: Date }> {
    const ticket = randomBytes(32).toString('base64url');
    const { kind, subject, tenantId, crossTenant } = actor;
    const holder = { kind, subject, tenantId, scopes: [...actor.scopes], crossTenant, tokenIssuedAt, opens };
    const expiresAt = await this.tickets.issue(sha256(ticket), holder, ACCESS_TICKET_TTL_SECONDS);
    return { ticket, expiresAt };
  }

  /**
   * The actor the ticket was issued to, its token's `iat` and what it opens, once; null for an unknown, used or
   * expired ticket. The caller checks `opens` against what it was asked for.
   */
  async redeem(ticket: string): Promise<{ actor: Actor; tokenIssuedAt: number | null; opens: string | null } | null> {
    const holder = await this.tickets.redeem(sha256(ticket));
    if (!holder) return null;
    const { tokenIssuedAt, opens, ...actor } = holder;
    return { actor: { ...actor, scopes: new Set(actor.scopes) }, tokenIssuedAt, opens };
  }
}
