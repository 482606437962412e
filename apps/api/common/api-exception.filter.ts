import { Catch, HttpException, HttpStatus, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { isStoreRefusal, StoreFullError, UploadAbandonedError } from '@mlis/artifacts';
import { ApiErrorCode } from '@mlis/contracts';
import { isDatabaseUnavailable } from '@mlis/db';
import { DomainError, RetryLaterError, statusForCode, UNRESOLVABLE_REFERENCE_STATUS, UnresolvableReferenceError } from './domain-error';
import { redactSecrets } from './redact';
import { requestIdOf } from './request-context';

/** A restarted Postgres takes about a second to accept connections again (the chaos runs' crashes: 0.8-2.3 s). */
const RETRY_AFTER_SECONDS = 1;

function describe(exception: unknown): string {
  return exception instanceof Error ? exception.message : String(exception);
}

/** Framework exceptions that have a meaning for callers; anything else is an internal error. */
function fromHttpException(exception: HttpException): DomainError | undefined {
  switch (exception.getStatus()) {
    case HttpStatus.NOT_FOUND:
      return new DomainError(ApiErrorCode.NotFound, exception.message);
    case HttpStatus.BAD_REQUEST:
      return new DomainError(ApiErrorCode.ValidationFailed, exception.message);
    case HttpStatus.PAYLOAD_TOO_LARGE:
      return new DomainError(ApiErrorCode.PayloadTooLarge, 'request body is too large');
    default:
      return undefined;
  }
}

/** The one place errors become responses: `{error: {code, message, details?, request_id}}`. */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(ApiExceptionFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const req = host.switchToHttp().getRequest<Request>();
    const requestId = requestIdOf(res);
    // The client went away (mid-upload, say): there is no one to answer, and it is not our failure.
    if (req.socket?.destroyed && !(exception instanceof DomainError)) {
      this.logger.log({ msg: 'client went away before the answer', request_id: requestId, error: redactSecrets(describe(exception)) });
      return;
    }
    let error = exception instanceof DomainError ? exception : undefined;
    if (!error && exception instanceof HttpException) error = fromHttpException(exception);
    // From any route that writes to the store (an upload, a submission whose params are offloaded).
    if (!error && exception instanceof StoreFullError) {
      error = new DomainError(ApiErrorCode.InsufficientStorage, 'the artifact store has no space left; nothing was kept, try again later');
    }
    // A process stalled for a day between an upload's bytes and its row (ADR 0061): the request was valid, and sent
    // again it starts afresh. The log keeps the hash, which the caller already knows.
    if (!error && exception instanceof UploadAbandonedError) {
      this.logger.warn({ msg: 'upload abandoned by retention before its row', request_id: requestId, error: exception.message });
      error = new RetryLaterError(
        ApiErrorCode.UploadAbandoned,
        'the upload took longer than an unfinished upload is kept (a day) and was cleaned up; nothing was kept: send it again',
        RETRY_AFTER_SECONDS,
      );
    }
    // Postgres down or restarting (or another server refusing connections, such as an S3 store), or an S3 store that
    // answered with an error (a revoked credential, its own failure): the request was valid and may pass once the
    // dependency is back, so say so instead of an internal error; the log says which. Whether a write that was cut off
    // committed is unknown: a submission retried with its Idempotency-Key is safe.
    if (!error && (isDatabaseUnavailable(exception) || isStoreRefusal(exception))) {
      this.logger.warn({ msg: 'dependency unavailable', request_id: requestId, error: redactSecrets(describe(exception)) });
      error = new RetryLaterError(
        ApiErrorCode.DependencyUnavailable,
        'a service the API depends on (its database or artifact store) is unavailable; try again shortly',
        RETRY_AFTER_SECONDS,
      );
    }
    if (!error) {
      // Internals go to the log, tied to the request id; the caller only gets the id.
      this.logger.error(
        { msg: 'unhandled error', request_id: requestId, error: redactSecrets(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)) },
      );
      error = new DomainError(ApiErrorCode.Internal, 'internal error');
    }
    sendApiError(req, res, error);
  }
}

const ERROR_CODE = 'mlis.errorCode';

/** The code of the error `sendApiError` answered with, for what observes the response after it (the submission metrics). */
export function errorCodeOf(res: Response): ApiErrorCode | undefined {
  return (res.locals as Record<string, ApiErrorCode | undefined>)[ERROR_CODE];
}

/** Writes `error` as the response, in the one shape every error has; ends a response already under way instead. */
export function sendApiError(req: Request, res: Response, error: DomainError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  (res.locals as Record<string, ApiErrorCode>)[ERROR_CODE] = error.code;
  if (error instanceof RetryLaterError) res.setHeader('Retry-After', String(error.retryAfterSeconds));
  // Refused before the request body was read (a streamed upload): close the connection after the answer
  // instead of reading and discarding the rest of the body, however large.
  if (req.complete === false) res.setHeader('Connection', 'close');
  res.status(error instanceof UnresolvableReferenceError ? UNRESOLVABLE_REFERENCE_STATUS : statusForCode(error.code)).json({
    error: {
      code: error.code,
      // Messages may quote the request (a 404 names the path): never echo a credential.
      message: redactSecrets(error.message),
      ...(error.details && error.details.length > 0
        ? { details: error.details.map((detail) => ({ field: detail.field, problem: redactSecrets(detail.problem) })) }
        : {}),
      request_id: requestIdOf(res),
    },
  });
}
