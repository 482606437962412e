import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { ExtractJwt, Strategy, type StrategyOptionsWithRequest } from 'passport-jwt';
import { TokenVerifier, type TokenKind, type VerifiedToken } from '@mlis/auth';

export const USER_JWT_STRATEGY = 'mlis-user-jwt';
export const WORKER_JWT_STRATEGY = 'mlis-worker-jwt';

/**
 * passport-jwt options for one token kind: TokenVerifier checks the header (algorithm allow-list, typ,
 * kid) and picks the key before passport-jwt verifies signature, iss, aud, exp and nbf with the same
 * allow-list; validate() then requires sub and the kind's claims.
 */
function strategyOptions(verifier: TokenVerifier, kind: TokenKind): StrategyOptionsWithRequest {
  const { algorithms, issuer, audience, clockTolerance } = verifier.verifyOptions(kind);
  return {
    jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
    // A KeyObject, which jsonwebtoken takes as it is; passport-jwt's types only name strings and buffers.
    secretOrKeyProvider: (_req: Request, rawJwt: string, done: (err: unknown, key?: string) => void) => {
      verifier.keyFor(rawJwt, kind).then(
        (key) => done(null, key as unknown as string),
        (error: unknown) => done(error),
      );
    },
    algorithms,
    issuer,
    audience,
    jsonWebTokenOptions: { clockTolerance },
    passReqToCallback: true,
  };
}

/** User access tokens (`typ` at+jwt, the API audience). */
@Injectable()
export class UserJwtStrategy extends PassportStrategy(Strategy, USER_JWT_STRATEGY) {
  constructor(@Inject(TokenVerifier) private readonly verifier: TokenVerifier) {
    super(strategyOptions(verifier, 'user'));
  }

  validate(_req: Request, payload: unknown): VerifiedToken {
    return this.verifier.checkClaims(payload as Parameters<TokenVerifier['checkClaims']>[0], 'user');
  }
}

/** Worker tokens (`typ` mlis-worker+jwt, the worker audience), minted by the API at registration. */
@Injectable()
export class WorkerJwtStrategy extends PassportStrategy(Strategy, WORKER_JWT_STRATEGY) {
  constructor(@Inject(TokenVerifier) private readonly verifier: TokenVerifier) {
    super(strategyOptions(verifier, 'worker'));
  }

  validate(_req: Request, payload: unknown): VerifiedToken {
    return this.verifier.checkClaims(payload as Parameters<TokenVerifier['checkClaims']>[0], 'worker');
  }
}
