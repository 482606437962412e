import type { Actor } from '../../../libs/auth/claims';

export type { Actor };

/** The verified caller of one request, with the request id its audit rows carry. Services take it as a parameter. */
export interface RequestActor extends Actor {
  requestId: string;
}

/** Whether the actor may act on `tenantId`'s resources under `scope`: its own tenant, or the scope plus the capability. */
export function mayAccessTenant(actor: Actor, tenantId: string, scope: string): boolean {
  return actor.tenantId === tenantId || (actor.crossTenant && actor.scopes.has(scope));
}
