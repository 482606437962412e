import { Logger, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Scope } from '@mlis/auth';
import type { AuditEventInput } from '@mlis/contracts';
import type { AuditRepository } from '@mlis/db';
import type { Actor, RequestActor } from './actor';
import { DenialCollapser } from './denial-collapser';

/** How long a window of the denial collapser lasts: the "minute" of MLIS_AUDIT_DENIALS_PER_MINUTE. */
export const DENIAL_WINDOW_MS = 60_000;

/** Who an audit row names as acting: a verified caller, or (before anyone is verified) the request and a node's subject when known. */
export type AuditCaller = RequestActor | { requestId: string; subject: string | null };

/** What an audit row records beyond who acted and whether it was allowed. */
export interface AuditEntry {
  action: string;
  /** What was acted on, e.g. `job/<id>`, `tenant/<id>`, or the route for a refused request. */
  resource: string;
  targetTenant: string | null;
  /** Why it was denied; for an allowed change, what changed (or nothing). */
  reason?: string | null;
}

/** The one way an audit row is built: only a user acts for a tenant, nodes and unverified callers for none. */
function auditEvent(caller: AuditCaller, result: 'allow' | 'deny', entry: AuditEntry): AuditEventInput {
  return {
    requestId: caller.requestId,
    actorTenant: 'kind' in caller && caller.kind === 'user' ? caller.tenantId : null,
    actorSubject: caller.subject,
    targetTenant: entry.targetTenant,
    action: entry.action,
    resource: entry.resource,
    result,
    reason: entry.reason ?? null,
  };
}

/** Whether the actor may act on every tenant's resources under `scope`: the cross-tenant capability plus the scope. */
export function actsAcrossTenants(actor: Actor, scope: Scope): boolean {
  return actor.crossTenant && actor.scopes.has(scope);
}

/** An allowed action; its allow row is written where the change it records commits (reads write none). */
export interface Grant {
  /** Inside `manager`'s transaction when given; throws when the row cannot be written, failing the change with it. */
  record(manager?: EntityManager): Promise<void>;
}

/**
 * Tenant access and the audit log in one place (after immich's `requireAccess`): who may act on which tenant's
 * resources, and the allow and deny rows that record it. One per API process (CoreModule), so that the deny rows of
 * every route go through one collapser: past `denialsPerMinute` refusals of a kind in a minute, one summary row counts
 * the rest (ADR 0040).
 */
export class Access implements OnModuleInit {
  private readonly logger = new Logger(Access.name);
  private readonly denials: DenialCollapser;
  private window: NodeJS.Timeout | undefined;

  constructor(
    private readonly audit: Pick<AuditRepository, 'record'>,
    denialsPerMinute: number,
  ) {
    this.denials = new DenialCollapser(denialsPerMinute);
  }

  onModuleInit(): void {
    this.window = setInterval(() => void this.endDenialWindow(), DENIAL_WINDOW_MS);
    this.window.unref();
  }

  /**
   * Writes the last window's summaries. ConnectionsCloser calls it once the HTTP server has answered its last request
   * (so a refusal answered while the API drained is counted too) and before it closes the database connection.
   */
  async close(): Promise<void> {
    clearInterval(this.window);
    await this.endDenialWindow();
  }

  /** Writes the summary row of each kind of refusal the window collapsed, and starts a new window. */
  async endDenialWindow(): Promise<void> {
    for (const summary of this.denials.endWindow()) await this.writeDenial(summary);
  }

  /**
   * Whether `actor` may do `action` on `resource` of `tenant`: its own tenant's, or another's with `scope` and the
   * cross-tenant capability (a null scope: its own tenant's only). A denial writes a deny row `other_tenant`
   * (best effort) and answers null; the caller answers it like a missing resource, so nothing leaks across tenants.
   */
  async require(actor: RequestActor, tenant: string, scope: Scope | null, action: string, resource: string): Promise<Grant | null> {
    const entry = { action, resource, targetTenant: tenant };
    if (actor.tenantId === tenant || (scope !== null && actsAcrossTenants(actor, scope))) {
      return { record: (manager) => this.allow(actor, entry, manager) };
    }
    await this.deny(actor, { ...entry, reason: 'other_tenant' });
    return null;
  }

  /** Writes an allow row, inside `manager`'s transaction when given; throws when it cannot, so the change fails with it. */
  async allow(caller: AuditCaller, entry: AuditEntry, manager?: EntityManager): Promise<void> {
    await this.audit.record(this.allowRow(caller, entry), manager);
  }

  /** The allow row of an action, for a repository that writes it in the statement making the change (a job's submission). */
  allowRow(caller: AuditCaller, entry: AuditEntry): AuditEventInput {
    return auditEvent(caller, 'allow', entry);
  }

  /**
   * Writes a deny row, or counts it into its kind's summary when the kind had its minute's rows. Best effort: the
   * request is refused whether or not the row could be written.
   */
  async deny(caller: AuditCaller, entry: AuditEntry): Promise<void> {
    const row = auditEvent(caller, 'deny', entry);
    if (this.denials.admit(row)) await this.writeDenial(row);
  }

  private async writeDenial(row: AuditEventInput): Promise<void> {
    try {
      await this.audit.record(row);
    } catch (error) {
      this.logger.error({
        msg: 'audit write failed for a denial',
        request_id: row.requestId,
        action: row.action,
        reason: row.reason,
        occurrences: row.occurrences ?? 1,
        error: String(error),
      });
    }
  }
}
