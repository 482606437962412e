import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { ApiErrorCode } from '@mlis/contracts';
import { TenantsRepository, type TenantRecord } from '@mlis/db';
import { Access } from '../common/access';
import type { Actor } from '../common/actor';
import { RetryLaterError, unknownTenant } from '../common/domain-error';
import { validationFailed } from '../common/validation';
import { RecentTenants } from '../tenants/recent-tenants';

/** Deepest nesting allowed in params; the params object itself is level 1. */
export const MAX_PARAMS_DEPTH = 8;
/** Retry-After for a tenant whose queue is full: queued jobs leave at the pace of the cluster, not of a clock. */
export const QUEUE_FULL_RETRY_SECONDS = 30;

/** Nesting depth of a JSON value: scalars 0, an object or array one more than its deepest member. */
export function jsonDepth(value: unknown): number {
  // Iterative, so a hostile body cannot exhaust the stack before it is refused.
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (item === null || typeof item !== 'object') continue;
    const level = depth + 1;
    deepest = Math.max(deepest, level);
    if (level > MAX_PARAMS_DEPTH) return level;
    for (const child of Object.values(item as Record<string, unknown>)) stack.push([child, level]);
  }
  return deepest;
}

/** Seconds until a bucket holding `tokens` (refilling at `perMinute` per minute) has a whole token again. */
export function retryAfterSeconds(tokens: number, perMinute: number): number {
  if (perMinute <= 0) return 60;
  return Math.max(1, Math.ceil(((1 - tokens) * 60) / perMinute));
}

/** What a submission's transaction must enforce once the job row is in: null when the tenant has no queue limit. */
export interface QueueLimit {
  tenantId: string;
  maxQueuedJobs: number;
}

/** A submission past the limits checked before any work: its tenant's row, and what the insert must enforce. */
export interface AdmittedSubmission {
  tenant: TenantRecord;
  queueLimit: QueueLimit | null;
}

/**
 * Abuse limits: bounded params and the tenant's submission rate (a token bucket row in Postgres, shared
 * by every API replica) before a submission does any work; its max queued jobs inside the insert transaction.
 */
@Injectable()
export class SubmissionLimitsService {
  constructor(
    @Inject(TenantsRepository) private readonly tenants: TenantsRepository,
    @Inject(RecentTenants) private readonly recentTenants: RecentTenants,
    @Inject(Access) private readonly access: Access,
  ) {}

  /**
   * Throws 404 for a tenant nobody created, 429 (with Retry-After, audited) when the rate is used up. Returns the
   * tenant and the queue limit that `holdQueuePlace` enforces inside the insert transaction. A submission's params
   * pass `checkParams` first; a replay of an accepted one (its Idempotency-Key) never gets here, so it takes no token.
   * The limits are the tenant row as this replica read it at most TENANT_REREAD_MS ago (ADR 0048); the token bucket
   * and the queue count are read fresh.
   */
  async admit(actor: Actor, requestId: string): Promise<AdmittedSubmission> {
    const tenant = await this.recentTenants.find(actor.tenantId);
    if (!tenant) throw unknownTenant(actor.tenantId);
    const perMinute = tenant.submitRatePerMinute;
    if (perMinute !== null) {
      const take = perMinute > 0 ? await this.tenants.takeSubmitToken(tenant.id, perMinute) : { admitted: false, tokens: 0 };
      if (!take.admitted) {
        await this.deny(actor, requestId, 'rate_limited');
        throw new RetryLaterError(
          ApiErrorCode.RateLimited,
          `tenant ${tenant.id} may submit ${perMinute} jobs per minute`,
          retryAfterSeconds(take.tokens, perMinute),
        );
      }
    }
    return { tenant, queueLimit: tenant.maxQueuedJobs === null ? null : { tenantId: tenant.id, maxQueuedJobs: tenant.maxQueuedJobs } };
  }

  /**
   * Inside the submission's transaction, after its job row is inserted: locks the tenant row (so concurrent
   * submissions of one tenant, on any API replica, take turns) and counts its queued jobs, this one included.
   * Throws 429 quota_exceeded, rolling the insert back; the caller audits the denial once the transaction is gone.
   */
  async holdQueuePlace(limit: QueueLimit, manager: EntityManager): Promise<void> {
    const queued = await this.tenants.lockAndCountQueuedJobs(limit.tenantId, manager);
    if (queued > limit.maxQueuedJobs) {
      throw new RetryLaterError(
        ApiErrorCode.QuotaExceeded,
        `tenant ${limit.tenantId} already has ${queued - 1} queued jobs (max_queued_jobs ${limit.maxQueuedJobs})`,
        QUEUE_FULL_RETRY_SECONDS,
      );
    }
  }

  /** Throws 400 for params nested deeper than MAX_PARAMS_DEPTH, before anything walks them recursively. */
  checkParams(params: unknown): void {
    if (params === undefined) return;
    if (jsonDepth(params) > MAX_PARAMS_DEPTH) {
      throw validationFailed([{ field: 'params', problem: `params must not be nested deeper than ${MAX_PARAMS_DEPTH} levels` }]);
    }
  }

  /** Best effort: the request is refused whether or not its denial row is written. */
  deny(actor: Actor, requestId: string, reason: string): Promise<void> {
    return this.access.deny({ ...actor, requestId }, { action: 'job.submit', resource: 'jobs', targetTenant: actor.tenantId, reason });
  }
}
