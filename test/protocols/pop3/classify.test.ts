// classifyPop3Error: response codes first, then the command, then vendor reply texts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GREETING_VERB, classifyPop3Error } from '../../../src/protocols/pop3/classify.ts';

interface Case {
  verb: string;
  reply: string;
  code: string;
  kind: string;
  who: string;
}

const cases: Case[] = [
  // RFC 2449 / RFC 3206 response codes, whatever the command
  { verb: 'PASS', reply: '-ERR [IN-USE] Unable to lock maildrop', code: 'MAILBOX_IN_USE', kind: 'transient', who: 'RFC 2449 §8.1.1' },
  { verb: 'RETR', reply: '-ERR [SYS/TEMP] Temporary system problem. Please try again later.', code: 'SERVER_TEMPORARY', kind: 'transient', who: 'Gmail' },
  { verb: 'PASS', reply: '-ERR [SYS/TEMP] Temporary authentication failure. [mail.example.com:2024-05-01 10:00:00]', code: 'SERVER_TEMPORARY', kind: 'transient', who: 'Dovecot' },
  { verb: 'PASS', reply: '-ERR [SYS/PERM] Your account is not enabled for POP access. Please visit your Gmail settings page and enable your account for POP access.', code: 'SERVER_PERMANENT', kind: 'permanent', who: 'Gmail' },
  { verb: 'PASS', reply: '-ERR [AUTH] Authentication failed.', code: 'AUTH_FAILED', kind: 'auth', who: 'Dovecot' },
  { verb: 'PASS', reply: '-ERR [AUTH] Username and password not accepted.', code: 'AUTH_FAILED', kind: 'auth', who: 'Gmail' },
  { verb: 'PASS', reply: '-ERR [AUTH] Web login required: https://support.google.com/mail/answer/78754', code: 'AUTH_FAILED', kind: 'auth', who: 'Gmail' },
  { verb: 'PASS', reply: '-ERR [AUTH] Application-specific password required: https://support.google.com/accounts/answer/185833', code: 'AUTH_FAILED', kind: 'auth', who: 'Gmail' },
  { verb: 'AUTH', reply: '-ERR [AUTH] Invalid credentials', code: 'AUTH_FAILED', kind: 'auth', who: 'XOAUTH2 refusal' },
  { verb: 'PASS', reply: '-ERR [LOGIN-DELAY] Minimum time between mail checks violation', code: 'SERVER_TEMPORARY', kind: 'transient', who: 'RFC 2449 §8.1.2' },
  { verb: 'USER', reply: '-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.', code: 'AUTH_UNSUPPORTED', kind: 'config', who: 'Dovecot' },
  { verb: 'STAT', reply: '-ERR [IN-USE] mailbox in use', code: 'MAILBOX_IN_USE', kind: 'transient', who: 'code beats command' },
  // no code: the command and the text decide
  { verb: 'PASS', reply: '-ERR Logon failure: unknown user name or bad password.', code: 'AUTH_FAILED', kind: 'auth', who: 'Outlook / Exchange' },
  { verb: 'PASS', reply: '-ERR Authentication failure: unknown user name or bad password.', code: 'AUTH_FAILED', kind: 'auth', who: 'Exchange' },
  { verb: 'PASS', reply: '-ERR Login failed.', code: 'AUTH_FAILED', kind: 'auth', who: 'Courier' },
  { verb: 'PASS', reply: '-ERR invalid password', code: 'AUTH_FAILED', kind: 'auth', who: 'RFC 1939 §7' },
  { verb: 'APOP', reply: '-ERR permission denied', code: 'AUTH_FAILED', kind: 'auth', who: 'RFC 1939 §7' },
  { verb: 'AUTH', reply: '-ERR', code: 'AUTH_FAILED', kind: 'auth', who: 'bare -ERR to AUTH' },
  { verb: 'USER', reply: '-ERR sorry, no mailbox for frated here', code: 'AUTH_FAILED', kind: 'auth', who: 'RFC 1939 §7' },
  { verb: 'PASS', reply: '-ERR Your account is locked. Contact your administrator.', code: 'AUTH_FAILED', kind: 'auth', who: 'account lock is not a maildrop lock' },
  { verb: 'PASS', reply: '-ERR Unable to lock maildrop', code: 'MAILBOX_IN_USE', kind: 'transient', who: 'RFC 1939 §7 wording' },
  { verb: 'PASS', reply: '-ERR maildrop already locked', code: 'MAILBOX_IN_USE', kind: 'transient', who: 'RFC 1939 §7' },
  { verb: 'PASS', reply: '-ERR Mailbox is locked by another POP3 session', code: 'MAILBOX_IN_USE', kind: 'transient', who: 'lock by another session' },
  { verb: 'PASS', reply: '-ERR /var/mail/alice lock busy!  Is another session active? (11)', code: 'MAILBOX_IN_USE', kind: 'transient', who: 'qpopper' },
  { verb: 'AUTH', reply: '-ERR Unsupported authentication mechanism.', code: 'AUTH_UNSUPPORTED', kind: 'config', who: 'Dovecot' },
  { verb: 'APOP', reply: '-ERR Unknown command: APOP', code: 'AUTH_UNSUPPORTED', kind: 'config', who: 'server without APOP' },
  { verb: 'PASS', reply: '-ERR Temporary failure, try again later', code: 'SERVER_TEMPORARY', kind: 'transient', who: 'generic' },
  { verb: GREETING_VERB, reply: '-ERR Too many connections from your IP', code: 'GREETING_FAILED', kind: 'transient', who: 'greeting' },
  { verb: GREETING_VERB, reply: '-ERR [SYS/PERM] Service disabled', code: 'SERVER_PERMANENT', kind: 'permanent', who: 'greeting with code' },
  { verb: 'STLS', reply: '-ERR TLS support isn\'t enabled.', code: 'STARTTLS_UNSUPPORTED', kind: 'tls', who: 'Dovecot without ssl' },
  { verb: 'UIDL', reply: '-ERR Unknown command: UIDL', code: 'UIDL_UNSUPPORTED', kind: 'config', who: 'RFC 1939-only server' },
  { verb: 'RETR', reply: "-ERR There's no message 5.", code: 'COMMAND_FAILED', kind: 'permanent', who: 'Dovecot' },
  { verb: 'DELE', reply: '-ERR message 2 already deleted', code: 'COMMAND_FAILED', kind: 'permanent', who: 'RFC 1939 §5' },
  { verb: 'RETR', reply: '-ERR Server Unavailable. 21', code: 'SERVER_TEMPORARY', kind: 'transient', who: 'Outlook.com' },
  { verb: 'QUIT', reply: '-ERR some deleted messages not removed', code: 'COMMAND_FAILED', kind: 'permanent', who: 'RFC 1939 §6' },
];

for (const c of cases) {
  test(`${c.verb} ${JSON.stringify(c.reply)} (${c.who}) → ${c.code}/${c.kind}`, () => {
    const err = classifyPop3Error(c.verb, c.reply, c.verb === 'PASS' ? 'PASS ****' : c.verb);
    assert.equal(err.code, c.code);
    assert.equal(err.kind, c.kind);
    assert.equal(err.response, c.reply);
    assert.equal(err.retryable, c.kind === 'transient');
    if (c.verb === 'PASS') assert.equal(err.command, 'PASS ****');
  });
}
