import { ARTIFACT_REF_PATTERN, parseArtifactRef } from '@mlis/contracts';
import { recordParamRule } from './params-schema';
import { InvalidParamsError } from './runner';

export interface ParamProblem {
  field: string;
  problem: string;
}

interface NumberRule {
  /** Smallest allowed value; exclusive when `exclusiveMin` is set. */
  min: number;
  max: number;
  exclusiveMin?: boolean;
  integer?: boolean;
}

interface StringRule {
  minLength: number;
  maxLength: number;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Collects every problem in a runner's params before failing, so a caller sees all of them at once.
 * Pure: the API calls validate() at submission.
 */
export class ParamsChecker {
  private readonly problems: ParamProblem[] = [];
  private readonly values: Record<string, unknown>;

  constructor(
    private readonly taskType: string,
    params: unknown,
    allowed: readonly string[],
  ) {
    // A submission without params means "all defaults".
    const value = params === undefined ? {} : params;
    if (!isPlainObject(value)) {
      this.values = {};
      this.problems.push({ field: 'params', problem: 'must be a JSON object' });
      return;
    }
    this.values = value;
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.problems.push({ field: `params.${key}`, problem: 'unknown field' });
    }
  }

  has(key: string): boolean {
    return this.values[key] !== undefined;
  }

  problem(field: string, problem: string): void {
    this.problems.push({ field: field === 'params' ? field : `params.${field}`, problem });
  }

  number(key: string, rule: NumberRule, fallback: number): number {
    recordParamRule(key, {
      type: rule.integer ? 'integer' : 'number',
      ...(rule.exclusiveMin ? { exclusiveMinimum: rule.min } : { minimum: rule.min }),
      maximum: rule.max,
      default: fallback,
    });
    const value = this.values[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.problem(key, rule.integer ? 'must be an integer' : 'must be a number');
      return fallback;
    }
    if (rule.integer && !Number.isInteger(value)) {
      this.problem(key, 'must be an integer');
      return fallback;
    }
    const tooSmall = rule.exclusiveMin ? value <= rule.min : value < rule.min;
    if (tooSmall || value > rule.max) {
      this.problem(key, `must be ${rule.exclusiveMin ? '>' : '>='} ${rule.min} and <= ${rule.max}`);
      return fallback;
    }
    return value;
  }

  string(key: string, rule: StringRule): string | undefined {
    recordParamRule(key, { type: 'string', minLength: rule.minLength, maxLength: rule.maxLength });
    const value = this.values[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') {
      this.problem(key, 'must be a string');
      return undefined;
    }
    return this.checkLength(key, value, rule) ? value : undefined;
  }

  stringArray(key: string, rule: StringRule & { minItems: number; maxItems: number }): string[] | undefined {
    recordParamRule(key, { type: 'array', minItems: rule.minItems, maxItems: rule.maxItems, items: { type: 'string', minLength: rule.minLength, maxLength: rule.maxLength } });
    const value = this.values[key];
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) {
      this.problem(key, 'must be an array of strings');
      return undefined;
    }
    if (value.length < rule.minItems || value.length > rule.maxItems) {
      this.problem(key, `must have ${rule.minItems} to ${rule.maxItems} items`);
      return undefined;
    }
    let ok = true;
    value.forEach((item: unknown, index) => {
      const field = `${key}[${index}]`;
      if (typeof item !== 'string') {
        this.problem(field, 'must be a string');
        ok = false;
      } else if (!this.checkLength(field, item, rule)) {
        ok = false;
      }
    });
    return ok ? (value as string[]) : undefined;
  }

  /** One of a fixed set of strings. */
  choice<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    recordParamRule(key, { type: 'string', enum: [...choices], default: fallback });
    const value = this.values[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || !choices.includes(value as T)) {
      this.problem(key, `must be one of ${choices.join(', ')}`);
      return fallback;
    }
    return value as T;
  }

  /** A reference to an artifact, `artifact://<uuid>`; the node reads it through RunContext.artifacts. */
  artifactRef(key: string): string | undefined {
    recordParamRule(key, { type: 'string', pattern: ARTIFACT_REF_PATTERN });
    const value = this.values[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || parseArtifactRef(value) === null) {
      this.problem(key, 'must be an artifact reference, artifact://<uuid>');
      return undefined;
    }
    return value;
  }

  /** The raw value, for checks this class has no rule for. */
  raw(key: string): unknown {
    recordParamRule(key, {});
    return this.values[key];
  }

  /** Returns the parsed params, or throws InvalidParamsError listing every problem found. */
  result<T>(parsed: T): T {
    if (this.problems.length > 0) {
      const summary = this.problems.map((p) => `${p.field} ${p.problem}`).join('; ');
      throw new InvalidParamsError(`invalid params for ${this.taskType}: ${summary}`, [...this.problems]);
    }
    return parsed;
  }

  private checkLength(field: string, value: string, rule: StringRule): boolean {
    if (value.length < rule.minLength || value.length > rule.maxLength) {
      this.problem(field, `must be ${rule.minLength} to ${rule.maxLength} characters`);
      return false;
    }
    return true;
  }
}
