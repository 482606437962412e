import type { LoggerService } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { redactSecrets } from './redact';
import { requestIdOf } from './request-context';

// Every node heartbeats every few seconds and reports each attempt it starts (its own log says so): those lines are
// debug, unless they fail.
const ROUTINE_NODE_CALL = /^\/v1\/internal\/nodes\/[^/]+\/(heartbeat|assignments\/[^/]+\/started)$/;

/** One structured line per request. Never bodies, headers or query strings: they may carry secrets. */
export function accessLogMiddleware(logger: LoggerService): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const routine = ROUTINE_NODE_CALL.test(req.path) && res.statusCode < 400;
      (routine ? (logger.debug?.bind(logger) ?? (() => undefined)) : logger.log.bind(logger))({
        method: req.method,
        // A token pasted into the path is still a token.
        path: redactSecrets(req.originalUrl.split('?')[0]),
        // A client gone before the answer got none: the status a route sets up front (201 for a POST) was never sent.
        status: res.headersSent ? res.statusCode : null,
        ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
        request_id: requestIdOf(res),
        ...(res.writableFinished ? {} : { aborted: true }),
      });
    });
    next();
  };
}
