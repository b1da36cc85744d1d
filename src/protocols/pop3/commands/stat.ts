// STAT (RFC 1939 §5): number of messages and their total size in octets.

import { MailError } from '../../mail-error.ts';
import { buildCommand } from '../protocol/request.ts';
import { parseStat } from '../protocol/response.ts';
import { expectOk, type Pop3Session } from './session.ts';

export interface Pop3Stat {
  count: number;
  size: number;
}

export async function stat(session: Pop3Session): Promise<Pop3Stat> {
  const cmd = buildCommand('STAT');
  const status = expectOk((await session.conn.send(cmd)).status, cmd);
  const parsed = parseStat(status.text);
  if (!parsed) throw new MailError('PROTOCOL_ERROR', `POP3 STAT reply cannot be parsed: ${status.line}`, { kind: 'transient', command: 'STAT', response: status.line });
  return parsed;
}
