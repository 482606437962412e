import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { httpRequestDuration } from '@mlis/metrics';

/**
 * Observes every request in mlis_http_request_duration_seconds. The route is the pattern that matched
 * (`/v1/jobs/:id`), never the path itself, so job ids and probes of random paths cannot grow the label set.
 */
export function httpMetricsMiddleware(): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const endTimer = httpRequestDuration.startTimer();
    res.once('close', () => {
      const pattern = (req.route as { path?: unknown } | undefined)?.path;
      endTimer({
        method: req.method,
        route: typeof pattern === 'string' ? `${req.baseUrl}${pattern}` : 'unmatched',
        status_class: `${Math.floor(res.statusCode / 100)}xx`,
      });
    });
    next();
  };
}
