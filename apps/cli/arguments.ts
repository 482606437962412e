import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { JOB_STATES, type JobState } from '@mlis/contracts/states';

/** A mistake in the command line or its inputs: exit code 2, nothing was sent. */
export class UsageError extends Error {}

export interface ParamAssignment {
  key: string;
  value: unknown;
}

/** `k=v`: v is taken as JSON when it parses (5, true, null, [1,2], {"a":1}, "\"5\""), else as the raw string. */
export function parseParamAssignment(raw: string): ParamAssignment {
  const eq = raw.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected key=value, e.g. --param seconds=2');
  const key = raw.slice(0, eq);
  const text = raw.slice(eq + 1);
  try {
    return { key, value: JSON.parse(text) as unknown };
  } catch {
    return { key, value: text };
  }
}

/** Commander collector for a repeatable --param. */
export function collectParam(raw: string, previous: ParamAssignment[] = []): ParamAssignment[] {
  return [...previous, parseParamAssignment(raw)];
}

export function parseInteger(raw: string): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new InvalidArgumentError('must be an integer');
  return Number(raw);
}

export function parseNonNegativeInteger(raw: string): number {
  const value = parseInteger(raw);
  if (value < 0) throw new InvalidArgumentError('must be >= 0');
  return value;
}

export function parsePositiveInteger(raw: string): number {
  const value = parseInteger(raw);
  if (value < 1) throw new InvalidArgumentError('must be >= 1');
  return value;
}

/** Seconds may be fractional (--seconds 0.5, --wait-timeout 2.5). */
export function parseSeconds(raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError('must be a number of seconds >= 0');
  }
  return value;
}

/** A duration that must be more than nothing (--seconds: a sleep job's length). */
export function parsePositiveSeconds(raw: string): number {
  const value = parseSeconds(raw);
  if (value === 0) throw new InvalidArgumentError('must be a number of seconds > 0');
  return value;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90`, `90s`, `30m`, `12h`, `7d` in seconds; NaN when it is none of those. */
export function durationSeconds(raw: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(raw.trim());
  return match ? Number(match[1]) * UNIT_SECONDS[match[2] || 's'] : NaN;
}

export function parseJobState(raw: string): JobState {
  const state = raw.toUpperCase();
  if (!(JOB_STATES as readonly string[]).includes(state)) {
    throw new InvalidArgumentError(`must be one of ${JOB_STATES.join(', ')}`);
  }
  return state as JobState;
}

export function readParamsFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read params file ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`params file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(`params file ${path} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Later sources win: the params file, then each --param in order, then --seconds. */
export function buildParams(
  fileParams: Record<string, unknown> | undefined,
  assignments: ParamAssignment[],
  seconds: number | undefined,
): Record<string, unknown> {
  const params: Record<string, unknown> = { ...fileParams };
  for (const { key, value } of assignments) {
    // defineProperty, not assignment: a key like "__proto__" must stay a plain field.
    Object.defineProperty(params, key, { value, enumerable: true, writable: true, configurable: true });
  }
  if (seconds !== undefined) params.seconds = seconds;
  return params;
}

/** One `--selector key=value` (a node label the job's node must carry), collected into a map. */
export function collectSelector(raw: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = raw.indexOf('=');
  if (at <= 0) throw new UsageError(`a selector is key=value, got "${raw}"`);
  return { ...previous, [raw.slice(0, at)]: raw.slice(at + 1) };
}
