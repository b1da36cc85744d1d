// Paging cursors for "newest first" lists: the last item's time and id, opaque to clients.
import { ValidationError } from '../domain/errors.ts';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const ID = /^[0-9a-f-]{36}$/;

export function encodeCursor(at: string, id: string): string {
  return Buffer.from(`${at}|${id}`).toString('base64url');
}

/** A cursor this server did not make is a 400 naming `cursor`, never a database error. */
export function decodeCursor(cursor: string): [string, string] {
  const [at = '', id = '', ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (rest.length || !ISO.test(at) || !ID.test(id)) throw new ValidationError([{ path: 'cursor', key: 'validation.cursor' }]);
  return [at, id];
}
