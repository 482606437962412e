import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { httpRequestDuration } from '@mlis/metrics';

/**
 * Observes every request in mlis_http_request_duration_seconds. The route is the pattern that matched
 * (`/v1/jobs/:id`), never the path itself, so job ids and probes of random paths cannot grow the label set.
 * A request that waits by design (a long-poll, `?wait=` above 0) gets `?wait` after its pattern: its seconds of
 * waiting would otherwise hide the route's read latency.
 */
export function httpMetricsMiddleware(): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const endTimer = httpRequestDuration.startTimer();
    res.once('close', () => {
      const pattern = (req.route as { path?: unknown } | undefined)?.path;
      const waits = typeof req.query.wait === 'string' && Number(req.query.wait) > 0;
      endTimer({
        method: req.method,
        route: typeof pattern === 'string' ? `${req.baseUrl}${pattern}${waits ? '?wait' : ''}` : 'unmatched',
        status_class: `${Math.floor(res.statusCode / 100)}xx`,
      });
    });
    next();
  };
}
