import type { ErrorDetail } from './domain-error';

/** Keys that name JavaScript object machinery: the validation layer would drop them silently, so they are refused. */
export const FORBIDDEN_BODY_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

const NUL = '\u0000';

/**
 * The first thing anywhere in a parsed JSON body that it may not hold, as an error detail (dotted path), or
 * undefined: a key such as `constructor`, or U+0000 in a key or a string (Postgres text and jsonb cannot store it).
 */
export function refusedContent(body: unknown): ErrorDetail | undefined {
  // Iterative: the body is not validated yet and may be deep.
  const stack: [unknown, string][] = [[body, '']];
  while (stack.length > 0) {
    const [value, path] = stack.pop() as [unknown, string];
    if (typeof value === 'string' && value.includes(NUL)) return { field: path, problem: 'must not contain U+0000 (NUL)' };
    if (value === null || typeof value !== 'object') continue;
    const isArray = Array.isArray(value);
    for (const key of Object.keys(value)) {
      const child = isArray ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      if (!isArray && FORBIDDEN_BODY_KEYS.has(key)) {
        return { field: child, problem: `"${key}" is a reserved name (${[...FORBIDDEN_BODY_KEYS].join(', ')}) and not allowed as a key` };
      }
      if (key.includes(NUL)) return { field: child, problem: 'a key must not contain U+0000 (NUL)' };
      stack.push([(value as Record<string, unknown>)[key], child]);
    }
  }
  return undefined;
}
