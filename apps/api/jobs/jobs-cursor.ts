import type { JobCursor } from '../../../libs/db';
import { validationFailed } from '../common/validation';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

/** Opaque to callers: base64url of `created_at|id`. */
export function encodeJobCursor(cursor: JobCursor): string {
  return Buffer.from(`${cursor.createdAt}|${cursor.id}`, 'utf8').toString('base64url');
}

export function decodeJobCursor(value: string): JobCursor {
  const [createdAt, id, ...rest] = Buffer.from(value, 'base64url').toString('utf8').split('|');
  if (rest.length > 0 || !TIMESTAMP.test(createdAt) || Number.isNaN(Date.parse(createdAt)) || !UUID.test(id ?? '')) {
    throw validationFailed([{ field: 'cursor', problem: 'cursor is not one this API issued' }]);
  }
  return { createdAt, id };
}
