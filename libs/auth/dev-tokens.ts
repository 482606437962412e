import { randomUUID } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import type { AuthConfig } from '@mlis/config';
import { USER_TOKEN_TYPE, WORKER_TOKEN_TYPE, type UserTokenClaims, type WorkerTokenClaims } from './claims';

/** A development user token signed with the per-install HS256 secret (`mlis dev-token`, tests, `npm run up`). */
export function mintUserToken(
  secret: string,
  auth: Pick<AuthConfig, 'issuer' | 'audience'>,
  claims: UserTokenClaims,
  ttlSeconds = 12 * 3600,
): string {
  return sign({ ...claims }, secret, {
    algorithm: 'HS256',
    header: { alg: 'HS256', typ: USER_TOKEN_TYPE },
    issuer: auth.issuer,
    audience: auth.audience,
    expiresIn: ttlSeconds,
    notBefore: 0,
    jwtid: randomUUID(),
  });
}

/** A worker token for one node incarnation, minted by the API at registration. */
export function mintWorkerToken(
  secret: string,
  auth: Pick<AuthConfig, 'issuer' | 'workerAudience' | 'workerTokenTtlSeconds'>,
  claims: WorkerTokenClaims,
): string {
  return sign({ ...claims }, secret, {
    algorithm: 'HS256',
    header: { alg: 'HS256', typ: WORKER_TOKEN_TYPE },
    issuer: auth.issuer,
    audience: auth.workerAudience,
    expiresIn: auth.workerTokenTtlSeconds,
    notBefore: 0,
    jwtid: randomUUID(),
  });
}
