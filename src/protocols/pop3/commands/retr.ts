// RETR (RFC 1939 §5): one message as a byte stream, exactly as stored (dot-unstuffed,
// never decoded), and the pipelined batch form used by the receive run.

import type { Readable } from 'node:stream';
import { MailError } from '../../mail-error.ts';
import type { Pop3StreamReply } from '../connection.ts';
import { buildCommand } from '../protocol/request.ts';
import { expectOk, windowed, type Pop3Session } from './session.ts';

function retrCommand(seq: number) {
  return buildCommand('RETR', [checkSeq(seq)]);
}

export function checkSeq(seq: number): number {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new RangeError(`POP3 message number must be a positive integer, got ${seq}`);
  return seq;
}

/**
 * Resolves after the +OK with the message body stream. The stream ends after the
 * terminator and errors (never ends) if the connection fails first. Read it to the end
 * before expecting the next reply: the socket is paused while it is not read.
 */
export async function retr(session: Pop3Session, seq: number): Promise<Readable> {
  const cmd = retrCommand(seq);
  const reply = await session.conn.sendStreaming(cmd);
  expectOk(reply.status, cmd);
  return reply.stream as Readable;
}

export type OnMessage = (seq: number, stream: Readable) => Promise<void>;
/** A RETR the server answered with -ERR (a damaged or vanished message): the batch goes on. */
export type OnRefused = (seq: number, error: MailError) => void;

/**
 * RETR each message in order, with up to `pipelineWindow` commands in flight when the
 * server pipelines. `onMessage` is awaited for one message before the next is handed
 * over; a body it leaves unread is read and dropped. The first failure (a -ERR, a
 * broken body, or `onMessage` throwing) stops the batch: replies already requested are
 * drained so the session stays usable, then the error is thrown. With `onRefused`, a -ERR
 * to one RETR is that message's alone: it is reported there and the batch goes on.
 */
export async function retrMany(session: Pop3Session, seqs: readonly number[], onMessage: OnMessage, onRefused?: OnRefused): Promise<void> {
  for (const seq of seqs) checkSeq(seq);
  const window = session.conn.pipelining ? session.pipelineWindow : 1;
  let failure: unknown;
  await windowed<number, Pop3StreamReply>(
    session.conn,
    seqs,
    window,
    (seq) => (failure === undefined ? session.conn.sendStreaming(retrCommand(seq)) : Promise.reject(failure)),
    async (seq, result) => {
      let reply: Pop3StreamReply;
      try {
        reply = await result;
      } catch (err) {
        failure ??= err;
        return;
      }
      const { stream, done } = reply;
      if (failure !== undefined || !stream || !done) {
        if (failure === undefined) {
          try {
            expectOk(reply.status, retrCommand(seq));
          } catch (err) {
            if (onRefused && reply.status.kind !== 'ok' && err instanceof MailError) onRefused(seq, err);
            else failure = err;
          }
        }
        if (stream) stream.resume();
        await done?.catch(() => {});
        return;
      }
      // A reply is read on while the caller is busy with the ones before it, so its body may
      // have failed already (the connection cut): its 'error' is over, and a caller that
      // listens only now would wait for ever. The failure is the batch's.
      if (stream.destroyed) {
        failure = await done.then(
          () => new MailError('CONNECTION_CLOSED', 'POP3 message body closed before it was read', { kind: 'transient', command: `RETR ${seq}` }),
          (err: unknown) => err,
        );
        return;
      }
      try {
        await onMessage(seq, stream);
      } catch (err) {
        failure = err;
      }
      if (!stream.readableEnded && !stream.destroyed) stream.resume();
      try {
        await done;
      } catch (err) {
        failure ??= err;
      }
    },
  );
  if (failure !== undefined) throw failure;
}
