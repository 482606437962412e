import type { AuditEventInput } from '@mlis/contracts';

/** The allow row of a change control makes on its own, with no request or user behind it: the actor is `control`. */
export function controlAuditRow(
  requestId: string,
  entry: Pick<AuditEventInput, 'action' | 'resource' | 'targetTenant'> & { reason?: string },
): AuditEventInput {
  return { requestId, actorTenant: null, actorSubject: 'control', result: 'allow', reason: null, ...entry };
}
