import { Inject, Injectable, Logger } from '@nestjs/common';
import { ApiErrorCode } from '../../../libs/contracts';
import { AuditRepository } from '../../../libs/db/audit.repository';
import { TenantsRepository } from '../../../libs/db/tenants.repository';
import type { Actor } from '../common/actor';
import { DomainError, RetryLaterError } from '../common/domain-error';
import { validationFailed } from '../common/validation';

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

/**
 * Abuse limits checked before a submission does any work: bounded params, the tenant's submission
 * rate (a token bucket row in Postgres, shared by every API replica) and its max queued jobs.
 */
@Injectable()
export class SubmissionLimitsService {
  private readonly logger = new Logger(SubmissionLimitsService.name);

  constructor(
    @Inject(TenantsRepository) private readonly tenants: TenantsRepository,
    @Inject(AuditRepository) private readonly audit: AuditRepository,
  ) {}

  /** Throws 400 for oversized params, 429 (with Retry-After, audited) when a limit is reached. */
  async admit(actor: Actor, params: unknown, requestId: string): Promise<void> {
    this.checkParams(params);
    const tenant = await this.tenants.findById(actor.tenantId);
    // A verified token can still name a tenant nobody created: refuse it before it reaches the foreign key.
    if (!tenant) throw new DomainError(ApiErrorCode.TenantNotFound, `tenant "${actor.tenantId}" does not exist`);
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
    // A soft limit: submissions racing on other replicas may each see the last free place.
    if (tenant.maxQueuedJobs !== null) {
      const queued = await this.tenants.countQueuedJobs(tenant.id);
      if (queued >= tenant.maxQueuedJobs) {
        await this.deny(actor, requestId, 'quota_exceeded');
        throw new RetryLaterError(
          ApiErrorCode.QuotaExceeded,
          `tenant ${tenant.id} already has ${queued} queued jobs (max_queued_jobs ${tenant.maxQueuedJobs})`,
          QUEUE_FULL_RETRY_SECONDS,
        );
      }
    }
  }

  private checkParams(params: unknown): void {
    if (params === undefined) return;
    if (jsonDepth(params) > MAX_PARAMS_DEPTH) {
      throw validationFailed([{ field: 'params', problem: `params must not be nested deeper than ${MAX_PARAMS_DEPTH} levels` }]);
    }
  }

  // Best effort: the request is refused whether or not its denial row is written.
  private async deny(actor: Actor, requestId: string, reason: string): Promise<void> {
    try {
      await this.audit.record({
        requestId,
        actorTenant: actor.tenantId,
        actorSubject: actor.subject,
        targetTenant: actor.tenantId,
        action: 'job.submit',
        resource: 'jobs',
        result: 'deny',
        reason,
      });
    } catch (error) {
      this.logger.error({ msg: 'audit write for a denial failed', request_id: requestId, reason, error: String(error) });
    }
  }
}
