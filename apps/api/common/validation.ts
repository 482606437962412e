import { ParseUUIDPipe, ValidationPipe, type ArgumentMetadata } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IS_ARRAY, IS_BOOLEAN, IS_INT, IS_NUMBER, IS_OBJECT, IS_STRING, type ValidationError } from 'class-validator';
import { ApiErrorCode } from '@mlis/contracts';
import { reservedKey } from './body-content';
import { DomainError, type ErrorDetail } from './domain-error';

/**
 * The constraints that check a value's type. A value of the wrong type fails its field's range, length and pattern
 * constraints too, whose messages are then false ("wait must not be greater than 60" for `wait=abc`): when one of these
 * fails, it is the field's only problem.
 */
const TYPE_CONSTRAINTS = new Set([IS_INT, IS_NUMBER, IS_STRING, IS_BOOLEAN, IS_ARRAY, IS_OBJECT]);

/** A field's problems: its failed type check alone when there is one, else every constraint it failed. */
function problemsOf(constraints: Record<string, string>): string[] {
  const failed = Object.entries(constraints);
  const wrongType = failed.filter(([constraint]) => TYPE_CONSTRAINTS.has(constraint));
  return (wrongType.length > 0 ? wrongType : failed).map(([, problem]) => problem);
}

/** Flattens class-validator's tree into one `{field, problem}` per problem (problemsOf), with dotted paths. */
export function validationDetails(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = problemsOf(error.constraints ?? {}).map((problem) => ({ field, problem }));
    return [...own, ...validationDetails(error.children ?? [], field)];
  });
}

export function validationFailed(details: ErrorDetail[]): DomainError {
  const summary = details
    .slice(0, 3)
    .map((detail) => detail.problem)
    .join('; ');
  return new DomainError(ApiErrorCode.ValidationFailed, `invalid request: ${summary || 'validation failed'}`, details);
}

/**
 * Strict DTO validation: unknown fields are an error, not silently dropped; no implicit type coercion. A body is
 * required wherever a route reads one (the document says so): a request without a JSON body is refused, not
 * taken for `{}`; so is one with a reserved key anywhere in it.
 */
class StrictValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body') {
      // The JSON parser leaves the body undefined when there is none, or it is not application/json.
      if (value === undefined) throw validationFailed([{ field: 'body', problem: 'a JSON request body (Content-Type: application/json) is required' }]);
      const reserved = reservedKey(value);
      if (reserved !== undefined) throw validationFailed([reserved]);
    }
    return super.transform(value, metadata) as Promise<unknown>;
  }
}

export function createValidationPipe(): ValidationPipe {
  return new StrictValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors: ValidationError[]) => validationFailed(validationDetails(errors)),
  });
}

const DECIMAL_INTEGER = /^-?[0-9]+$/;

/**
 * A query parameter that is an integer: only decimal digits become a number. Anything else stays as sent and fails
 * @IsInt, where Number() would have read '' and blanks as 0, '0x10' as 16 and '1e1' as 10.
 */
export function IntegerQuery(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) => (typeof value === 'string' && DECIMAL_INTEGER.test(value) ? Number(value) : value));
}

/** A path id that must be a UUID; anything else is a 400 before the database sees it. */
export function uuidParam(name: string): ParseUUIDPipe {
  return new ParseUUIDPipe({
    exceptionFactory: () => validationFailed([{ field: name, problem: `${name} must be a UUID` }]),
  });
}
