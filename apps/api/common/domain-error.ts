import { ApiErrorCode } from '@mlis/contracts';

/** One problem with one input field, in the error body's `details`. */
export interface ErrorDetail {
  field: string;
  problem: string;
}

/** Thrown by services for every expected failure; the exception filter turns the code into a status. */
export class DomainError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** A verified token that names a tenant nobody created: refused before any write reaches the tenant's foreign key. */
export function unknownTenant(tenantId: string): DomainError {
  return new DomainError(
    ApiErrorCode.TenantNotFound,
    `tenant "${tenantId}" does not exist; an admin creates it with: mlis tenants create ${tenantId}`,
  );
}

/** A refusal that the same request may pass later; the exception filter sends the wait as Retry-After. */
export class RetryLaterError extends DomainError {
  constructor(
    code: ApiErrorCode,
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(code, message);
  }
}

/**
 * A request naming something the caller cannot see (an `artifact://` reference in params): the request is
 * unprocessable (422), whatever status the same code has on that thing's own route (a 404 there).
 */
export class UnresolvableReferenceError extends DomainError {}

export const UNRESOLVABLE_REFERENCE_STATUS = 422;

/** The HTTP status of each error code; exhaustive, so a new code does not compile until it has one. */
export function statusForCode(code: ApiErrorCode): number {
  switch (code) {
    case ApiErrorCode.ValidationFailed:
    case ApiErrorCode.MalformedJson:
    case ApiErrorCode.ChecksumMismatch:
      return 400;
    case ApiErrorCode.JobNotFound:
    case ApiErrorCode.NodeNotFound:
    case ApiErrorCode.UnknownWorkerGroup:
    case ApiErrorCode.NotFound:
    case ApiErrorCode.TenantNotFound:
    case ApiErrorCode.ArtifactNotFound:
      return 404;
    case ApiErrorCode.ResultNotAvailable:
    case ApiErrorCode.JobAlreadyFinished:
    case ApiErrorCode.IdempotencyConflict:
    case ApiErrorCode.NodeSuperseded:
    case ApiErrorCode.NodeDead:
    case ApiErrorCode.AssignmentNotPlaced:
    case ApiErrorCode.AssignmentNotLive:
    case ApiErrorCode.TenantExists:
    case ApiErrorCode.ArtifactInUse:
      return 409;
    case ApiErrorCode.MethodNotAllowed:
      return 405;
    case ApiErrorCode.RequestTimeout:
      return 408;
    case ApiErrorCode.PayloadTooLarge:
      return 413;
    case ApiErrorCode.RangeNotSatisfiable:
      return 416;
    case ApiErrorCode.RateLimited:
    case ApiErrorCode.QuotaExceeded:
      return 429;
    case ApiErrorCode.UnknownTaskType:
    case ApiErrorCode.UnknownPriorityClass:
    case ApiErrorCode.InvalidParams:
    case ApiErrorCode.Unschedulable:
      return 422;
    case ApiErrorCode.Unauthorized:
      return 401;
    case ApiErrorCode.Forbidden:
      return 403;
    case ApiErrorCode.InvalidBootstrapCredential:
      return 401;
    case ApiErrorCode.Internal:
      return 500;
    case ApiErrorCode.DependencyUnavailable:
    case ApiErrorCode.UploadAbandoned:
      return 503;
    case ApiErrorCode.InsufficientStorage:
      return 507;
    default: {
      const unhandled: never = code;
      throw new Error(`no HTTP status for error code ${String(unhandled)}`);
    }
  }
}
