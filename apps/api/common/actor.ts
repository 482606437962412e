import type { AppConfig } from '../../../libs/config';

/** Who is calling and for which tenant; services take it as a parameter so authentication can supply it. */
export interface Actor {
  tenantId: string;
  subject: string;
}

/** Until authentication lands every caller acts anonymously for the default tenant. */
export function anonymousActor(config: AppConfig): Actor {
  return { tenantId: config.defaultTenantId, subject: 'anonymous' };
}
