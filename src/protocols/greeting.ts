// Which protocol a server's first line belongs to, for the commonest settings mistake: a port
// of another protocol (an IMAP account on the POP3 port 110, SMTP on 143…). Each protocol's
// greeting has a shape of its own — POP3 "+OK"/"-ERR" (RFC 1939 §4), IMAP "* OK|PREAUTH|BYE"
// (RFC 9051 §7.1), SMTP a three-digit code (RFC 5321 §4.2) — so the line says which server
// answered, and the error can say so at once instead of waiting out a greeting timeout.
//
//   wrongProtocolError('IMAP4', '+OK Dovecot ready.')
//   → MailError WRONG_PROTOCOL "the server on this port speaks POP3, not IMAP4: +OK Dovecot ready."
import { MailError } from './mail-error.ts';

export type GreetingProtocol = 'POP3' | 'IMAP4' | 'SMTP';

/** The protocol whose greeting this line looks like, if any. */
export function greetingProtocol(line: string): GreetingProtocol | undefined {
  if (/^(\+OK|-ERR)(\s|$)/i.test(line)) return 'POP3';
  if (/^\* (OK|PREAUTH|BYE)\b/i.test(line)) return 'IMAP4';
  if (/^[2-5]\d\d([ -]|$)/.test(line)) return 'SMTP';
  return undefined;
}

/** The server greeted with something that is not `expected`'s greeting: the port is another protocol's. */
export function wrongProtocolError(expected: GreetingProtocol, line: string): MailError {
  const shown = line.length > 200 ? `${line.slice(0, 200)}…` : line;
  const other = greetingProtocol(line);
  const what = other && other !== expected ? `speaks ${other}, not ${expected}` : `does not speak ${expected}`;
  return new MailError('WRONG_PROTOCOL', `the server on this port ${what}: ${shown}`, { kind: 'config', command: 'greeting', response: line.slice(0, 512) });
}
