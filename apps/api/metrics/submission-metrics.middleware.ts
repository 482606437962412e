import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AuthenticatedRequest } from '../auth/auth.decorators';
import { errorCodeOf } from '../common/api-exception.filter';
import type { MetricsService } from './metrics.service';

/**
 * Counts every `POST /v1/jobs` in mlis_job_submissions_total once its answer is sent, whatever answered it: the route
 * (202 accepted, 200 replayed), the guard (401, 403), the body parser or validation (400) or the service (422, 429, ...).
 * Mounted at /v1/jobs, so other routes pay nothing.
 */
export function submissionMetricsMiddleware(metrics: MetricsService): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'POST' || (req.path !== '/' && req.path !== '')) {
      next();
      return;
    }
    res.once('finish', () => {
      const tenantId = (req as AuthenticatedRequest).actor?.tenantId;
      if (res.statusCode === 202) metrics.recordSubmission('accepted', 'none', tenantId);
      else if (res.statusCode === 200) metrics.recordSubmission('replayed', 'none', tenantId);
      else metrics.recordSubmission('refused', errorCodeOf(res) ?? `http_${res.statusCode}`, tenantId);
    });
    next();
  };
}
