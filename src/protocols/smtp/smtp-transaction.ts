// One SMTP mail transaction (RFC 5321 §3.3): MAIL FROM, RCPT TO for each recipient, DATA,
// the message, and the reply to its end.
//
// With PIPELINING (RFC 2920) MAIL FROM, every RCPT TO and DATA go out in one write and
// their replies are read in order; the message follows the 354 (DATA is the last command of
// a group, §3.1). Without it, lock-step: one command, its reply, the next. Either way every
// recipient keeps its own reply: one refused RCPT does not stop the others, and a recipient
// whose reply never came (the connection closed) is reported as a temporary rejection,
// never as accepted. Anything that fails the whole message is thrown as a MailError.
import { isAscii } from 'node:buffer';
import { MailError } from '../mail-error.ts';
import { dotStuff, messageSize } from './dot-stuffing.ts';
import { classifySmtpResult, replyCode, smtpErrorToMailError, smtpReplyError } from './smtp-reply.ts';
import type { SmtpEnvelope, SmtpMessage, SmtpRecipientRejection, SmtpSendResult } from './smtp-client.ts';
import type { SmtpWire } from './smtp-wire.ts';

type Reply = string | MailError;

export interface TransactionOptions {
  /** This command group (from envelopeCommands) was already written after the previous message's data (RFC 2920 §3.1). */
  written?: string[] | undefined;
  /** Command lines to write right after this message's data, in the same write: the next transaction's group. */
  after?: (() => string[]) | undefined;
  /** Every line of `raw` ends in CRLF (see dotStuff): no look for bare CR or LF. */
  crlf?: boolean | undefined;
  /**
   * The message's data must start before this time (ms since the epoch): past it, the
   * connection is closed instead and SendCancelledError (`late`) thrown, so the server
   * drops the transaction and nothing of the message is delivered.
   */
  startBy?: number | undefined;
}

/**
 * A send that never started: the session was closed while it waited in the queue, or (`late`)
 * its time to start (startBy) ran out first. Nothing of it was delivered.
 */
export class SendCancelledError extends MailError {
  readonly late: boolean;
  constructor(late = false) {
    super('CONNECTION_CLOSED', late ? 'the message was not sent: its time to start ran out' : 'the SMTP session was closed before this message was sent', { kind: 'transient', command: 'MAIL FROM' });
    this.late = late;
  }
}

/** The command group of a pipelined transaction (MAIL FROM, RCPT TO…, DATA); throws a MailError when the message cannot go at all. */
export function envelopeCommands(wire: SmtpWire, envelope: SmtpEnvelope, raw: SmtpMessage): string[] {
  const mailFrom = mailFromCommand(wire, envelope, raw);
  const group = [mailFrom];
  for (const address of envelope.to) {
    if (/[\r\n<>]/.test(address)) throw new MailError('COMMAND_FAILED', `invalid recipient ${JSON.stringify(address)}`, { kind: 'permanent', command: 'RCPT TO' });
    group.push(`RCPT TO:<${address}>`);
  }
  group.push('DATA');
  return group;
}

/** Run one transaction on `wire`. A thrown failure or a result with `sent: false` may leave the transaction open: RSET before the next one. */
export async function sendTransaction(wire: SmtpWire, envelope: SmtpEnvelope, raw: SmtpMessage, options: TransactionOptions = {}): Promise<SmtpSendResult> {
  const group = options.written ?? envelopeCommands(wire, envelope, raw);
  const mailFrom = group[0]!;
  const rcptTo = group.slice(1, -1);

  let mailReply: string;
  let rcptReplies: Reply[] = [];
  let dataReply: Reply | undefined;
  if (wire.extensions.has('PIPELINING') || options.written) {
    if (!options.written) wire.command(group);
    // every reply is asked for now, so that each one keeps its place in the order
    const names = ['MAIL FROM'];
    for (let i = 0; i < rcptTo.length; i++) names.push('RCPT TO');
    names.push('DATA');
    const replies = await wire.nextSettled(names);
    const mail = replies[0]!;
    if (typeof mail !== 'string') throw mail;
    mailReply = mail;
    rcptReplies = replies.slice(1, -1);
    dataReply = replies[replies.length - 1];
  } else {
    wire.command([mailFrom]);
    mailReply = await wire.next('MAIL FROM');
    if (isPositive(mailReply, 2)) {
      for (const line of rcptTo) {
        wire.command([line]);
        rcptReplies.push(await settle(wire.next('RCPT TO')));
      }
      if (rcptReplies.some((r) => isPositive(r, 2))) {
        wire.command(['DATA']);
        dataReply = await settle(wire.next('DATA'));
      }
    }
  }

  if (!isPositive(mailReply, 2)) {
    await abandonData(wire, dataReply);
    throw smtpReplyError(mailReply, 'MAIL FROM');
  }
  const accepted: string[] = [];
  const rejected: SmtpRecipientRejection[] = [];
  for (let i = 0; i < envelope.to.length; i++) {
    const address = envelope.to[i]!;
    const reply = rcptReplies[i] ?? closedBefore('RCPT TO');
    if (isPositive(reply, 2)) accepted.push(address);
    else rejected.push(rejection(address, reply));
  }
  if (accepted.length === 0) {
    await abandonData(wire, dataReply);
    return { sent: false, accepted: [], rejected, messageBytes: messageSize(raw) };
  }
  if (dataReply === undefined || typeof dataReply !== 'string') throw withRejected(dataReply ?? closedBefore('DATA'), rejected);
  if (!isPositive(dataReply, 3)) throw withRejected(smtpReplyError(dataReply, 'DATA'), rejected);

  if (options.startBy !== undefined && Date.now() >= options.startBy) {
    // MAIL FROM, RCPT TO and DATA were taken, the data not sent: a closed connection is
    // the one way to drop a transaction after DATA's 354 (RFC 5321 §4.1.1.4)
    wire.destroy();
    throw new SendCancelledError(true);
  }
  wire.data(dotStuff(raw, options.crlf), options.after?.() ?? []);
  const end = await wire.next('DATA');
  if (!isPositive(end, 2)) throw withRejected(smtpReplyError(end, 'DATA'), rejected);
  const code = replyCode(end);
  return {
    sent: true,
    accepted: accepted.map((address) => ({ address, outcome: 'sent' as const, code, reply: end })),
    rejected,
    code,
    reply: end,
    messageBytes: messageSize(raw),
  };
}

function mailFromCommand(wire: SmtpWire, envelope: SmtpEnvelope, raw: SmtpMessage): string {
  const size = messageSize(raw);
  if (wire.maxSize > 0 && size > wire.maxSize) {
    // RFC 1870: the server said how much it takes; nothing is sent
    throw new MailError('MESSAGE_TOO_LARGE', `the message is ${size} bytes, over the ${wire.maxSize} bytes the server accepts (SIZE)`, {
      kind: 'permanent',
      command: 'MAIL FROM',
    });
  }
  if (/[\r\n<>]/.test(envelope.from)) throw new MailError('COMMAND_FAILED', `invalid sender ${JSON.stringify(envelope.from)}`, { kind: 'permanent', command: 'MAIL FROM' });
  let command = `MAIL FROM:<${envelope.from}>`;
  // RFC 6531: an address beyond ASCII needs SMTPUTF8; RFC 6152: 8-bit content is announced
  if (wire.extensions.has('SMTPUTF8') && [envelope.from, ...envelope.to].some((a) => /[^\x00-\x7f]/.test(a))) command += ' SMTPUTF8';
  if (wire.extensions.has('8BITMIME') && has8bit(raw)) command += ' BODY=8BITMIME';
  if (wire.extensions.has('SIZE')) command += ` SIZE=${size}`;
  return command;
}

function has8bit(raw: SmtpMessage): boolean {
  if (Buffer.isBuffer(raw)) return !isAscii(raw);
  for (const c of raw) if (!isAscii(c)) return true;
  return false;
}

/** A server that answered 354 although no recipient was taken gets an empty message (RFC 2920 §3.1), which it refuses. */
async function abandonData(wire: SmtpWire, dataReply: Reply | undefined): Promise<void> {
  if (typeof dataReply !== 'string' || !isPositive(dataReply, 3)) return;
  wire.data([Buffer.from('.\r\n')]);
  await wire.next('DATA').catch(() => undefined);
}

function isPositive(reply: Reply, first: 2 | 3): reply is string {
  if (typeof reply !== 'string') return false;
  const code = replyCode(reply);
  return code !== undefined && Math.floor(code / 100) === first;
}

function settle(p: Promise<string>): Promise<Reply> {
  return p.catch((err: unknown) => smtpErrorToMailError(err));
}

function closedBefore(command: string): MailError {
  return new MailError('CONNECTION_CLOSED', `the connection closed before the reply to ${command}`, { kind: 'transient', command });
}

function rejection(address: string, reply: Reply): SmtpRecipientRejection {
  const error = typeof reply === 'string' ? smtpReplyError(reply, 'RCPT TO') : reply;
  const { outcome, code, reply: text } = classifySmtpResult(error);
  return { address, outcome: outcome === 'sent' ? 'temporary' : outcome, code, reply: text, error };
}

/** What failed the message after RCPT TO, with the recipients the server had refused already. */
export type FailedAfterRecipients = Error & { rejected?: SmtpRecipientRejection[] };

/**
 * A message refused at DATA or after its data: each recipient already refused at RCPT TO keeps
 * its own reply (a 550 is not deferred by a later 451, a 450 not failed by a later 554).
 */
function withRejected(err: Error, rejected: SmtpRecipientRejection[]): FailedAfterRecipients {
  if (rejected.length) (err as FailedAfterRecipients).rejected = rejected;
  return err;
}
