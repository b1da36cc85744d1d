import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailError } from '../../../src/protocols/mail-error.ts';
import { classifySmtpResult, parseSmtpReply, replyCode, smtpErrorToMailError, smtpReplyError } from '../../../src/protocols/smtp/smtp-reply.ts';
import fc from 'fast-check';

// Real replies, as the vendors send them.
const REPLIES: Array<[vendor: string, reply: string, outcome: string, code: number]> = [
  ['Gmail', '250 2.0.0 OK  1700000000 d2e1a72fcca58-6c5a5c1a2b3si1234567b3a.120 - gsmtp', 'sent', 250],
  ['Postfix', '250 2.0.0 Ok: queued as 4C9F21E0123', 'sent', 250],
  ['Postfix', '354 End data with <CR><LF>.<CR><LF>', 'sent', 354],
  ['Gmail', '421 4.7.0 Try again later, closing connection.', 'temporary', 421],
  ['Gmail', "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating\n421 4.7.28 from your IP address. https://support.google.com/mail/answer/81126", 'temporary', 421],
  ['Exchange Online', '451 4.7.500 Server busy. Please try again later from [203.0.113.5]. (S77714) [OS3PR01MB1234.jpnprd01.prod.outlook.com]', 'temporary', 451],
  ['Exchange Online', '451 4.7.500 Server busy. Please try again later', 'temporary', 451],
  ['Postfix', '450 4.2.0 <x@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html', 'temporary', 450],
  ['Postfix', '452 4.3.1 Insufficient system storage', 'temporary', 452],
  ['Postfix', '454 4.7.0 TLS not available due to local problem', 'temporary', 454],
  ['Gmail', '454 4.7.0 Too many login attempts, please try again later.', 'temporary', 454],
  ['Gmail', "550-5.1.1 The email account that you tried to reach does not exist. Please try\n550-5.1.1 double-checking the recipient's email address for typos or\n550 5.1.1 unnecessary spaces.", 'permanent', 550],
  ['Gmail', '550 5.1.1 The email account that you tried to reach does not exist.', 'permanent', 550],
  ['Gmail', "552 5.3.4 Your message exceeded Google's message size limits", 'permanent', 552],
  ['Exchange Online', '554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception', 'permanent', 554],
  ['Exchange Online', '550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.', 'permanent', 550],
  ['Postfix', '554 5.7.1 <x@example.com>: Relay access denied', 'permanent', 554],
  ['Postfix', '550 5.1.1 <x@example.com>: Recipient address rejected: User unknown in local recipient table', 'permanent', 550],
  ['Exchange Online', '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.', 'auth', 535],
  ['Exchange Online', '535 5.7.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully.', 'auth', 535],
  ['Gmail', '535-5.7.8 Username and Password not accepted. For more information, go to\n535 5.7.8  https://support.google.com/mail/?p=BadCredentials', 'auth', 535],
  ['Gmail', '534-5.7.9 Application-specific password required.', 'auth', 534],
  ['Gmail', '530 5.7.0 Authentication Required.', 'auth', 530],
  ['Postfix', '530 5.7.0 Must issue a STARTTLS command first', 'permanent', 530],
];

for (const [vendor, reply, outcome, code] of REPLIES) {
  test(`${vendor} "${reply.slice(0, 48)}…" → ${outcome}`, () => {
    assert.deepEqual(classifySmtpResult(reply), { outcome, code, reply });
  });
}

test('parseSmtpReply reads the code and the enhanced status code', () => {
  assert.deepEqual(parseSmtpReply('550 5.1.1 nope'), { code: 550, enhanced: '5.1.1' });
  assert.deepEqual(parseSmtpReply('421-4.7.0 first\n421 4.7.0 last'), { code: 421, enhanced: '4.7.0' });
  assert.deepEqual(parseSmtpReply('250 ok'), { code: 250, enhanced: undefined });
  assert.deepEqual(parseSmtpReply('garbage'), { code: undefined, enhanced: undefined });
});

test('replyCode reads the same code as parseSmtpReply, for any text (property)', () => {
  const text = fc.string({ unit: fc.constantFrom('2', '5', '0', '9', '1', '6', ' ', '\t', '\n', '\xa0', '\v', '-', 'a', '.', '4'), maxLength: 8 });
  fc.assert(
    fc.property(text, (reply) => {
      assert.equal(replyCode(reply), parseSmtpReply(reply).code);
    }),
    { numRuns: 2000 },
  );
  assert.equal(replyCode('250 2.0.0 Ok'), 250);
  assert.equal(replyCode('  354 go'), 354);
  assert.equal(replyCode('199 no'), undefined);
});

test('a reply without a code is temporary (no way to know it is final)', () => {
  assert.equal(classifySmtpResult('Connection closed').outcome, 'temporary');
});

test('network errors and timeouts are temporary; TLS and settings errors permanent', () => {
  const errno = (code: string, message: string) => Object.assign(new Error(message), { code });
  assert.equal(classifySmtpResult(errno('ECONNRESET', 'read ECONNRESET')).outcome, 'temporary');
  assert.equal(classifySmtpResult(errno('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:25')).outcome, 'temporary');
  // nodemailer's own codes
  assert.equal(classifySmtpResult(errno('ETIMEDOUT', 'Greeting never received')).outcome, 'temporary');
  assert.equal(classifySmtpResult(errno('ECONNECTION', 'Connection closed unexpectedly')).outcome, 'temporary');
  assert.equal(classifySmtpResult(errno('ESOCKET', 'self-signed certificate')).outcome, 'permanent');
  assert.equal(classifySmtpResult(new MailError('TIMEOUT', 't', { kind: 'transient' })).outcome, 'temporary');
  assert.equal(classifySmtpResult(new MailError('STARTTLS_UNSUPPORTED', 't', { kind: 'tls' })).outcome, 'permanent');
  assert.equal(classifySmtpResult(new MailError('AUTH_FAILED', 't', { kind: 'auth' })).outcome, 'auth');
  assert.equal(classifySmtpResult(new MailError('MESSAGE_TOO_LARGE', 't', { kind: 'permanent' })).outcome, 'permanent');
});

test('errors carrying a reply are classified by the reply, and keep code and text', () => {
  const reply = '452 4.3.1 Insufficient system storage';
  const nodemailerError = Object.assign(new Error(`Message failed: ${reply}`), { code: 'EMESSAGE', response: reply, responseCode: 452, command: 'DATA' });
  assert.deepEqual(classifySmtpResult(nodemailerError), { outcome: 'temporary', code: 452, reply });
  const mailError = smtpErrorToMailError(nodemailerError);
  assert.equal(mailError.code, 'SERVER_TEMPORARY');
  assert.equal(mailError.kind, 'transient');
  assert.equal(mailError.responseCode, 452);
  assert.equal(mailError.response, reply);
  assert.equal(mailError.command, 'DATA');
  assert.equal(mailError.cause, nodemailerError);
  assert.deepEqual(classifySmtpResult(mailError), { outcome: 'temporary', code: 452, reply });
});

test('smtpReplyError names the failure by command and reply', () => {
  const cases: Array<[reply: string, command: string, code: string, kind: string]> = [
    ['550 5.1.1 unknown user', 'RCPT TO', 'SERVER_PERMANENT', 'permanent'],
    ['451 4.7.500 Server busy. Please try again later', 'RCPT TO', 'SERVER_TEMPORARY', 'transient'],
    ["552 5.3.4 Your message exceeded Google's message size limits", 'DATA', 'MESSAGE_TOO_LARGE', 'permanent'],
    ['552 5.2.3 Message length exceeds administrative limit', 'DATA', 'MESSAGE_TOO_LARGE', 'permanent'],
    ['535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant', 'AUTH LOGIN', 'AUTH_FAILED', 'auth'],
    ['504 5.5.4 Unrecognized authentication type', 'AUTH CRAM-MD5', 'AUTH_UNSUPPORTED', 'config'],
    ['503 5.5.1 Error: authentication not enabled', 'AUTH PLAIN', 'AUTH_UNSUPPORTED', 'config'],
    ['454 4.7.0 Too many login attempts, please try again later.', 'AUTH PLAIN', 'SERVER_TEMPORARY', 'transient'],
    ['530 5.7.0 Must issue a STARTTLS command first', 'MAIL FROM', 'COMMAND_FAILED', 'config'],
    ['530 5.7.0 Authentication Required.', 'MAIL FROM', 'AUTH_FAILED', 'auth'],
    ['554 5.7.1 No SMTP service here', 'GREETING', 'GREETING_FAILED', 'permanent'],
    ['421 4.3.2 Service not available', 'GREETING', 'GREETING_FAILED', 'transient'],
    ['454 4.7.0 TLS not available due to local problem', 'STARTTLS', 'TLS_FAILED', 'transient'],
  ];
  for (const [reply, command, code, kind] of cases) {
    const err = smtpReplyError(reply, command);
    assert.equal(err.code, code, reply);
    assert.equal(err.kind, kind, reply);
    assert.equal(err.response, reply);
    assert.equal(err.responseCode, Number(reply.slice(0, 3)));
    assert.equal(err.command, command);
  }
});

test('nodemailer errors without a reply map to MailError codes', () => {
  const e = (code: string, message: string, command?: string) => Object.assign(new Error(message), { code, command });
  assert.equal(smtpErrorToMailError(e('ETIMEDOUT', 'Greeting never received', 'CONN')).code, 'TIMEOUT');
  assert.equal(smtpErrorToMailError(e('ECONNECTION', 'Connection closed unexpectedly', 'CONN')).code, 'CONNECTION_CLOSED');
  assert.equal(smtpErrorToMailError(e('ETLS', 'Error initiating TLS', 'STARTTLS')).code, 'TLS_FAILED');
  assert.equal(smtpErrorToMailError(e('EMESSAGE', 'Message size larger than allowed 1000', 'MAIL FROM')).code, 'MESSAGE_TOO_LARGE');
  assert.equal(smtpErrorToMailError(e('ESOCKET', "Hostname/IP does not match certificate's altnames", 'CONN')).code, 'TLS_FAILED');
  assert.equal(smtpErrorToMailError(e('ESOCKET', 'read ECONNRESET', 'CONN')).code, 'CONNECTION_CLOSED');
  assert.equal(smtpErrorToMailError(e('EAUTH', 'Missing credentials for "PLAIN"', 'API')).kind, 'config');
  const greeting = Object.assign(new Error('Invalid greeting'), { code: 'EPROTOCOL', response: '554 5.7.1 go away', command: 'CONN' });
  assert.equal(smtpErrorToMailError(greeting, { connecting: true }).code, 'GREETING_FAILED');
  assert.equal(smtpErrorToMailError(greeting).code, 'SERVER_PERMANENT');
});
