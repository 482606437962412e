import type { Server } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiErrorCode } from '@mlis/contracts';
import { DomainError } from './domain-error';
import { sendApiError } from './api-exception.filter';

/**
 * Node's own limits, set once on the API's HTTP server. `requestTimeout` (5 min by default) caps receiving the whole
 * request, so it would cut off an artifact upload that is still streaming (a 1 GiB upload at 3 MB/s takes six
 * minutes): it is off, and a body that stops arriving is ended by `bodyIdleTimeoutMiddleware` instead.
 */
export function configureHttpServer(server: Server): void {
  server.requestTimeout = 0;
  // An idle keep-alive connection outlives the idle timeouts of load balancers and HTTP clients (60 s is common): with
  // Node's 5 s default, a client that reuses a socket just as the server closes it gets ECONNRESET.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
}

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Answers 408 `request_timeout` and closes the connection when no byte of a request body arrives for `idleSeconds`
 * while the API reads it; a streamed upload then keeps nothing (its reader fails). Only time the body is read counts:
 * the socket's idle timer (which every byte read refreshes) runs from the moment a reader takes the body, and stops
 * while it is paused (a store slow to take the bytes) and once the body is in.
 */
export function bodyIdleTimeoutMiddleware(idleSeconds: number): RequestHandler {
  const idleMs = idleSeconds * 1000;
  return (req: Request, res: Response, next: NextFunction) => {
    if (!hasBody(req) || req.complete) {
      next();
      return;
    }
    const socket = req.socket;
    const arm = (): void => void socket.setTimeout(idleMs);
    const disarm = (): void => void socket.setTimeout(0);
    const onTimeout = (): void => {
      // In whole, or not being read (paused again before its resume was heard): nothing is late.
      if (req.complete || req.readableFlowing !== true) {
        disarm();
        return;
      }
      stop();
      const error = new DomainError(ApiErrorCode.RequestTimeout, `no byte of the request body arrived for ${idleSeconds} s; nothing of it was kept`);
      // The request's reader (a streamed upload) fails once the answer is out: a half-closed connection would
      // otherwise leave it waiting for the rest of the body for as long as the client keeps its end open.
      if (res.headersSent) {
        req.destroy(error);
        return;
      }
      res.once('finish', () => req.destroy(error));
      sendApiError(req, res, error);
    };
    const onEnd = (): void => {
      stop();
      // Before the answer: from then on, the connection's timer is Node's keep-alive one.
      if (!res.writableFinished) disarm();
    };
    const stop = (): void => {
      req.off('resume', arm);
      req.off('pause', disarm);
      req.off('end', onEnd);
      res.off('timeout', onTimeout);
      res.off('finish', stop);
    };
    req.on('resume', arm);
    req.on('pause', disarm);
    req.once('end', onEnd);
    // The socket's 'timeout', passed on to the response it serves (the request hears it only while incomplete).
    res.on('timeout', onTimeout);
    res.once('finish', stop);
    next();
  };
}
