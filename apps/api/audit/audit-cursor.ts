import { validationFailed } from '../common/validation';

/** The cursor's form, as the OpenAPI document states it: the last event's id (ids stay far below 10^18). */
export const AUDIT_CURSOR_PATTERN = '^[1-9][0-9]{0,17}$';
const CURSOR = new RegExp(AUDIT_CURSOR_PATTERN);

/** The id of the last event on the page: the next page holds older ones. */
export function encodeAuditCursor(id: string): string {
  return id;
}

export function decodeAuditCursor(value: string): string {
  if (!CURSOR.test(value)) throw validationFailed([{ field: 'cursor', problem: 'cursor is not one this API issued' }]);
  return value;
}
