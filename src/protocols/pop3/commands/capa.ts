// CAPA (RFC 2449 §5). A server without it answers -ERR: that is not an error, it is an
// RFC 1939 server, and undefined tells the rest of the client to assume the basics.

import { buildCommand } from '../protocol/request.ts';
import { parseCapabilities, splitLines, type Pop3Capabilities } from '../protocol/response.ts';
import type { Pop3Session } from './session.ts';

export async function capa(session: Pick<Pop3Session, 'conn'>): Promise<Pop3Capabilities | undefined> {
  const reply = await session.conn.send(buildCommand('CAPA'), { multiline: true });
  if (reply.status.kind !== 'ok') return undefined;
  return parseCapabilities(splitLines(reply.body ?? Buffer.alloc(0)));
}
