import { Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { ApiErrorCode } from '@mlis/contracts';
import type { AuditRepository, TenantsRepository } from '@mlis/db';
import { Access } from '../common/access';
import type { Actor } from '../common/actor';
import { DomainError, RetryLaterError } from '../common/domain-error';
import { FakeAuditRepository, FakeTenantsRepository } from '../testing/audit-fakes';
import { RecentTenants } from '../tenants/recent-tenants';
import {
  jsonDepth,
  MAX_PARAMS_DEPTH,
  QUEUE_FULL_RETRY_SECONDS,
  retryAfterSeconds,
  SubmissionLimitsService,
} from './submission-limits.service';

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i += 1) value = i % 2 === 0 ? { a: value } : [value];
  return value;
}

async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe(SubmissionLimitsService.name, () => {
  const actor: Actor = { kind: 'user', tenantId: 'team-a', subject: 'alice', scopes: new Set(['jobs:submit']), crossTenant: false };
  let tenants: FakeTenantsRepository;
  let audit: FakeAuditRepository;
  let limits: SubmissionLimitsService;

  beforeEach(() => {
    tenants = new FakeTenantsRepository();
    audit = new FakeAuditRepository();
    const repository = tenants as unknown as TenantsRepository;
    limits = new SubmissionLimitsService(repository, new RecentTenants(repository), new Access(audit as unknown as AuditRepository, 0));
    tenants.put({ id: 'team-a', name: 'A' });
  });

  it('measures JSON depth with scalars at 0 and each object or array one level', () => {
    expect(jsonDepth(1)).toBe(0);
    expect(jsonDepth({})).toBe(1);
    expect(jsonDepth({ a: [1, { b: 2 }] })).toBe(3);
    expect(jsonDepth(nested(MAX_PARAMS_DEPTH))).toBe(MAX_PARAMS_DEPTH);
  });

  it('accepts params at the depth limit and refuses one level more with validation_failed', async () => {
    expect(() => limits.checkParams(nested(MAX_PARAMS_DEPTH))).not.toThrow();
    const error = await refusal(Promise.resolve().then(() => limits.checkParams(nested(MAX_PARAMS_DEPTH + 1))));
    expect(error.code).toBe(ApiErrorCode.ValidationFailed);
    expect(error.details?.[0].field).toBe('params');
  });

  it('admits up to the rate, then answers rate_limited with Retry-After and a deny audit row', async () => {
    tenants.put({ id: 'team-a', name: 'A', submitRatePerMinute: 3 });
    for (let i = 0; i < 3; i += 1) await limits.admit(actor, `ok-${i}`);
    const error = await refusal(limits.admit(actor, 'burst'));
    expect(error).toBeInstanceOf(RetryLaterError);
    expect(error.code).toBe(ApiErrorCode.RateLimited);
    expect((error as RetryLaterError).retryAfterSeconds).toBe(20);
    expect(audit.events).toEqual([
      expect.objectContaining({ requestId: 'burst', action: 'job.submit', result: 'deny', reason: 'rate_limited', actorTenant: 'team-a', actorSubject: 'alice' }),
    ]);
  });

  it('refuses every submission when the rate is 0, without touching the bucket', async () => {
    tenants.put({ id: 'team-a', name: 'A', submitRatePerMinute: 0 });
    const error = (await refusal(limits.admit(actor, 'r1'))) as RetryLaterError;
    expect(error.code).toBe(ApiErrorCode.RateLimited);
    expect(error.retryAfterSeconds).toBe(60);
    expect(tenants.tokens.size).toBe(0);
  });

  it('hands the queue limit to the insert transaction, which refuses the job past max_queued_jobs', async () => {
    tenants.put({ id: 'team-a', name: 'A', maxQueuedJobs: 2 });
    const { tenant, queueLimit: limit } = await limits.admit(actor, 'r1');
    expect(tenant).toMatchObject({ id: 'team-a', maxQueuedJobs: 2 });
    expect(limit).toEqual({ tenantId: 'team-a', maxQueuedJobs: 2 });
    const manager = {} as EntityManager;
    tenants.queued = 1;
    await limits.holdQueuePlace(limit!, manager);
    tenants.queued = 2;
    const error = (await refusal(limits.holdQueuePlace(limit!, manager))) as RetryLaterError;
    expect(error.code).toBe(ApiErrorCode.QuotaExceeded);
    expect(error.message).toBe('tenant team-a already has 2 queued jobs (max_queued_jobs 2)');
    expect(error.retryAfterSeconds).toBe(QUEUE_FULL_RETRY_SECONDS);
  });

  it('tells a token naming a tenant nobody created how to create it', async () => {
    const ghost: Actor = { ...actor, tenantId: 'acme' };
    const error = await refusal(limits.admit(ghost, 'r1'));
    expect(error.code).toBe(ApiErrorCode.TenantNotFound);
    expect(error.message).toBe('tenant "acme" does not exist; an admin creates it with: mlis tenants create acme');
  });

  it('still refuses when the denial cannot be audited', async () => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    tenants.put({ id: 'team-a', name: 'A', submitRatePerMinute: 0 });
    audit.failing = true;
    await limits.deny(actor, 'r1', 'rate_limited');
    expect((await refusal(limits.admit(actor, 'r1'))).code).toBe(ApiErrorCode.RateLimited);
  });

  it('has no limits for a tenant without any', async () => {
    tenants.queued = 1_000;
    for (let i = 0; i < 100; i += 1) expect((await limits.admit(actor, `r${i}`)).queueLimit).toBeNull();
    expect(audit.events).toEqual([]);
  });
});

describe('retryAfterSeconds', () => {
  it('is the time until one whole token has refilled, at least a second', () => {
    expect(retryAfterSeconds(0, 60)).toBe(1);
    expect(retryAfterSeconds(0, 5)).toBe(12);
    expect(retryAfterSeconds(0.5, 5)).toBe(6);
    expect(retryAfterSeconds(0.99, 5)).toBe(1);
    expect(retryAfterSeconds(0, 1)).toBe(60);
    expect(retryAfterSeconds(0, 0)).toBe(60);
  });
});
