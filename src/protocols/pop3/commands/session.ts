// What every command needs from the client: the transport, the server's capabilities
// (undefined when the server has no CAPA, RFC 1939-only), and how to log.

import { classifyPop3Error } from '../classify.ts';
import type { Pop3Connection, Pop3Reply } from '../connection.ts';
import type { Pop3Logger } from '../logger.ts';
import type { Pop3Command } from '../protocol/request.ts';
import type { Pop3Capabilities, StatusLine } from '../protocol/response.ts';

export interface Pop3Session {
  readonly conn: Pop3Connection;
  readonly capabilities: Pop3Capabilities | undefined;
  readonly logger: Pop3Logger;
  /** Commands in flight at once when pipelining (1 = wait for each reply). */
  readonly pipelineWindow: number;
}

/** The +OK status of a reply, or the classified MailError of its -ERR. */
export function expectOk(status: StatusLine, cmd: Pop3Command): StatusLine {
  if (status.kind === 'ok') return status;
  throw classifyPop3Error(cmd.verb, status.line, cmd.logAs);
}

export function expectOkReply(reply: Pop3Reply, cmd: Pop3Command): Buffer {
  expectOk(reply.status, cmd);
  return reply.body ?? Buffer.alloc(0);
}

/**
 * Run `start` for each item, at most `window` at a time, in order; `finish` gets each
 * result in order. Used for pipelined batches (RFC 2449 §6.6): the window bounds what
 * is queued, the connection itself makes sure a non-pipelining server sees one command
 * at a time.
 */
export async function windowed<T, R>(
  conn: Pop3Connection,
  items: readonly T[],
  window: number,
  start: (item: T) => Promise<R>,
  finish: (item: T, result: Promise<R>) => Promise<void>,
): Promise<void> {
  const inflight: { item: T; result: Promise<R> }[] = [];
  let next = 0;
  const fill = (): void => {
    conn.batch(() => {
      while (inflight.length < window && next < items.length) {
        const item = items[next++] as T;
        const result = start(item);
        result.catch(() => {}); // observed in finish(); never an unhandled rejection
        inflight.push({ item, result });
      }
    });
  };
  fill();
  // refill in bulk once half the window is used: one write (one syscall, one TCP
  // segment) for many commands, instead of one per finished reply
  const low = Math.max(1, Math.floor(window / 2));
  while (inflight.length > 0) {
    const head = inflight.shift() as { item: T; result: Promise<R> };
    await finish(head.item, head.result);
    if (inflight.length < low) fill();
  }
}
