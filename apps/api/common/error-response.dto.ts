import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiPropertyOptional, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ApiErrorCode } from '@mlis/contracts';
import { statusForCode, UNRESOLVABLE_REFERENCE_STATUS } from './domain-error';

export class ErrorDetailDto {
  @ApiProperty({ description: 'The input field at fault, dotted for nested fields (e.g. "gpus.0.index").' })
  field: string;

  @ApiProperty({ description: 'What is wrong with it.' })
  problem: string;
}

export class ErrorBodyDto {
  @ApiProperty({
    description: 'Stable machine-readable error code.',
    enum: Object.values(ApiErrorCode),
  })
  code: string;

  @ApiProperty({ description: 'Human-readable explanation; never contains internals.' })
  message: string;

  @ApiPropertyOptional({ description: 'Per-field problems, for validation errors.', type: [ErrorDetailDto] })
  details?: ErrorDetailDto[];

  @ApiProperty({ description: 'The request id, also in the X-Request-ID response header.' })
  request_id: string;
}

export class ErrorResponseDto {
  @ApiProperty({ description: 'The error.', type: ErrorBodyDto })
  error: ErrorBodyDto;
}

/** A code this route answers with the status of an UnresolvableReferenceError instead of the code's own. */
export function asUnresolvableReference(code: ApiErrorCode): { code: ApiErrorCode; status: number } {
  return { code, status: UNRESOLVABLE_REFERENCE_STATUS };
}

// A route that reads a request body (these are its errors) can also find the body stalled: 408 request_timeout.
const BODY_ERRORS: readonly ApiErrorCode[] = [ApiErrorCode.MalformedJson, ApiErrorCode.PayloadTooLarge];

/**
 * Documents a route's error responses, grouped by status; every route can also answer 500 internal_error, and 503
 * dependency_unavailable (with Retry-After) while the database is down or restarting or the artifact store cannot serve a
 * call it needs, and a route that reads a body
 * 408 request_timeout. Errors are JSON whatever the route's success responses are (an event stream, an artifact's bytes).
 */
export function ApiErrorResponses(...codes: (ApiErrorCode | { code: ApiErrorCode; status: number })[]): MethodDecorator & ClassDecorator {
  const byStatus = new Map<number, ApiErrorCode[]>();
  const readsBody = codes.some((entry) => BODY_ERRORS.includes(typeof entry === 'string' ? entry : entry.code));
  for (const entry of [...codes, ...(readsBody ? [ApiErrorCode.RequestTimeout] : []), ApiErrorCode.DependencyUnavailable, ApiErrorCode.Internal]) {
    const { code, status } = typeof entry === 'string' ? { code: entry, status: statusForCode(entry) } : entry;
    const listed = byStatus.get(status) ?? [];
    if (!listed.includes(code)) byStatus.set(status, [...listed, code]);
  }
  const content = { 'application/json': { schema: { $ref: getSchemaPath(ErrorResponseDto) } } };
  return applyDecorators(
    ApiExtraModels(ErrorResponseDto),
    ...[...byStatus].map(([status, statusCodes]) => ApiResponse({ status, content, description: `error.code: ${statusCodes.join(' | ')}` })),
  );
}
