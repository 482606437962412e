import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { TokenRevocationsRepository, type TokenRevocation } from '@mlis/db';
import { Access } from '../common/access';
import type { RequestActor } from '../common/actor';

/** How often each API replica reads the revocations again: a revocation made on another replica applies within this. */
export const REVOCATION_REFRESH_MS = 2_000;

const key = (tenantId: string, subject: string): string => `${tenantId}\n${subject}`;
/** The last second (epoch) whose tokens the revocation refuses. */
const cutoffOf = (revocation: TokenRevocation): number => Math.floor(revocation.revokedAt.getTime() / 1000);

/**
 * The revocation list, held in memory so that checking a token costs no query (ADR 0037). Read before the API serves,
 * again every REVOCATION_REFRESH_MS, and at once after this replica revokes. A failed read keeps the last list. What
 * stays open on a token (an event stream) is ended when the list says the token is revoked.
 */
@Injectable()
export class TokenRevocations implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(TokenRevocations.name);
  /** Per holder, the last second (epoch) whose tokens are refused. */
  private cutoffs = new Map<string, number>();
  /** One per read of the list under way: what this replica revoked meanwhile, which that read may have missed. */
  private readonly revokedDuringReads = new Set<Map<string, number>>();
  /** What is open on a token (a console's event stream), to end when the token is revoked. */
  private readonly watches = new Set<{ tenantId: string; subject: string; issuedAt: number | null; revoked: () => void }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(TokenRevocationsRepository) private readonly repository: TokenRevocationsRepository,
    @Inject(Access) private readonly access: Access,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.refresh().catch((error: unknown) => this.logger.warn({ msg: 'revocation list refresh failed; the last one stays', error: String(error) }));
    }, REVOCATION_REFRESH_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /**
   * Whether a token of this holder issued at `issuedAt` (epoch seconds) is revoked: issued in or before the second of
   * the revocation, or without an `iat` to tell.
   */
  isRevoked(tenantId: string, subject: string, issuedAt: number | null): boolean {
    const cutoff = this.cutoffs.get(key(tenantId, subject));
    return cutoff !== undefined && (issuedAt === null || issuedAt <= cutoff);
  }

  /**
   * Calls `revoked` once, as soon as this replica learns that the holder's token issued at `issuedAt` is revoked (at
   * once when it knows already). Returns the function that stops watching.
   */
  watch(tenantId: string, subject: string, issuedAt: number | null, revoked: () => void): () => void {
    const watch = { tenantId, subject, issuedAt, revoked };
    this.watches.add(watch);
    this.endRevokedWatches();
    return () => this.watches.delete(watch);
  }

  private endRevokedWatches(): void {
    for (const watch of this.watches) {
      if (!this.isRevoked(watch.tenantId, watch.subject, watch.issuedAt)) continue;
      this.watches.delete(watch);
      watch.revoked();
    }
  }

  /** Revokes the holder's tokens issued up to now, audited `token.revoke`; this replica refuses them at once. */
  async revoke(actor: RequestActor, tenantId: string, subject: string): Promise<TokenRevocation> {
    const revocation = await this.repository.revoke(tenantId, subject, `${actor.tenantId}/${actor.subject}`, (manager) =>
      this.access.allow(actor, { action: 'token.revoke', resource: `user/${subject}`, targetTenant: tenantId }, manager),
    );
    this.cutoffs.set(key(tenantId, subject), cutoffOf(revocation));
    for (const revokedDuringRead of this.revokedDuringReads) revokedDuringRead.set(key(tenantId, subject), cutoffOf(revocation));
    this.endRevokedWatches();
    return revocation;
  }

  list(): Promise<TokenRevocation[]> {
    return this.repository.list();
  }

  /** Reads the list again: every REVOCATION_REFRESH_MS, and whenever a caller cannot wait for that. */
  async refresh(): Promise<void> {
    const revokedDuringRead = new Map<string, number>();
    this.revokedDuringReads.add(revokedDuringRead);
    let revocations: TokenRevocation[];
    try {
      revocations = await this.repository.list();
    } finally {
      this.revokedDuringReads.delete(revokedDuringRead);
    }
    const cutoffs = new Map<string, number>();
    for (const revocation of revocations) cutoffs.set(key(revocation.tenantId, revocation.subject), cutoffOf(revocation));
    // A revocation that committed after the read's snapshot was taken would otherwise be dropped until the next read.
    for (const [holder, cutoff] of revokedDuringRead) cutoffs.set(holder, Math.max(cutoff, cutoffs.get(holder) ?? cutoff));
    this.cutoffs = cutoffs;
    this.endRevokedWatches();
  }
}
