// UIDL (RFC 1939 §7): the server's unique id of every message. Without it nothing can be
// received safely (sequence numbers change between sessions and would make duplicates),
// so a server without UIDL is a configuration error, not something to work around.

import { MailError } from '../../mail-error.ts';
import { buildCommand } from '../protocol/request.ts';
import { parseUidlLines, splitLines, type UidlEntry } from '../protocol/response.ts';
import { expectOkReply, type Pop3Session } from './session.ts';

export function uidlUnsupported(reason: string, response?: string): MailError {
  return new MailError('UIDL_UNSUPPORTED', `POP3 server does not support UIDL (${reason})`, { kind: 'config', command: 'UIDL', response });
}

export async function uidl(session: Pop3Session): Promise<UidlEntry[]> {
  if (session.capabilities && !session.capabilities.uidl) throw uidlUnsupported('not in CAPA');
  const cmd = buildCommand('UIDL');
  const body = expectOkReply(await session.conn.send(cmd, { multiline: true }), cmd);
  const { entries, bad } = parseUidlLines(splitLines(body));
  if (bad.length > 0) {
    throw new MailError('PROTOCOL_ERROR', `POP3 UIDL line cannot be parsed: ${JSON.stringify(bad[0])}`, { kind: 'transient', command: 'UIDL', response: bad[0] });
  }
  return entries;
}
