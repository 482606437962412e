import type { DataSource } from 'typeorm';
import { updateReturning } from './sql';

/** Whom a ticket was issued to, and what it opens. */
export interface TicketHolder {
  kind: 'user' | 'worker';
  subject: string;
  tenantId: string;
  scopes: string[];
  crossTenant: boolean;
  /** The `iat` (epoch seconds) of the token the ticket was issued with; null when it had none. */
  tokenIssuedAt: number | null;
  /** null: the event stream (ADR 0014); else the one download it is for, `artifact/<id>` or `job-result/<id>` (ADR 0063). */
  opens: string | null;
}

interface TicketRow {
  kind: 'user' | 'worker';
  subject: string;
  tenant_id: string;
  scopes: string[];
  cross_tenant: boolean;
  token_issued_at: string | null;
  opens: string | null;
  live: boolean;
}

/**
 * Single-use tickets that stand in for a bearer token where a browser cannot send one: the console's event stream
 * (ADR 0014) and its downloads (ADR 0063). In Postgres (the table keeps the name of its first use, `stream_tickets`) so
 * that any API replica redeems what another issued, once. Tickets are looked up by their SHA-256 (the caller hashes),
 * and expire by the database's clock.
 */
export class AccessTicketsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Stores a ticket valid for `ttlSeconds`; returns when it expires. Expired tickets go with each issue. */
  async issue(ticketSha256: Buffer, holder: TicketHolder, ttlSeconds: number): Promise<Date> {
    await this.dataSource.query(`DELETE FROM stream_tickets WHERE expires_at < now()`);
    const rows: { expires_at: Date }[] = await this.dataSource.query(
      `INSERT INTO stream_tickets (ticket_sha256, kind, subject, tenant_id, scopes, cross_tenant, token_issued_at, opens, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))
       RETURNING expires_at`,
      [ticketSha256, holder.kind, holder.subject, holder.tenantId, holder.scopes, holder.crossTenant, holder.tokenIssuedAt, holder.opens, ttlSeconds],
    );
    return rows[0].expires_at;
  }

  /** The holder, once: the ticket is gone after this call; null for an unknown, used or expired one. */
  async redeem(ticketSha256: Buffer): Promise<TicketHolder | null> {
    const [row] = await updateReturning<TicketRow>(
      this.dataSource,
      `DELETE FROM stream_tickets WHERE ticket_sha256 = $1
       RETURNING kind, subject, tenant_id, scopes, cross_tenant, token_issued_at, opens, expires_at > now() AS live`,
      [ticketSha256],
    );
    if (!row?.live) return null;
    return {
      kind: row.kind,
      subject: row.subject,
      tenantId: row.tenant_id,
      scopes: row.scopes,
      crossTenant: row.cross_tenant,
      // bigint comes back as a string.
      tokenIssuedAt: row.token_issued_at === null ? null : Number(row.token_issued_at),
      opens: row.opens,
    };
  }
}
