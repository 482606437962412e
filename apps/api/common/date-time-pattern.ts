import { applyDecorators } from '@nestjs/common';
import { IsISO8601, Matches } from 'class-validator';

// Instants as the OpenAPI document states them: UTC, seconds, up to 6 fraction digits. Every real day except
// February 29 (leap years make the pattern unwieldy; the API takes that day too), so a client generating
// from the pattern only produces instants the API accepts.
const DAY = '(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)';

/** `2026-12-01T21:45:16.302123Z`, unanchored. */
export const UTC_INSTANT = `[1-9]\\d{3}-${DAY}T(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,6})?Z`;

/** An anchored UTC_INSTANT, for query parameters. */
export const UTC_INSTANT_PATTERN = `^${UTC_INSTANT}$`;

// What a filter takes: a date, or a date and time with its zone. ISO 8601's week and ordinal dates, comma fractions and
// times without a zone pass IsISO8601, but JavaScript's Date reads the first three as invalid and the last in the
// server's own zone.
const INSTANT_SHAPE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** A query parameter naming an instant: a real calendar date (IsISO8601 strict), in INSTANT_SHAPE. */
export function IsInstant(): PropertyDecorator {
  return applyDecorators(
    IsISO8601({ strict: true }),
    Matches(INSTANT_SHAPE, { message: ({ property }) => `${property} must be a date, or a date and time with its zone (e.g. 2026-12-01T21:45:16Z)` }),
  );
}
