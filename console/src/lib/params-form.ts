// The file, not the barrel: the console compiles for the browser, and the runners barrel is Node code.
import type { ParamSchema, ParamsSchema } from '@mlis/runners/params-schema';

export type { ParamSchema, ParamsSchema };

export type FormValues = Record<string, string>;

export interface ParamsResult {
  params: Record<string, unknown>;
  /** Field → problem, for fields the schema already rules out (the API checks again, and cross-field rules). */
  problems: Record<string, string>;
}

/**
 * Turns the form's text inputs into params: an empty field is left out (the runner's default applies),
 * numbers are parsed and bounds-checked, arrays are one item per line.
 */
export function paramsFromForm(schema: Pick<ParamsSchema, 'properties'>, values: FormValues): ParamsResult {
  const params: Record<string, unknown> = {};
  const problems: Record<string, string> = {};
  for (const [key, param] of Object.entries(schema.properties)) {
    const raw = values[key] ?? '';
    if (raw.trim() === '') continue;
    if (param.type === 'number' || param.type === 'integer') {
      const value = Number(raw);
      if (!Number.isFinite(value)) problems[key] = 'must be a number';
      else if (param.type === 'integer' && !Number.isInteger(value)) problems[key] = 'must be an integer';
      else if (param.exclusiveMinimum !== undefined && value <= param.exclusiveMinimum) problems[key] = `must be > ${param.exclusiveMinimum}`;
      else if (param.minimum !== undefined && value < param.minimum) problems[key] = `must be >= ${param.minimum}`;
      else if (param.maximum !== undefined && value > param.maximum) problems[key] = `must be <= ${param.maximum}`;
      else params[key] = value;
    } else if (param.type === undefined) {
      try {
        params[key] = JSON.parse(raw) as unknown;
      } catch {
        problems[key] = 'must be JSON';
      }
    } else if (param.type === 'array') {
      const items = raw.split('\n').map((line) => line.trim()).filter(Boolean);
      if (param.maxItems !== undefined && items.length > param.maxItems) problems[key] = `at most ${param.maxItems} items`;
      else params[key] = items;
    } else {
      if (param.maxLength !== undefined && raw.length > param.maxLength) problems[key] = `at most ${param.maxLength} characters`;
      else if (param.pattern !== undefined && !new RegExp(param.pattern).test(raw)) problems[key] = `must match ${param.pattern}`;
      else params[key] = raw;
    }
  }
  return { params, problems };
}

/** A short hint for a field: its bounds and default. */
export function describeParam(param: ParamSchema): string {
  const parts: string[] = [param.type === 'array' ? 'one per line' : (param.type ?? 'JSON')];
  if (param.enum !== undefined) parts.push(`one of ${param.enum.join(', ')}`);
  if (param.pattern?.startsWith('^artifact://')) parts.push('artifact://<id>');
  if (param.exclusiveMinimum !== undefined) parts.push(`> ${param.exclusiveMinimum}`);
  if (param.minimum !== undefined) parts.push(`>= ${param.minimum}`);
  if (param.maximum !== undefined) parts.push(`<= ${param.maximum}`);
  if (param.maxLength !== undefined) parts.push(`up to ${param.maxLength} characters`);
  if (param.default !== undefined) parts.push(`default ${JSON.stringify(param.default)}`);
  return parts.join(', ');
}
