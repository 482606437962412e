import { createParamDecorator, Injectable, type ExecutionContext, type PipeTransform } from '@nestjs/common';
import type { ApiHeaderOptions } from '@nestjs/swagger';
import type { Request } from 'express';
import { validationFailed } from './validation';

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/** An optional header: absent is fine, present must be 1..200 printable characters. */
@Injectable()
export class IdempotencyKeyPipe implements PipeTransform<string | undefined, string | undefined> {
  transform(value: string | undefined): string | undefined {
    if (value === undefined) return undefined;
    if (value.length > MAX_IDEMPOTENCY_KEY_LENGTH || !PRINTABLE_ASCII.test(value)) {
      throw validationFailed([
        {
          field: IDEMPOTENCY_KEY_HEADER,
          problem: `must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters`,
        },
      ]);
    }
    return value;
  }
}

/** The raw header; use with IdempotencyKeyPipe. */
export const IdempotencyKey = createParamDecorator((_data: unknown, context: ExecutionContext): string | undefined =>
  context.switchToHttp().getRequest<Request>().get(IDEMPOTENCY_KEY_HEADER),
);

/** The header in the OpenAPI document: what a repeat with the same key returns. */
export function idempotencyKeyHeaderDoc(onRepeat: string): ApiHeaderOptions {
  return {
    name: IDEMPOTENCY_KEY_HEADER,
    required: false,
    description: `Up to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters, one key per tenant; ${onRepeat}`,
    // Printable ASCII; HTTP drops leading and trailing spaces, so the key neither starts nor ends with one.
    schema: { type: 'string', pattern: `^[\\x21-\\x7e](?:[\\x20-\\x7e]{0,${MAX_IDEMPOTENCY_KEY_LENGTH - 2}}[\\x21-\\x7e])?$` },
  };
}
