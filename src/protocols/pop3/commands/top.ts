// TOP (RFC 1939 §7): the header and the first `lines` body lines of a message.

import { buildCommand } from '../protocol/request.ts';
import { checkSeq } from './retr.ts';
import { expectOkReply, type Pop3Session } from './session.ts';

export async function top(session: Pop3Session, seq: number, lines: number): Promise<Buffer> {
  if (!Number.isSafeInteger(lines) || lines < 0) throw new RangeError(`POP3 TOP line count must be a non-negative integer, got ${lines}`);
  const cmd = buildCommand('TOP', [checkSeq(seq), lines]);
  return expectOkReply(await session.conn.send(cmd, { multiline: true }), cmd);
}
