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
}

/** Writes audit rows; implemented over Postgres in libs/db/audit.repository.ts. */
export interface AuditRecorder {
  record(event: AuditEventInput): Promise<void>;
}
