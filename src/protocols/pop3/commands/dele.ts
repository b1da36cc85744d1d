// DELE (RFC 1939 §5): mark messages deleted. Nothing is removed until QUIT succeeds
// (RFC 1939 §6), so a connection that drops after DELE deletes nothing.

import { buildCommand } from '../protocol/request.ts';
import { checkSeq } from './retr.ts';
import { expectOk, windowed, type Pop3Session } from './session.ts';

export async function dele(session: Pop3Session, seq: number): Promise<void> {
  const cmd = buildCommand('DELE', [checkSeq(seq)]);
  expectOk((await session.conn.send(cmd)).status, cmd);
}

/**
 * DELE each message, pipelined when the server allows. Every reply is awaited; the
 * first failure is thrown after the batch so the session is left in a known state.
 */
export async function deleMany(session: Pop3Session, seqs: readonly number[]): Promise<void> {
  for (const seq of seqs) checkSeq(seq);
  const window = session.conn.pipelining ? session.pipelineWindow : 1;
  let failure: unknown;
  await windowed(
    session.conn,
    seqs,
    window,
    (seq) => session.conn.send(buildCommand('DELE', [seq])),
    async (seq, result) => {
      try {
        expectOk((await result).status, buildCommand('DELE', [seq]));
      } catch (err) {
        failure ??= err;
      }
    },
  );
  if (failure !== undefined) throw failure;
}
