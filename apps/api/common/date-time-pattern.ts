// Instants as the OpenAPI document states them: UTC, seconds, up to 6 fraction digits. Every real day except
// February 29 (leap years make the pattern unwieldy; the API takes that day too), so a client generating
// from the pattern only produces instants the API accepts.
const DAY = '(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)';

/** `2026-12-01T21:45:16.302123Z`, unanchored. */
export const UTC_INSTANT = `[1-9]\\d{3}-${DAY}T(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,6})?Z`;

/** An anchored UTC_INSTANT, for query parameters. */
export const UTC_INSTANT_PATTERN = `^${UTC_INSTANT}$`;
