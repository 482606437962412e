import type { AuditExportPosition } from '@mlis/db';
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

/** The export cursor's form: the last exported event's transaction id and event id. */
export const AUDIT_EXPORT_CURSOR_PATTERN = '^[0-9]{1,20}\\.[1-9][0-9]{0,17}$';
const EXPORT_CURSOR = new RegExp(AUDIT_EXPORT_CURSOR_PATTERN);
// xid8 is an unsigned 64-bit integer.
const XID8_MAX = 2n ** 64n - 1n;

export function encodeAuditExportCursor(position: AuditExportPosition): string {
  return `${position.xid}.${position.id}`;
}

export function decodeAuditExportCursor(value: string): AuditExportPosition {
  const [xid, id] = value.split('.');
  if (!EXPORT_CURSOR.test(value) || BigInt(xid) > XID8_MAX) throw validationFailed([{ field: 'cursor', problem: 'cursor is not one this API issued' }]);
  return { xid, id };
}
