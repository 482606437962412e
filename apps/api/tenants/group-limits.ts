import { NAME_PATTERN } from '@mlis/contracts';
import { ValidateBy, type ValidationOptions } from 'class-validator';

export const MAX_GROUP_LIMITS = 64;
const INT32_MAX = 2_147_483_647;
const LIMIT_FIELDS = ['max_running_jobs', 'max_gpus'];

/** Limits of one group as the API takes and shows them; null is no limit. */
export interface GroupLimitsBody {
  max_running_jobs?: number | null;
  max_gpus?: number | null;
}

function isLimit(value: unknown): boolean {
  return value === undefined || value === null || (Number.isInteger(value) && (value as number) >= 0 && (value as number) <= INT32_MAX);
}

/** Why `value` is not a map of worker group to limits (or to null, which removes them), or null when it is one. */
function groupLimitsProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'group_limits must be an object keyed by worker group';
  const entries = Object.entries(value);
  if (entries.length > MAX_GROUP_LIMITS) return `group_limits must have at most ${MAX_GROUP_LIMITS} groups`;
  for (const [group, limits] of entries) {
    if (!NAME_PATTERN.test(group)) return `group_limits key "${group.slice(0, 80)}" must be a worker group name (${NAME_PATTERN.source})`;
    if (limits === null) continue;
    if (typeof limits !== 'object' || Array.isArray(limits)) return `group_limits.${group} must be an object or null`;
    const unknown = Object.keys(limits).find((key) => !LIMIT_FIELDS.includes(key));
    if (unknown !== undefined) return `group_limits.${group} has an unknown field "${unknown.slice(0, 80)}" (known: ${LIMIT_FIELDS.join(', ')})`;
    for (const field of LIMIT_FIELDS) {
      if (!isLimit((limits as Record<string, unknown>)[field])) return `group_limits.${group}.${field} must be a non-negative integer or null`;
    }
  }
  return null;
}

/** A tenant's limits by worker group: `{"gpu": {"max_gpus": 4}}`; a group set to null loses its limits. */
export function IsGroupLimitsMap(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isGroupLimitsMap',
      validator: {
        validate: (value: unknown): boolean => groupLimitsProblem(value) === null,
        defaultMessage: (args) => groupLimitsProblem(args?.value) ?? 'group_limits are invalid',
      },
    },
    options,
  );
}
