import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { Injectable, Logger } from '@nestjs/common';
import { mintWorkerToken } from '@mlis/auth';
import type { AppConfig } from '@mlis/config';
import { ApiErrorCode } from '@mlis/contracts';
import { DomainError } from '../common/domain-error';
import { InjectSigningSecret } from '../auth/signing-secret';
import { InjectAppConfig } from '../core/app-config';

/** Why a registration's bootstrap credential was refused; recorded as the audit row's reason. */
export type BootstrapRefusal = 'missing_bootstrap_credential' | 'invalid_bootstrap_credential';

const BEARER = /^Bearer +(\S+) *$/i;
const COMPLAINT_INTERVAL_MS = 60_000;

// Equal-length digests: timingSafeEqual needs equal lengths, and the secret's length stays private too.
function sameSecret(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The node side of identity: checks the bootstrap secret a node presents and mints its worker token. */
@Injectable()
export class WorkerCredentials {
  private readonly logger = new Logger(WorkerCredentials.name);
  private complainedAt = Number.NEGATIVE_INFINITY;

  constructor(
    @InjectAppConfig() private readonly config: AppConfig,
    @InjectSigningSecret() private readonly signingKey: string,
  ) {}

  /** null when `authorization` carries the bootstrap secret, else why not. */
  checkBootstrap(authorization: string | undefined): BootstrapRefusal | null {
    const presented = BEARER.exec(authorization ?? '')?.[1];
    if (presented === undefined) return 'missing_bootstrap_credential';
    return sameSecret(presented, this.bootstrapSecret()) ? null : 'invalid_bootstrap_credential';
  }

  /** A worker token bound to this node incarnation, signed with the key the API verifies tokens with. */
  mintToken(nodeId: string, incarnation: number): string {
    return mintWorkerToken(this.signingKey, this.config.auth, { sub: `node:${nodeId}`, node_id: nodeId, incarnation });
  }

  // Read on every registration (they are rare): a rotated bootstrap secret takes effect without a restart.
  private bootstrapSecret(): string {
    const file = this.config.auth.workerBootstrapSecretFile;
    let problem: string | undefined;
    let secret = '';
    try {
      if ((statSync(file).mode & 0o077) !== 0) problem = 'is accessible to group or others; chmod 600 it';
      else secret = readFileSync(file, 'utf8').trim();
    } catch (error) {
      problem = `is unreadable (${(error as NodeJS.ErrnoException).code ?? 'error'}); run scripts/secrets.sh`;
    }
    if (problem === undefined && secret.length < 32) problem = 'is shorter than 32 characters';
    if (problem !== undefined) {
      // Once a minute at most: every registration attempt meets it, and anyone can make one.
      if (Date.now() - this.complainedAt >= COMPLAINT_INTERVAL_MS) {
        this.complainedAt = Date.now();
        this.logger.error({ msg: `worker bootstrap secret ${problem}; refusing every registration`, file });
      }
      throw new DomainError(ApiErrorCode.DependencyUnavailable, 'worker registration is not configured on this API');
    }
    return secret;
  }
}
