import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiErrorCode } from '@mlis/contracts';
import { DomainError } from './domain-error';

/** The operations an OpenAPI document declares, by path template (`/v1/jobs/{id}`). */
export type DeclaredPaths = Record<string, Record<string, unknown>>;

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

interface KnownPath {
  pattern: RegExp;
  allow: string[];
}

function knownPaths(paths: DeclaredPaths): KnownPath[] {
  return Object.entries(paths).map(([template, operations]) => {
    const methods = Object.keys(operations).filter((method) => HTTP_METHODS.has(method)).map((method) => method.toUpperCase());
    // Express answers HEAD with the GET handler.
    if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
    const source = template
      .split(/\{[^}]+\}/)
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]+');
    return { pattern: new RegExp(`^${source}/?$`), allow: methods.sort() };
  });
}

/**
 * A request for a path the API serves, with a method it does not declare there, gets 405 with an Allow
 * header and the error body, instead of the 404 of a path that does not exist.
 */
export function methodNotAllowedMiddleware(paths: DeclaredPaths): RequestHandler {
  const known = knownPaths(paths);
  return (req: Request, res: Response, next: NextFunction) => {
    const path = known.find((candidate) => candidate.pattern.test(req.path));
    if (!path || path.allow.includes(req.method)) return next();
    res.setHeader('Allow', path.allow.join(', '));
    next(new DomainError(ApiErrorCode.MethodNotAllowed, `${req.method} is not allowed on ${req.path}; allowed: ${path.allow.join(', ')}`));
  };
}
