import type { ErrorDetail } from './domain-error';

/** Keys that name JavaScript object machinery: the validation layer would drop them silently, so they are refused. */
export const FORBIDDEN_BODY_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

const NUL = '\u0000';
/** In a `u` regex a surrogate pair is one code point, so this matches only a lone surrogate. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** The first key or string anywhere in parsed JSON that `refuse` names a problem for, as an error detail (dotted path). */
function findInJson(json: unknown, root: string, refuse: (text: string, isKey: boolean) => string | undefined): ErrorDetail | undefined {
  // Iterative: the body is not validated yet and may be deep.
  const stack: [unknown, string][] = [[json, root]];
  while (stack.length > 0) {
    const [value, path] = stack.pop() as [unknown, string];
    const problem = typeof value === 'string' ? refuse(value, false) : undefined;
    if (problem !== undefined) return { field: path, problem };
    if (value === null || typeof value !== 'object') continue;
    const isArray = Array.isArray(value);
    for (const key of Object.keys(value)) {
      const child = isArray ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      const keyProblem = isArray ? undefined : refuse(key, true);
      if (keyProblem !== undefined) return { field: child, problem: keyProblem };
      stack.push([(value as Record<string, unknown>)[key], child]);
    }
  }
  return undefined;
}

/** A key such as `constructor` anywhere in a parsed JSON body, or undefined. */
export function reservedKey(body: unknown): ErrorDetail | undefined {
  return findInJson(body, '', (text, isKey) =>
    isKey && FORBIDDEN_BODY_KEYS.has(text) ? `"${text}" is a reserved name (${[...FORBIDDEN_BODY_KEYS].join(', ')}) and not allowed as a key` : undefined,
  );
}

/**
 * A key or string anywhere in `json` that Postgres jsonb cannot store, or undefined: one holding U+0000, or one that is
 * not well-formed UTF-16 (a lone surrogate, as a client that cut an emoji in half sends; JSON allows it as an escape).
 */
export function unstorableText(json: unknown, root: string): ErrorDetail | undefined {
  return findInJson(json, root, (text, isKey) => {
    const what = isKey ? 'a key' : 'a string';
    if (text.includes(NUL)) return `${what} must not contain U+0000 (NUL)`;
    if (LONE_SURROGATE.test(text)) return `${what} must not contain a lone UTF-16 surrogate (half of a character)`;
    return undefined;
  });
}
