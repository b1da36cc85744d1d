// NOOP, RSET and QUIT (RFC 1939 §5-6). QUIT is what makes the server remove the messages
// marked with DELE; a -ERR to it means some of them were not removed.

import { buildCommand } from '../protocol/request.ts';
import { expectOk, type Pop3Session } from './session.ts';

export async function noop(session: Pop3Session): Promise<void> {
  const cmd = buildCommand('NOOP');
  expectOk((await session.conn.send(cmd)).status, cmd);
}

export async function rset(session: Pop3Session): Promise<void> {
  const cmd = buildCommand('RSET');
  expectOk((await session.conn.send(cmd)).status, cmd);
}

export async function quit(session: Pop3Session): Promise<void> {
  const cmd = buildCommand('QUIT');
  try {
    expectOk((await session.conn.send(cmd)).status, cmd);
  } finally {
    session.conn.finish();
  }
}
