/** Route scopes. A token carries them space-separated in `scope` (RFC 8693 / RFC 9068 style). */
export const SCOPES = [
  'jobs:submit',
  'jobs:read',
  'jobs:cancel',
  'admin:workers',
  'admin:tenants',
  'admin:audit',
  'artifacts:read',
  'artifacts:write',
] as const;
export type Scope = (typeof SCOPES)[number];

/** JOSE `typ` header of each token kind: a token of one kind is refused where the other is expected. */
export const USER_TOKEN_TYPE = 'at+jwt';
export const WORKER_TOKEN_TYPE = 'mlis-worker+jwt';

/** Claims of a user access token, beyond iss/aud/exp/nbf/iat/jti. */
export interface UserTokenClaims {
  sub: string;
  tenant: string;
  scope: string;
  /** Capability to act on other tenants' resources; also needs the route's scope. */
  mlis_cross_tenant?: boolean;
}

/** Claims of a worker token: bound to one node incarnation. */
export interface WorkerTokenClaims {
  sub: string;
  node_id: string;
  incarnation: number;
}

/** Who is calling, as the API sees it after verification. */
export interface Actor {
  kind: 'user' | 'worker';
  subject: string;
  tenantId: string;
  scopes: ReadonlySet<string>;
  crossTenant: boolean;
}

export function parseScopes(scope: string | undefined): Set<string> {
  return new Set((scope ?? '').split(' ').filter(Boolean));
}
