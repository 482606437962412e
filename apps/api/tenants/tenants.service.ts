import { Inject, Injectable } from '@nestjs/common';
import { ApiErrorCode } from '../../../libs/contracts';
import { AuditRepository } from '../../../libs/db/audit.repository';
import { TenantExistsError, TenantsRepository, type TenantLimits, type TenantRecord } from '../../../libs/db/tenants.repository';
import type { Actor } from '../common/actor';
import { DomainError } from '../common/domain-error';
import type { CreateTenantDto, TenantListResponseDto, TenantResponseDto, UpdateTenantDto } from './tenants.dto';

function toResponse(tenant: TenantRecord): TenantResponseDto {
  return {
    id: tenant.id,
    name: tenant.name,
    max_queued_jobs: tenant.maxQueuedJobs,
    submit_rate_per_minute: tenant.submitRatePerMinute,
    max_running_jobs: tenant.maxRunningJobs,
    max_gpus: tenant.maxGpus,
    weight: tenant.weight,
    created_at: tenant.createdAt.toISOString(),
    updated_at: tenant.updatedAt.toISOString(),
  };
}

function limitsOf(dto: CreateTenantDto | UpdateTenantDto): Partial<TenantLimits> {
  return {
    maxQueuedJobs: dto.max_queued_jobs,
    submitRatePerMinute: dto.submit_rate_per_minute,
    maxRunningJobs: dto.max_running_jobs,
    maxGpus: dto.max_gpus,
    weight: dto.weight,
  };
}

/** Tenant administration; every change is audited in the transaction that makes it. */
@Injectable()
export class TenantsService {
  constructor(
    @Inject(TenantsRepository) private readonly tenants: TenantsRepository,
    @Inject(AuditRepository) private readonly audit: AuditRepository,
  ) {}

  async create(actor: Actor, dto: CreateTenantDto, requestId: string): Promise<TenantResponseDto> {
    const limits = limitsOf(dto);
    try {
      const tenant = await this.tenants.create(
        {
          id: dto.id,
          name: dto.name ?? dto.id,
          maxQueuedJobs: limits.maxQueuedJobs ?? null,
          submitRatePerMinute: limits.submitRatePerMinute ?? null,
          maxRunningJobs: limits.maxRunningJobs ?? null,
          maxGpus: limits.maxGpus ?? null,
          weight: limits.weight ?? 1,
        },
        (manager, record) => this.audit.record(this.allow(actor, requestId, 'tenant.create', record), manager),
      );
      return toResponse(tenant);
    } catch (error) {
      if (error instanceof TenantExistsError) throw new DomainError(ApiErrorCode.TenantExists, `tenant ${dto.id} already exists`);
      throw error;
    }
  }

  async update(actor: Actor, id: string, dto: UpdateTenantDto, requestId: string): Promise<TenantResponseDto> {
    const tenant = await this.tenants.update(id, { ...limitsOf(dto), name: dto.name }, (manager, record) =>
      this.audit.record(this.allow(actor, requestId, 'tenant.update', record, dto), manager),
    );
    if (!tenant) throw this.notFound(id);
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

  private notFound(id: string): DomainError {
    return new DomainError(ApiErrorCode.TenantNotFound, `tenant ${id} not found`);
  }

  // The reason column of an allowed change lists what changed, so quota changes are readable in the log.
  private allow(actor: Actor, requestId: string, action: string, tenant: TenantRecord, changes?: UpdateTenantDto) {
    const changed = changes
      ? Object.entries(changes)
          .filter(([, value]) => value !== undefined)
          .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
          .join(' ')
      : null;
    return {
      requestId,
      actorTenant: actor.tenantId,
      actorSubject: actor.subject,
      targetTenant: tenant.id,
      action,
      resource: `tenant/${tenant.id}`,
      result: 'allow' as const,
      reason: changed || null,
    };
  }
}
