import { ValidateBy, type ValidationOptions } from 'class-validator';
import { LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN } from '@mlis/contracts';

export const MAX_LABELS = 32;

/** Why `value` is not a label map, or null when it is one. */
function labelMapProblem(value: unknown, field: string): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${field} must be an object of string values`;
  const entries = Object.entries(value);
  if (entries.length > MAX_LABELS) return `${field} must have at most ${MAX_LABELS} entries`;
  for (const [key, label] of entries) {
    if (!LABEL_KEY_PATTERN.test(key)) return `${field} key "${key.slice(0, 80)}" must match ${LABEL_KEY_PATTERN.source}`;
    if (typeof label !== 'string' || !LABEL_VALUE_PATTERN.test(label)) {
      return `${field} "${key}" must have a string value matching ${LABEL_VALUE_PATTERN.source}`;
    }
  }
  return null;
}

/** A map of label key to value (node labels, a job's node_selector). */
export function IsLabelMap(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isLabelMap',
      validator: {
        validate: (value: unknown, args): boolean => labelMapProblem(value, args?.property ?? 'labels') === null,
        defaultMessage: (args) => labelMapProblem(args?.value, args?.property ?? 'labels') ?? `${args?.property ?? 'labels'} are invalid`,
      },
    },
    options,
  );
}
