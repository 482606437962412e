import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@mlis/config';
import { ApiErrorCode } from '@mlis/contracts';
import { TenantExistsError, TenantsRepository, type TenantChanges, type TenantRecord } from '@mlis/db';
import type { GroupLimits } from '@mlis/scheduling';
import { Access, type AuditEntry } from '../common/access';
import type { Actor } from '../common/actor';
import { DomainError } from '../common/domain-error';
import { InjectAppConfig } from '../core/app-config';
import type { GroupLimitsBody } from './group-limits';
import { RecentTenants } from './recent-tenants';
import type { CreateTenantDto, TenantListResponseDto, TenantResponseDto, UpdateTenantDto } from './tenants.dto';

function toResponse(tenant: TenantRecord): TenantResponseDto {
  return {
    id: tenant.id,
    name: tenant.name,
    max_queued_jobs: tenant.maxQueuedJobs,
    submit_rate_per_minute: tenant.submitRatePerMinute,
    max_running_jobs: tenant.maxRunningJobs,
    max_gpus: tenant.maxGpus,
    max_artifact_bytes: tenant.maxArtifactBytes,
    weight: tenant.weight,
    group_limits: Object.fromEntries(
      Object.entries(tenant.groupLimits).map(([group, l]) => [group, { max_running_jobs: l.maxRunningJobs, max_gpus: l.maxGpus }]),
    ),
    created_at: tenant.createdAt.toISOString(),
    updated_at: tenant.updatedAt.toISOString(),
  };
}

/** A group's limits as given; null when it sets none, which is the same as removing them. */
function groupLimitsFromBody(body: GroupLimitsBody | null): GroupLimits | null {
  const limits = { maxRunningJobs: body?.max_running_jobs ?? null, maxGpus: body?.max_gpus ?? null };
  return limits.maxRunningJobs === null && limits.maxGpus === null ? null : limits;
}

function limitsOf(dto: CreateTenantDto | UpdateTenantDto): TenantChanges {
  return {
    maxQueuedJobs: dto.max_queued_jobs,
    submitRatePerMinute: dto.submit_rate_per_minute,
    maxRunningJobs: dto.max_running_jobs,
    maxGpus: dto.max_gpus,
    maxArtifactBytes: dto.max_artifact_bytes,
    weight: dto.weight,
    groupLimits: dto.group_limits && Object.fromEntries(Object.entries(dto.group_limits).map(([group, body]) => [group, groupLimitsFromBody(body)])),
  };
}

/** Tenant administration; every change is audited in the transaction that makes it. */
@Injectable()
export class TenantsService {
  constructor(
    @Inject(TenantsRepository) private readonly tenants: TenantsRepository,
    @Inject(Access) private readonly access: Access,
    @InjectAppConfig() private readonly config: AppConfig,
    @Inject(RecentTenants) private readonly recentTenants: RecentTenants,
  ) {}

  async create(actor: Actor, dto: CreateTenantDto, requestId: string): Promise<TenantResponseDto> {
    const limits = limitsOf(dto);
    this.checkGroups(limits);
    try {
      const tenant = await this.tenants.create(
        {
          id: dto.id,
          name: dto.name ?? dto.id,
          maxQueuedJobs: limits.maxQueuedJobs ?? null,
          submitRatePerMinute: limits.submitRatePerMinute ?? null,
          maxRunningJobs: limits.maxRunningJobs ?? null,
          maxGpus: limits.maxGpus ?? null,
          maxArtifactBytes: limits.maxArtifactBytes ?? null,
          weight: limits.weight ?? 1,
          groupLimits: Object.fromEntries(
            Object.entries(limits.groupLimits ?? {}).filter((entry): entry is [string, GroupLimits] => entry[1] !== null),
          ),
        },
        (manager, record) => this.access.allow({ ...actor, requestId }, this.change('tenant.create', record), manager),
      );
      this.recentTenants.remember(tenant);
      return toResponse(tenant);
    } catch (error) {
      if (error instanceof TenantExistsError) throw new DomainError(ApiErrorCode.TenantExists, `tenant ${dto.id} already exists`);
      throw error;
    }
  }

  async update(actor: Actor, id: string, dto: UpdateTenantDto, requestId: string): Promise<TenantResponseDto> {
    const limits = limitsOf(dto);
    this.checkGroups(limits);
    // A null name, like an absent one, leaves the name as it is (the column is NOT NULL).
    const tenant = await this.tenants.update(id, { ...limits, name: dto.name ?? undefined }, (manager, record) =>
      this.access.allow({ ...actor, requestId }, this.change('tenant.update', record, dto), manager),
    );
    if (!tenant) throw this.notFound(id);
    this.recentTenants.remember(tenant);
    return toResponse(tenant);
  }

  async get(id: string): Promise<TenantResponseDto> {
    const tenant = await this.tenants.findById(id);
    if (!tenant) throw this.notFound(id);
    return toResponse(tenant);
  }

  async list(): Promise<TenantListResponseDto> {
    return { items: (await this.tenants.list()).map(toResponse) };
  }

  /** Limits for a group this deployment does not have are a typo, not a no-op. */
  private checkGroups(limits: TenantChanges): void {
    const unknown = Object.keys(limits.groupLimits ?? {}).filter((group) => !this.config.workerGroups.includes(group));
    if (unknown.length === 0) return;
    throw new DomainError(
      ApiErrorCode.ValidationFailed,
      `group_limits names worker groups that do not exist: ${unknown.join(', ')} (configured: ${this.config.workerGroups.join(', ')})`,
      unknown.map((group) => ({ field: `group_limits.${group}`, problem: 'no such worker group' })),
    );
  }

  private notFound(id: string): DomainError {
    return new DomainError(ApiErrorCode.TenantNotFound, `tenant ${id} not found`);
  }

  // The reason column of an allowed change lists what changed, so quota changes are readable in the log.
  private change(action: string, tenant: TenantRecord, changes?: UpdateTenantDto): AuditEntry {
    const changed = changes
      ? Object.entries(changes)
          .filter(([, value]) => value !== undefined)
          .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
          .join(' ')
      : null;
    return { action, resource: `tenant/${tenant.id}`, targetTenant: tenant.id, reason: changed || null };
  }
}
