import type { Tenant, UpdateTenantRequest } from '../api-types';
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
  maxArtifactBytes?: LimitArgument;
  weight?: number;
  /** --max-running-jobs and --max-gpus apply inside this worker group instead of tenant-wide. */
  group?: string;
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

function changesOf(options: TenantLimitOptions): UpdateTenantRequest {
  const running = limitValue(options.maxRunningJobs);
  const gpus = limitValue(options.maxGpus);
  const groupLimits = running === undefined && gpus === undefined ? null : { max_running_jobs: running ?? null, max_gpus: gpus ?? null };
  const changes: UpdateTenantRequest = {
    name: options.name,
    max_queued_jobs: limitValue(options.maxQueuedJobs),
    submit_rate_per_minute: limitValue(options.submitRate),
    max_artifact_bytes: limitValue(options.maxArtifactBytes),
    weight: options.weight,
    // A group's two limits are set together: one not given is no limit, neither removes the group's limits.
    ...(options.group === undefined
      ? { max_running_jobs: running, max_gpus: gpus }
      : { group_limits: { [options.group]: groupLimits } }),
  };
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
}

function limit(value: number | null): string {
  return value === null ? '-' : String(value);
}

/** `gpu(running 10, gpus 4)`, one entry per group with limits; `-` for none. */
function groupLimits(limits: Tenant['group_limits']): string {
  const entries = Object.entries(limits ?? {}).map(([group, l]) => {
    const parts = [l.max_running_jobs !== null ? `running ${l.max_running_jobs}` : null, l.max_gpus !== null ? `gpus ${l.max_gpus}` : null];
    return `${group}(${parts.filter((part) => part !== null).join(', ')})`;
  });
  return entries.length > 0 ? entries.join(' ') : '-';
}

export function formatTenants(tenants: Tenant[]): string {
  return formatTable(
    ['ID', 'NAME', 'WEIGHT', 'MAX_QUEUED', 'SUBMIT/MIN', 'MAX_RUNNING', 'MAX_GPUS', 'GROUP_LIMITS', 'MAX_ARTIFACT_BYTES', 'CREATED'],
    tenants.map((t) => [
      t.id,
      t.name,
      String(t.weight),
      limit(t.max_queued_jobs),
      limit(t.submit_rate_per_minute),
      limit(t.max_running_jobs),
      limit(t.max_gpus),
      groupLimits(t.group_limits),
      limit(t.max_artifact_bytes),
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
