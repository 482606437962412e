/** One row of the append-only audit log, as written by the API. */
export interface AuditEventInput {
  requestId: string;
  actorTenant: string | null;
  actorSubject: string | null;
  targetTenant: string | null;
  /** Dotted verb, e.g. `job.submit`, `job.cancel`, `tenant.update`, `node.register`, `token.mint`, `auth.user_token` (a user token refused), `auth.scope`. */
  action: string;
  /** What was acted on, e.g. `job/<id>`, `tenant/<id>`, `node/<id>`, or the route for denials. */
  resource: string;
  result: 'allow' | 'deny';
  /** Why a request was denied: `invalid_token`, `missing_scope`, `other_tenant`, `rate_limited`, `quota_exceeded`, ... */
  reason: string | null;
  /**
   * How many refusals the row stands for; 1 when absent. Only the summary of denials collapsed by the API (ADR 0040)
   * has more: the refusals of its kind in its window beyond those written one row each.
   */
  occurrences?: number;
}

/** Writes audit rows; implemented over Postgres in libs/db/audit.repository.ts. */
export interface AuditRecorder {
  record(event: AuditEventInput): Promise<void>;
}
