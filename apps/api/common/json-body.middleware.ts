import { json } from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiErrorCode } from '@mlis/contracts';
import { DomainError } from './domain-error';

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

/**
 * Parses JSON bodies up to the limit and turns parser failures into our error codes for the filter (what a body
 * may hold is the validation pipe's, after authentication). Requests `streamed` picks are left alone: their route
 * reads the raw body as a stream (artifact uploads).
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
      next();
    });
  };
}
