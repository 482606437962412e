import { ParseUUIDPipe, ValidationPipe } from '@nestjs/common';
import type { ValidationError } from 'class-validator';
import { ApiErrorCode } from '../../../libs/contracts';
import { DomainError, type ErrorDetail } from './domain-error';

/** Flattens class-validator's tree into one `{field, problem}` per failed constraint, with dotted paths. */
export function validationDetails(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((problem) => ({ field, problem }));
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

/** Strict DTO validation: unknown fields are an error, not silently dropped; no implicit type coercion. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors: ValidationError[]) => validationFailed(validationDetails(errors)),
  });
}

/** A path id that must be a UUID; anything else is a 400 before the database sees it. */
export function uuidParam(name: string): ParseUUIDPipe {
  return new ParseUUIDPipe({
    exceptionFactory: () => validationFailed([{ field: name, problem: `${name} must be a UUID` }]),
  });
}
