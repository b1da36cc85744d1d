// The one place that decides what a POP3 -ERR means (RFC 1939 §3, RFC 2449 §8,
// RFC 3206). Response codes win over everything else; without one, the command that
// failed and, last, the reply text decide. All reply-text matching lives here and is
// tested with real vendor replies in test/protocols/pop3/classify.test.ts.

import { MailError } from '../mail-error.ts';
import { parseRespCode } from './protocol/response.ts';

/** Pseudo-verb for the server greeting, which is a reply to no command. */
export const GREETING_VERB = 'GREETING';

const AUTH_VERBS = new Set(['USER', 'PASS', 'APOP', 'AUTH']);

// "-ERR Unable to lock maildrop" (RFC 1939 §7), "-ERR Mailbox is locked by another POP3
// session", qpopper's "... lock busy!  Is another session active?"
const IN_USE_TEXT = /\block(ed)?\b|lock busy|in use|another (pop3? )?session/i;
// Outlook.com "-ERR Server Unavailable. 21"; generic "try again later"
const TEMPORARY_TEXT = /temporar|try again later|unavailable|too many connections|busy/i;
// Dovecot "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
const PLAINTEXT_REFUSED_TEXT = /plaintext authentication (is )?(disallowed|disabled|not allowed)/i;
// Dovecot "-ERR Unsupported authentication mechanism."; "-ERR Unknown command: APOP"
const UNSUPPORTED_TEXT = /unsupported|not supported|unknown (command|auth|mechanism)|unrecognized|not implemented|not enabled|invalid command|bad command/i;

/**
 * Turn a -ERR reply into a MailError.
 * @param verb the command keyword the reply answers (USER, PASS, RETR...), or GREETING_VERB
 * @param reply the whole reply line, e.g. "-ERR [IN-USE] Unable to lock maildrop"
 * @param command the redacted command line for the error (defaults to the verb)
 */
export function classifyPop3Error(verb: string, reply: string, command: string = verb): MailError {
  const upperVerb = verb.toUpperCase();
  const text = reply.replace(/^-ERR\s?/i, '');
  const code = parseRespCode(text);
  const make = (c: ConstructorParameters<typeof MailError>[0], kind: ConstructorParameters<typeof MailError>[2]['kind'], what: string): MailError =>
    new MailError(c, `POP3 ${what}: ${reply}`, { kind, command, response: reply });

  switch (code) {
    case 'IN-USE':
      return make('MAILBOX_IN_USE', 'transient', 'the mailbox is in use by another session');
    case 'LOGIN-DELAY':
      return make('SERVER_TEMPORARY', 'transient', 'logged in again too soon (LOGIN-DELAY)');
    case 'SYS/TEMP':
      return make('SERVER_TEMPORARY', 'transient', 'temporary server failure');
    case 'SYS/PERM':
      return make('SERVER_PERMANENT', 'permanent', 'permanent server failure');
    case 'AUTH':
      if (PLAINTEXT_REFUSED_TEXT.test(text)) return make('AUTH_UNSUPPORTED', 'config', 'the server refuses this login without TLS');
      return make('AUTH_FAILED', 'auth', 'login refused');
  }

  if (upperVerb === GREETING_VERB) return make('GREETING_FAILED', 'transient', 'the server greeted with an error');
  if (upperVerb === 'STLS') return make('STARTTLS_UNSUPPORTED', 'tls', 'STLS refused');
  if (upperVerb === 'UIDL') return make('UIDL_UNSUPPORTED', 'config', 'the server does not support UIDL');

  if (AUTH_VERBS.has(upperVerb)) {
    if (/account (is )?(locked|disabled|suspended)/i.test(text)) return make('AUTH_FAILED', 'auth', 'login refused');
    if (IN_USE_TEXT.test(text)) return make('MAILBOX_IN_USE', 'transient', 'the mailbox is in use by another session');
    if (PLAINTEXT_REFUSED_TEXT.test(text)) return make('AUTH_UNSUPPORTED', 'config', 'the server refuses this login without TLS');
    // PASS can only be refused for the credentials; USER/APOP/AUTH may be refused as a command
    if (upperVerb !== 'PASS' && UNSUPPORTED_TEXT.test(text)) return make('AUTH_UNSUPPORTED', 'config', `${upperVerb} is not supported by the server`);
    if (/temporar|try again later/i.test(text)) return make('SERVER_TEMPORARY', 'transient', 'temporary server failure');
    return make('AUTH_FAILED', 'auth', 'login refused');
  }

  if (TEMPORARY_TEXT.test(text)) return make('SERVER_TEMPORARY', 'transient', 'temporary server failure');
  return make('COMMAND_FAILED', 'permanent', `${upperVerb} failed`);
}
