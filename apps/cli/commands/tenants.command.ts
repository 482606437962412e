import type { Tenant, TenantChanges } from '../api-types';
import { UsageError } from '../arguments';
import { ExitCode, printJson, type CliContext } from '../cli-context';
import { formatTable, formatTime } from '../format';

// Commander stores a parsed null as '', so "no limit" travels as 'none' until the request is built.
type LimitArgument = number | 'none';

/** Limit options as commander parses them. */
export interface TenantLimitOptions {
  name?: string;
  maxQueuedJobs?: LimitArgument;
  submitRate?: LimitArgument;
  maxRunningJobs?: LimitArgument;
  maxGpus?: LimitArgument;
  weight?: number;
}

/** A limit value: a non-negative integer, or `none` to remove the limit. */
export function parseLimit(raw: string): LimitArgument {
  if (raw === 'none') return raw;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new UsageError(`a limit must be a non-negative integer or "none", got "${raw}"`);
  }
  return Number(raw);
}

function limitValue(value: LimitArgument | undefined): number | null | undefined {
  return value === 'none' ? null : value;
}

function changesOf(options: TenantLimitOptions): TenantChanges {
  const changes: TenantChanges = {
    name: options.name,
    max_queued_jobs: limitValue(options.maxQueuedJobs),
    submit_rate_per_minute: limitValue(options.submitRate),
    max_running_jobs: limitValue(options.maxRunningJobs),
    max_gpus: limitValue(options.maxGpus),
    weight: options.weight,
  };
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
}

function limit(value: number | null): string {
  return value === null ? '-' : String(value);
}

export function formatTenants(tenants: Tenant[]): string {
  return formatTable(
    ['ID', 'NAME', 'WEIGHT', 'MAX_QUEUED', 'SUBMIT/MIN', 'MAX_RUNNING', 'MAX_GPUS', 'CREATED'],
    tenants.map((t) => [
      t.id,
      t.name,
      String(t.weight),
      limit(t.max_queued_jobs),
      limit(t.submit_rate_per_minute),
      limit(t.max_running_jobs),
      limit(t.max_gpus),
      formatTime(t.created_at),
    ]),
  );
}

function print(context: CliContext, tenant: Tenant): ExitCode {
  if (context.json) printJson(context, tenant);
  else context.out(formatTenants([tenant]));
  return ExitCode.Ok;
}

/** GET /v1/tenants. */
export async function tenantsListCommand(context: CliContext): Promise<ExitCode> {
  const tenants = await context.client.listTenants();
  if (context.json) printJson(context, tenants);
  else context.out(tenants.items.length > 0 ? formatTenants(tenants.items) : 'no tenants');
  return ExitCode.Ok;
}

/** POST /v1/tenants. */
export async function tenantsCreateCommand(context: CliContext, id: string, options: TenantLimitOptions): Promise<ExitCode> {
  return print(context, await context.client.createTenant({ id, ...changesOf(options) }));
}

/** PATCH /v1/tenants/:id with the limits given; the others stay as they are. */
export async function tenantsSetLimitsCommand(context: CliContext, id: string, options: TenantLimitOptions): Promise<ExitCode> {
  const changes = changesOf(options);
  if (Object.keys(changes).length === 0) throw new UsageError('give at least one limit to set (see --help)');
  return print(context, await context.client.updateTenant(id, changes));
}
