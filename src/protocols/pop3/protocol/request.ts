// POP3 commands on the wire (RFC 1939 §3, RFC 2449 §4): one line, keyword and arguments
// separated by single spaces, ended by CRLF. Every command carries the text that logs
// and errors show instead of it, so a password, an APOP digest or a SASL payload never
// leaves this module in clear.

import { MailError } from '../../mail-error.ts';

export const REDACTED = '****';

export interface Pop3Command {
  /** The keyword (RETR, PASS, AUTH...) that replies are classified by. */
  verb: string;
  /** The bytes sent, without CRLF. */
  line: string;
  /** What logs and MailError.command show. */
  logAs: string;
}

/**
 * Build a command. Arguments at index `secretFrom` and after are shown as ****.
 * CR, LF and NUL are refused: a user name with a line break would otherwise inject
 * a second command.
 */
export function buildCommand(verb: string, args: ReadonlyArray<string | number> = [], secretFrom = Infinity): Pop3Command {
  const parts = args.map((a) => String(a));
  for (const p of parts) assertSafe(p, verb);
  const line = [verb, ...parts].join(' ');
  const logAs = [verb, ...parts.map((p, i) => (i >= secretFrom ? REDACTED : p))].join(' ');
  return { verb, line, logAs };
}

/** A client line inside a SASL exchange (RFC 5034 §4): always redacted. */
export function saslResponse(payload: string): Pop3Command {
  assertSafe(payload, 'AUTH');
  return { verb: 'AUTH', line: payload, logAs: payload === '*' ? '*' : REDACTED };
}

function assertSafe(value: string, verb: string): void {
  if (/[\r\n\0]/.test(value)) {
    throw new MailError('PROTOCOL_ERROR', `POP3 ${verb}: an argument contains a line break or NUL`, { kind: 'config', command: verb });
  }
}
