import { json } from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiErrorCode } from '../../../libs/contracts';
import { DomainError, type ErrorDetail } from './domain-error';
import { validationFailed } from './validation';

interface BodyParserError {
  type?: string;
  status?: number;
}

function toDomainError(error: unknown): unknown {
  const { type, status } = error as BodyParserError;
  if (type === 'entity.parse.failed') return new DomainError(ApiErrorCode.MalformedJson, 'request body is not valid JSON');
  if (type === 'entity.too.large') return new DomainError(ApiErrorCode.PayloadTooLarge, 'request body is too large');
  if (status !== undefined && status >= 400 && status < 500) {
    return new DomainError(ApiErrorCode.ValidationFailed, `request body could not be read (${type ?? 'unreadable'})`);
  }
  return error;
}

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

/**
 * Parses JSON bodies up to the limit and turns parser failures into our error codes for the filter; refuses a
 * body with a key such as `constructor`, or a NUL character, anywhere in it. Requests `streamed` picks are left
 * alone: their route reads the raw body as a stream (artifact uploads).
 */
export function jsonBodyMiddleware(limitBytes: number, streamed: (req: Request) => boolean): RequestHandler {
  const parse = json({ limit: limitBytes });
  return (req: Request, res: Response, next: NextFunction) => {
    if (streamed(req)) {
      next();
      return;
    }
    parse(req, res, (error?: unknown) => {
      if (error !== undefined) return next(toDomainError(error));
      const refused = refusedContent(req.body);
      if (refused === undefined) return next();
      next(validationFailed([refused]));
    });
  };
}
