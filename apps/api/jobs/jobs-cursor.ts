import type { JobCursor } from '@mlis/db';
import { UTC_INSTANT } from '../common/date-time-pattern';
import { validationFailed } from '../common/validation';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** The cursor's form, as the OpenAPI document states it: `<created_at, UTC, microseconds>_<job id>`. */
export const JOB_CURSOR_PATTERN = `^${UTC_INSTANT}_${UUID}$`;
const CURSOR = new RegExp(JOB_CURSOR_PATTERN);
const LEAP_DAY = new RegExp(`^[1-9]\\d{3}-02-29T(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,6})?Z_${UUID}$`);

/** `created_at_id`: the position after which the next page starts (newest first). */
export function encodeJobCursor(cursor: JobCursor): string {
  return `${cursor.createdAt}_${cursor.id}`;
}

export function decodeJobCursor(value: string): JobCursor {
  const [createdAt, id] = value.split('_');
  const leapDay = LEAP_DAY.test(value) && new Date(`${createdAt.slice(0, 10)}T00:00:00Z`).getUTCDate() === 29;
  if (!CURSOR.test(value) && !leapDay) {
    throw validationFailed([{ field: 'cursor', problem: 'cursor is not one this API issued' }]);
  }
  return { createdAt, id };
}
