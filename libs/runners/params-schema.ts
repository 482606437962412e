import { InvalidParamsError, type TaskSpec } from './runner';

/** JSON Schema of one param, as the runner's own ParamsChecker rule states it. */
export interface ParamSchema {
  /** Absent: any JSON value (a rule the runner checks itself). */
  type?: 'number' | 'integer' | 'string' | 'array';
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  items?: ParamSchema;
  enum?: string[];
  pattern?: string;
  default?: unknown;
}

/** A runner's params as JSON Schema; cross-field rules (one of text or inputs) stay with the runner, which reports them at submission. */
export interface ParamsSchema {
  type: 'object';
  /** True for a task type that takes any params (echo). */
  additionalProperties: boolean;
  properties: Record<string, ParamSchema>;
}

let recording: ParamsSchema | null = null;

/** Called by ParamsChecker for each rule it checks: while a schema is being read, the rule is written down. */
export function recordParamRule(key: string, schema: ParamSchema): void {
  if (recording) recording.properties[key] = schema;
}

/** Called by a task type that takes any params object. */
export function recordOpenParams(): void {
  if (recording) recording.additionalProperties = true;
}

/**
 * The runner's params schema, read from the runner itself: its validate() runs once on empty params
 * while every ParamsChecker rule it applies is recorded. No second copy of the rules to drift.
 */
export function paramsSchemaOf(runner: TaskSpec): ParamsSchema {
  const schema: ParamsSchema = { type: 'object', additionalProperties: false, properties: {} };
  recording = schema;
  try {
    runner.validate({});
  } catch (error) {
    // Empty params may be invalid (a required field): the rules were recorded all the same.
    if (!(error instanceof InvalidParamsError)) throw error;
  } finally {
    recording = null;
  }
  return schema;
}
