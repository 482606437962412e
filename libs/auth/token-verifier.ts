import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { statSync, readFileSync } from 'node:fs';
import { decode, verify, JsonWebTokenError, NotBeforeError, TokenExpiredError, type Algorithm, type JwtHeader, type JwtPayload, type VerifyOptions } from 'jsonwebtoken';
import { JwksClient } from 'jwks-rsa';
import type { AuthConfig } from '@mlis/config';
import { parseScopes, USER_TOKEN_TYPE, WORKER_TOKEN_TYPE, type Actor } from './claims';

export type TokenKind = 'user' | 'worker';

/** Why a token was refused; written to the audit log, never echoed with token contents. */
export type TokenRejection =
  | 'missing_token'
  | 'malformed_token'
  | 'algorithm_not_allowed'
  | 'wrong_token_type'
  | 'unsupported_header'
  | 'invalid_kid'
  | 'unknown_kid'
  | 'key_unavailable'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'missing_claim'
  | 'invalid_claim';

export class TokenRejectedError extends Error {
  constructor(
    readonly reason: TokenRejection,
    message: string,
  ) {
    super(message);
    this.name = 'TokenRejectedError';
  }
}

/** A verified token: the caller, and for worker tokens the node incarnation it is bound to. */
export type VerifiedToken =
  /** issuedAt: the token's `iat` (seconds), null when it has none; a revocation refuses tokens issued up to its time. */
  | { kind: 'user'; actor: Actor; issuedAt: number | null }
  | { kind: 'worker'; actor: Actor; nodeId: string; incarnation: number };

/** Where verification keys come from; `kid` is only ever a lookup key. */
export interface KeySource {
  getKey(kid: string): Promise<string | undefined>;
}

const MAX_CACHED_PUBLIC_KEYS = 64;
/** How long one fetch of the identity provider's key set may take. */
const JWKS_FETCH_TIMEOUT_MS = 5_000;

// Worker tokens are minted by the API itself with the per-install secret, whatever signs user tokens.
const WORKER_ALGORITHMS: readonly Algorithm[] = ['HS256'];
// Letters, digits and a few separators: nothing that can walk a path or close a quote.
const SAFE_KID = /^[A-Za-z0-9_.~-]{1,128}$/;
const SAFE_TENANT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MIN_SECRET_LENGTH = 32;

/**
 * Reads the per-install HS256 secret once. Refuses a missing, short, or group/world-accessible file,
 * so that a leaked mode is a start-up failure rather than a silent exposure. The secret is never logged.
 */
export function readDevSecret(path: string): string {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    throw new Error(`token signing secret ${path} is missing: run \`npm run up\` (or scripts/secrets.sh) to create it`);
  }
  if ((mode & 0o077) !== 0) {
    throw new Error(`token signing secret ${path} is accessible to group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  }
  const secret = readFileSync(path, 'utf8').trim();
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new Error(`token signing secret ${path} is shorter than ${MIN_SECRET_LENGTH} characters`);
  }
  return secret;
}

export interface JwksKeySourceOptions {
  /** How long a fetched key set is trusted before a known kid triggers a refetch too. */
  cacheMaxAgeMs?: number;
  /**
   * While the identity provider cannot be reached, how long after its last answer the keys it served then go on
   * verifying; and how long after a failed fetch the next one waits (requests meanwhile use the old set, or fail fast).
   */
  staleGraceMs?: number;
  retryAfterFailureMs?: number;
  /** Token bucket for refetches on unknown kids: burst size and refill per minute. */
  refetchBurst?: number;
  refetchPerMinute?: number;
  now?: () => number;
}

/**
 * Keys from the configured JWKS URL, fetched and converted by jwks-rsa. The whole key set is cached and
 * replaced on refetch, so a key removed at rotation stops verifying at the next refetch; an unknown kid
 * triggers one (rate limited, concurrent misses share one request). An identity provider that does not answer
 * leaves the last set in use for `staleGraceMs`, asked again every `retryAfterFailureMs`: an outage of it does not
 * log every user out at once, nor make every request wait for a fetch that times out.
 */
export class JwksKeySource implements KeySource {
  private readonly client: JwksClient;
  private keys = new Map<string, string>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private failedAt = Number.NEGATIVE_INFINITY;
  private readonly staleGraceMs: number;
  private readonly retryAfterFailureMs: number;
  private inFlight: Promise<void> | undefined;
  private tokens: number;
  private refilledAt: number;
  private readonly cacheMaxAgeMs: number;
  private readonly burst: number;
  private readonly perMinute: number;
  private readonly now: () => number;

  constructor(jwksUri: string, options: JwksKeySourceOptions = {}) {
    // jwks-rsa's own per-kid cache would keep removed keys alive; this class caches the set instead.
    this.client = new JwksClient({ jwksUri, cache: false, rateLimit: false, timeout: JWKS_FETCH_TIMEOUT_MS });
    this.cacheMaxAgeMs = options.cacheMaxAgeMs ?? 10 * 60_000;
    this.staleGraceMs = options.staleGraceMs ?? 24 * 3600_000;
    this.retryAfterFailureMs = options.retryAfterFailureMs ?? 30_000;
    this.burst = options.refetchBurst ?? 5;
    this.perMinute = options.refetchPerMinute ?? 10;
    this.now = options.now ?? Date.now;
    this.tokens = this.burst;
    this.refilledAt = this.now();
  }

  async getKey(kid: string): Promise<string | undefined> {
    const now = this.now();
    const stale = now - this.fetchedAt > this.cacheMaxAgeMs;
    const usable = this.keys.has(kid) && now - this.fetchedAt <= this.staleGraceMs;
    if (!stale && this.keys.has(kid)) return this.keys.get(kid);
    if (now - this.failedAt < this.retryAfterFailureMs) {
      if (usable) return this.keys.get(kid);
      // A kid the last set lacks may be one the provider rotated in: unknown until it answers again (503, not 401).
      throw new Error('the signing keys could not be fetched a moment ago');
    }
    try {
      await this.refetch(stale);
    } catch (error) {
      this.failedAt = this.now();
      if (!usable) throw error;
    }
    return this.keys.get(kid);
  }

  private async refetch(stale: boolean): Promise<void> {
    if (this.inFlight) return this.inFlight;
    // A stale set is always refreshed; misses on a fresh set spend the refetch budget.
    if (!stale && !this.takeToken()) return;
    this.inFlight = (async () => {
      try {
        const signingKeys = await this.client.getSigningKeys();
        this.keys = new Map(signingKeys.filter((key) => key.kid).map((key) => [key.kid, key.getPublicKey()]));
        this.fetchedAt = this.now();
        this.failedAt = Number.NEGATIVE_INFINITY;
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }

  private takeToken(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 60_000) * this.perMinute);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export interface TokenVerifierOptions {
  auth: Pick<AuthConfig, 'issuer' | 'audience' | 'workerAudience' | 'algorithms' | 'clockSkewSeconds'>;
  /** The per-install HS256 secret: dev user tokens and every worker token. */
  secret: string;
  /** RS256/ES256 keys by kid; absent without a JWKS URL. */
  jwks?: KeySource;
  /** Seconds since the epoch; for tests. */
  clock?: () => number;
}

function typeOf(header: JwtHeader): string {
  // RFC 8725 §3.11: compare case-insensitively and allow the "application/" prefix.
  return (header.typ ?? '').toLowerCase().replace(/^application\//, '');
}

function toRejection(error: unknown): TokenRejectedError {
  if (error instanceof TokenRejectedError) return error;
  if (error instanceof TokenExpiredError) return new TokenRejectedError('token_expired', 'token expired');
  if (error instanceof NotBeforeError) return new TokenRejectedError('token_not_yet_valid', 'token not valid yet (nbf)');
  if (error instanceof JsonWebTokenError) {
    if (error.message.startsWith('jwt issuer invalid')) return new TokenRejectedError('wrong_issuer', 'wrong issuer');
    if (error.message.startsWith('jwt audience invalid')) return new TokenRejectedError('wrong_audience', 'wrong audience');
    if (error.message === 'invalid signature') return new TokenRejectedError('bad_signature', 'invalid signature');
    if (error.message === 'jwt malformed' || error.message.startsWith('invalid token')) {
      return new TokenRejectedError('malformed_token', 'malformed token');
    }
    if (error.message.startsWith('invalid algorithm')) return new TokenRejectedError('algorithm_not_allowed', 'algorithm not allowed');
    return new TokenRejectedError('bad_signature', 'token could not be verified');
  }
  return new TokenRejectedError('key_unavailable', 'no verification key available');
}

/**
 * RFC 8725 token verification, in the order that keeps untrusted input away from key lookup:
 * header (algorithm allow-list, `typ`, `crit`, `kid` shape) first, then the key, then signature and
 * registered claims (iss, aud, exp, nbf, sub all required), then the kind's own claims.
 */
export class TokenVerifier {
  private readonly userAlgorithms: readonly Algorithm[];
  /**
   * Keys as KeyObjects, made once: given a string, jsonwebtoken first tries to parse it as a public key (an exception
   * for every HS256 token) and builds a new KeyObject on every call, about a tenth of the API's CPU under load.
   */
  private readonly secretKey: KeyObject;
  private readonly publicKeys = new Map<string, KeyObject>();

  constructor(private readonly options: TokenVerifierOptions) {
    this.userAlgorithms = options.auth.algorithms.filter((alg) => alg !== 'none') as Algorithm[];
    this.secretKey = createSecretKey(Buffer.from(options.secret));
  }

  algorithmsFor(kind: TokenKind): Algorithm[] {
    return [...(kind === 'user' ? this.userAlgorithms : WORKER_ALGORITHMS)];
  }

  /** Options for jsonwebtoken's verify (also handed to passport-jwt). */
  verifyOptions(kind: TokenKind): VerifyOptions & { algorithms: Algorithm[]; issuer: string; audience: string } {
    const { auth } = this.options;
    return {
      algorithms: this.algorithmsFor(kind),
      issuer: auth.issuer,
      audience: kind === 'user' ? auth.audience : auth.workerAudience,
      clockTolerance: auth.clockSkewSeconds,
      ...(this.options.clock ? { clockTimestamp: this.options.clock() } : {}),
    };
  }

  /**
   * Checks the header and returns the key to verify the signature with. Keys come only from our config:
   * `jku`, `x5u`, `jwk` and `x5c` in the token are ignored, never fetched or used.
   */
  async keyFor(token: string, kind: TokenKind): Promise<KeyObject> {
    const decoded = decode(token, { complete: true });
    if (!decoded || typeof decoded.header !== 'object' || decoded.header === null) {
      throw new TokenRejectedError('malformed_token', 'malformed token');
    }
    const header = decoded.header;
    if (typeof header.alg !== 'string' || !this.algorithmsFor(kind).includes(header.alg as Algorithm)) {
      throw new TokenRejectedError('algorithm_not_allowed', `algorithm ${String(header.alg)} is not allowed here`);
    }
    const expectedType = kind === 'user' ? USER_TOKEN_TYPE : WORKER_TOKEN_TYPE;
    if (typeOf(header) !== expectedType) {
      throw new TokenRejectedError('wrong_token_type', `a ${expectedType} token is required here`);
    }
    if ((header as { crit?: unknown }).crit !== undefined) {
      throw new TokenRejectedError('unsupported_header', 'critical header parameters are not supported');
    }
    const kid: unknown = header.kid;
    if (kid !== undefined && (typeof kid !== 'string' || !SAFE_KID.test(kid))) {
      throw new TokenRejectedError('invalid_kid', 'kid is not a valid key id');
    }
    if (header.alg === 'HS256') {
      // The per-install secret has no key id; a kid names a key we do not have.
      if (kid !== undefined) throw new TokenRejectedError('unknown_kid', 'unknown kid');
      return this.secretKey;
    }
    if (!this.options.jwks || kid === undefined) throw new TokenRejectedError('unknown_kid', 'unknown kid');
    let key: string | undefined;
    try {
      key = await this.options.jwks.getKey(kid);
    } catch {
      throw new TokenRejectedError('key_unavailable', 'signing keys could not be fetched');
    }
    if (key === undefined) throw new TokenRejectedError('unknown_kid', 'unknown kid');
    return this.publicKeyOf(key);
  }

  /** The PEM's KeyObject; only keys the key source still serves are ever asked for, so rotation needs no eviction here. */
  private publicKeyOf(pem: string): KeyObject {
    let key = this.publicKeys.get(pem);
    if (!key) {
      // A key set is a handful of keys; a source that kept changing them must not grow this without bound.
      if (this.publicKeys.size >= MAX_CACHED_PUBLIC_KEYS) this.publicKeys.clear();
      key = createPublicKey(pem);
      this.publicKeys.set(pem, key);
    }
    return key;
  }

  /** Required registered claims and the kind's own claims, on a payload whose signature, iss, aud, exp and nbf were verified. */
  checkClaims(payload: JwtPayload | string, kind: TokenKind): VerifiedToken {
    if (typeof payload !== 'object' || payload === null) throw new TokenRejectedError('malformed_token', 'token payload is not a JSON object');
    for (const claim of ['iss', 'aud', 'exp', 'nbf', 'sub'] as const) {
      if (payload[claim] === undefined) throw new TokenRejectedError('missing_claim', `claim ${claim} is required`);
    }
    if (typeof payload.exp !== 'number' || typeof payload.nbf !== 'number') {
      throw new TokenRejectedError('invalid_claim', 'exp and nbf must be numbers');
    }
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 256) {
      throw new TokenRejectedError('invalid_claim', 'sub must be a non-empty string');
    }
    const subject = payload.sub;
    if (kind === 'worker') {
      const { node_id: nodeId, incarnation } = payload as { node_id?: unknown; incarnation?: unknown };
      if (typeof nodeId !== 'string' || nodeId.length === 0) throw new TokenRejectedError('missing_claim', 'claim node_id is required');
      if (typeof incarnation !== 'number' || !Number.isInteger(incarnation) || incarnation < 1) {
        throw new TokenRejectedError('missing_claim', 'claim incarnation is required');
      }
      return {
        kind: 'worker',
        actor: { kind: 'worker', subject, tenantId: '', scopes: new Set(), crossTenant: false },
        nodeId,
        incarnation,
      };
    }
    const { tenant, scope, mlis_cross_tenant: crossTenant } = payload as { tenant?: unknown; scope?: unknown; mlis_cross_tenant?: unknown };
    if (typeof tenant !== 'string') throw new TokenRejectedError('missing_claim', 'claim tenant is required');
    if (!SAFE_TENANT.test(tenant)) throw new TokenRejectedError('invalid_claim', 'claim tenant is not a valid tenant id');
    if (scope !== undefined && typeof scope !== 'string') throw new TokenRejectedError('invalid_claim', 'claim scope must be a string');
    return {
      kind: 'user',
      actor: { kind: 'user', subject, tenantId: tenant, scopes: parseScopes(scope), crossTenant: crossTenant === true },
      issuedAt: typeof payload.iat === 'number' ? payload.iat : null,
    };
  }

  /** The whole check, for callers outside passport (and the unit specs). */
  async verify(token: string | undefined, kind: TokenKind): Promise<VerifiedToken> {
    if (!token) throw new TokenRejectedError('missing_token', 'a bearer token is required');
    try {
      const key = await this.keyFor(token, kind);
      const payload = verify(token, key, { ...this.verifyOptions(kind), complete: false });
      return this.checkClaims(payload, kind);
    } catch (error) {
      throw toRejection(error);
    }
  }

  /** Maps whatever passport-jwt reports (our rejection, a jsonwebtoken error, "No auth token") to a rejection. */
  static rejectionOf(error: unknown): TokenRejectedError {
    if (error instanceof Error && error.message === 'No auth token') return new TokenRejectedError('missing_token', 'a bearer token is required');
    return toRejection(error);
  }
}
