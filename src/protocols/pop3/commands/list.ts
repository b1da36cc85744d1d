// LIST (RFC 1939 §5): the size in octets of every message, by message number.

import { MailError } from '../../mail-error.ts';
import { buildCommand } from '../protocol/request.ts';
import { parseListLines, splitLines, type ListEntry } from '../protocol/response.ts';
import { expectOkReply, type Pop3Session } from './session.ts';

export async function list(session: Pop3Session): Promise<ListEntry[]> {
  const cmd = buildCommand('LIST');
  const body = expectOkReply(await session.conn.send(cmd, { multiline: true }), cmd);
  const { entries, bad } = parseListLines(splitLines(body));
  if (bad.length > 0) {
    throw new MailError('PROTOCOL_ERROR', `POP3 LIST line cannot be parsed: ${JSON.stringify(bad[0])}`, { kind: 'transient', command: 'LIST', response: bad[0] });
  }
  return entries;
}
