import { applyDecorators } from '@nestjs/common';
import { IsString, Matches } from 'class-validator';

// Free text compared with what the ledger stores: Postgres text cannot hold NUL (a query with one fails), and
// nothing stored has a control character, so a filter with one is refused rather than passed on.
// eslint-disable-next-line no-control-regex -- control characters are exactly what it refuses
const PLAIN_TEXT = /^[^\u0000-\u001f\u007f]*$/;

/** The pattern as the OpenAPI document states it, next to the field's lengths. */
export const PLAIN_TEXT_PATTERN = PLAIN_TEXT.source;

/** A string without control characters, as PLAIN_TEXT_PATTERN states. */
export function IsPlainText(): PropertyDecorator {
  return applyDecorators(IsString(), Matches(PLAIN_TEXT, { message: ({ property }) => `${property} must not contain control characters` }));
}
