import type { Whoami } from '../api/client';

export type Scope = 'jobs:submit' | 'jobs:read' | 'jobs:cancel' | 'admin:workers' | 'admin:tenants' | 'admin:audit' | 'artifacts:read' | 'artifacts:write';

/** Why an action is off for this caller, or null when its scope is there. */
export function missingScope(whoami: Whoami | null, scope: Scope): string | null {
  if (!whoami) return 'Sign in first';
  return whoami.scopes.includes(scope) ? null : `Your token lacks the ${scope} scope`;
}
