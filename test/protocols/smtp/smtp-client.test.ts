import { test } from 'node:test';
import net from 'node:net';
import assert from 'node:assert/strict';
import { isMailError } from '../../../src/protocols/mail-error.ts';
import { sendMail, SmtpSession } from '../../../src/protocols/smtp/smtp-client.ts';
import type { SmtpLogger } from '../../../src/protocols/smtp/smtp-client.ts';
import { classifySmtpResult } from '../../../src/protocols/smtp/smtp-reply.ts';
import { freePort, startScriptedServer, startSmtpServer, testCert, clientOptions, rejection } from './smtp-test-servers.ts';

const ENVELOPE = { from: 'sender@example.com', to: ['rcpt@example.com'] };

function message(bodyBytes = 40): Buffer {
  const head = 'From: sender@example.com\r\nTo: rcpt@example.com\r\nSubject: test\r\nMessage-ID: <t1@example.com>\r\n\r\n';
  return Buffer.from(head + 'x'.repeat(bodyBytes) + '\r\n');
}

const options = clientOptions;

function captureLogger(): SmtpLogger & { entries: Array<{ level: string; obj: object; msg: string | undefined }> } {
  const entries: Array<{ level: string; obj: object; msg: string | undefined }> = [];
  const at = (level: string) => (obj: object, msg?: string) => entries.push({ level, obj, msg });
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

// ---- encryption ------------------------------------------------------------------------------

test("encryption 'none' sends in plain text and does not take the STARTTLS the server offers", async (t) => {
  const { key, cert } = testCert();
  const server = await startSmtpServer({ key, cert });
  t.after(() => server.close());
  const result = await sendMail(options(server.port), ENVELOPE, message());
  assert.equal(result.sent, true);
  assert.deepEqual(result.accepted.map((r) => r.address), ['rcpt@example.com']);
  assert.equal(result.accepted[0]?.code, 250);
  assert.equal(server.mails.length, 1);
  assert.equal(server.mails[0]?.secure, false);
  assert.deepEqual(server.mails[0]?.to, ['rcpt@example.com']);
  assert.equal(server.mails[0]?.from, 'sender@example.com');
  assert.ok(server.mails[0]?.raw.toString().includes('x'.repeat(40)));
});

test("encryption 'starttls' upgrades before MAIL FROM", async (t) => {
  const { key, cert } = testCert();
  const server = await startSmtpServer({ key, cert });
  t.after(() => server.close());
  const result = await sendMail(options(server.port, { encryption: 'starttls', ca: cert }), ENVELOPE, message());
  assert.equal(result.sent, true);
  assert.equal(server.mails[0]?.secure, true);
});

test("encryption 'tls' is TLS from the first byte", async (t) => {
  const { key, cert } = testCert();
  const server = await startSmtpServer({ key, cert, secure: true });
  t.after(() => server.close());
  const result = await sendMail(options(server.port, { encryption: 'tls', ca: cert }), ENVELOPE, message());
  assert.equal(result.sent, true);
  assert.equal(server.mails[0]?.secure, true);
});

test("'starttls' against a server without STARTTLS fails before AUTH or MAIL FROM", async (t) => {
  const server = await startScriptedServer({ ehlo: ['PIPELINING', 'AUTH PLAIN LOGIN', 'SIZE 10240000'] });
  t.after(() => server.close());
  const auth = { mechanism: 'PLAIN' as const, user: 'alice', pass: 'secret' };
  const err = await rejection(sendMail(options(server.port, { encryption: 'starttls', auth }), ENVELOPE, message()));
  assert.equal(err.code, 'STARTTLS_UNSUPPORTED');
  assert.equal(err.kind, 'tls');
  assert.deepEqual(server.commands.map((c) => c.split(' ')[0]), ['EHLO']);
  assert.ok(!server.commands.some((c) => /^(AUTH|MAIL|STARTTLS)/i.test(c)));
});

test('a self-signed certificate is refused unless trusted (ca) or explicitly allowed', async (t) => {
  const { key, cert } = testCert();
  const implicit = await startSmtpServer({ key, cert, secure: true });
  const upgrade = await startSmtpServer({ key, cert });
  t.after(() => Promise.all([implicit.close(), upgrade.close()]));

  for (const [server, encryption] of [
    [implicit, 'tls'],
    [upgrade, 'starttls'],
  ] as const) {
    const err = await rejection(sendMail(options(server.port, { encryption }), ENVELOPE, message()));
    assert.equal(err.code, 'TLS_FAILED', `${encryption}: ${err.message}`);
    assert.equal(err.kind, 'tls');
    assert.equal(classifySmtpResult(err).outcome, 'permanent');
    assert.equal(server.mailFromCount, 0);

    const log = captureLogger();
    const ok = await sendMail(options(server.port, { encryption, allowInvalidCertificate: true, logger: log }), ENVELOPE, message());
    assert.equal(ok.sent, true);
    assert.ok(log.entries.some((e) => e.level === 'warn' && (e.obj as { event?: string }).event === 'smtp.tls.unverified'));

    const trusted = await sendMail(options(server.port, { encryption, ca: cert }), ENVELOPE, message());
    assert.equal(trusted.sent, true);
  }
});

test('a trusted certificate issued for another host name is refused', async (t) => {
  const { key, cert } = testCert('DNS:mail.other.example');
  const server = await startSmtpServer({ key, cert, secure: true });
  t.after(() => server.close());
  const err = await rejection(sendMail(options(server.port, { encryption: 'tls', ca: cert }), ENVELOPE, message()));
  assert.equal(err.code, 'TLS_FAILED');
  assert.match(err.message, /altnames|host/i);
  assert.equal(server.mailFromCount, 0);
});

// ---- authentication --------------------------------------------------------------------------

for (const mechanism of ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'] as const) {
  test(`AUTH ${mechanism} succeeds with good credentials and fails with bad ones`, async (t) => {
    const server = await startSmtpServer({
      authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'],
      allowInsecureAuth: true,
      authOptional: false,
      onAuth(auth, _session, cb) {
        const ok =
          auth.username === 'alice' &&
          (auth.method === 'XOAUTH2' ? auth.accessToken === 'ya29.token' : auth.method === 'CRAM-MD5' ? auth.validatePassword('s3cret') : auth.password === 's3cret');
        if (ok) return cb(null, { user: 'alice' });
        if (auth.method === 'XOAUTH2') return cb(null, { data: { status: '401', schemes: 'bearer', scope: 'https://mail.google.com/' } });
        return cb(Object.assign(new Error('5.7.8 Username and Password not accepted'), { responseCode: 535 }));
      },
    });
    t.after(() => server.close());
    const good = mechanism === 'XOAUTH2' ? { accessToken: 'ya29.token' } : { pass: 's3cret' };
    const bad = mechanism === 'XOAUTH2' ? { accessToken: 'expired' } : { pass: 'wrong' };

    const result = await sendMail(options(server.port, { auth: { mechanism, user: 'alice', ...good } }), ENVELOPE, message());
    assert.equal(result.sent, true);
    assert.equal(server.auths[0]?.method, mechanism);
    assert.equal(server.mails[0]?.user, 'alice');

    const err = await rejection(sendMail(options(server.port, { auth: { mechanism, user: 'alice', ...bad } }), ENVELOPE, message()));
    assert.equal(err.code, 'AUTH_FAILED');
    assert.equal(err.kind, 'auth');
    assert.equal(err.responseCode, 535);
    assert.equal(err.command, `AUTH ${mechanism}`);
    assert.equal(classifySmtpResult(err).outcome, 'auth');
    assert.equal(server.mails.length, 1);
  });
}

test('AUTH over STARTTLS', async (t) => {
  const { key, cert } = testCert();
  const server = await startSmtpServer({
    key,
    cert,
    authMethods: ['PLAIN'],
    authOptional: false,
    onAuth: (auth, _s, cb) => (auth.password === 'pw' ? cb(null, { user: auth.username }) : cb(new Error('no'))),
  });
  t.after(() => server.close());
  const result = await sendMail(options(server.port, { encryption: 'starttls', ca: cert, auth: { mechanism: 'PLAIN', user: 'bob', pass: 'pw' } }), ENVELOPE, message());
  assert.equal(result.sent, true);
  assert.equal(server.mails[0]?.secure, true);
  assert.equal(server.mails[0]?.user, 'bob');
});

test('a mechanism the server does not support is AUTH_UNSUPPORTED', async (t) => {
  const server = await startScriptedServer({ ehlo: ['AUTH PLAIN'] });
  t.after(() => server.close());
  const err = await rejection(sendMail(options(server.port, { auth: { mechanism: 'CRAM-MD5', user: 'a', pass: 'b' } }), ENVELOPE, message()));
  assert.equal(err.code, 'AUTH_UNSUPPORTED');
  assert.equal(err.kind, 'config');
  assert.equal(err.responseCode, 502);
});

test('missing credentials are a config error raised before connecting', async (t) => {
  const server = await startSmtpServer();
  t.after(() => server.close());
  await assert.rejects(
    sendMail(options(server.port, { auth: { mechanism: 'XOAUTH2', user: 'a' } }), ENVELOPE, message()),
    (err: unknown) => isMailError(err) && err.code === 'AUTH_FAILED' && err.kind === 'config',
  );
  assert.equal(server.connections, 0);
});

test('the logger never sees a password or an access token, even with the transcript on', async (t) => {
  const server = await startSmtpServer({
    authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'],
    allowInsecureAuth: true,
    onAuth: (auth, _s, cb) => cb(null, { user: auth.username }),
  });
  t.after(() => server.close());
  const secret = 'Pa55-w0rd-xyz';
  const token = 'ya29.SECRET-TOKEN';
  const log = captureLogger();
  for (const mechanism of ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'] as const) {
    const auth = mechanism === 'XOAUTH2' ? { mechanism, user: 'carol', accessToken: token } : { mechanism, user: 'carol', pass: secret };
    await sendMail(options(server.port, { auth, logger: log, transcript: true }), ENVELOPE, message());
  }
  const text = JSON.stringify(log.entries);
  assert.ok(text.includes('AUTH PLAIN'), 'the transcript is on');
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  for (const needle of [secret, token, b64(secret), b64(`\0carol\0${secret}`), b64(`user=carol\x01auth=Bearer ${token}\x01\x01`)]) {
    assert.ok(!text.includes(needle), `log contains ${needle}`);
  }
});

test('nodemailer logs the handshake only when the logger\'s debug level is on (no log lines built for nothing)', async (t) => {
  const server = await startSmtpServer({});
  t.after(() => server.close());
  const wireLines = (log: ReturnType<typeof captureLogger>) => log.entries.filter((e) => (e.obj as { event?: string }).event === 'smtp.wire').length;
  const off = Object.assign(captureLogger(), { isLevelEnabled: (level: string) => level !== 'debug' && level !== 'trace' });
  const on = Object.assign(captureLogger(), { isLevelEnabled: () => true });
  assert.equal((await sendMail(options(server.port, { logger: off }), ENVELOPE, message())).sent, true);
  assert.equal((await sendMail(options(server.port, { logger: on }), ENVELOPE, message())).sent, true);
  assert.equal(wireLines(off), 0);
  assert.ok(wireLines(on) > 0, 'the handshake is logged at debug');
  // the connection's own events are there either way
  assert.ok(off.entries.some((e) => (e.obj as { event?: string }).event === 'smtp.connect.done'));
});

// ---- size limits -----------------------------------------------------------------------------

test('maxMessageBytes refuses a larger message before connecting', async (t) => {
  const server = await startSmtpServer();
  t.after(() => server.close());
  const raw = message(2000);
  const err = await rejection(sendMail(options(server.port, { maxMessageBytes: 1000 }), ENVELOPE, raw));
  assert.equal(err.code, 'MESSAGE_TOO_LARGE');
  assert.equal(err.kind, 'permanent');
  assert.equal(server.connections, 0);

  const session = new SmtpSession(options(server.port, { maxMessageBytes: 1000 }));
  await assert.rejects(session.send(ENVELOPE, raw), (e: unknown) => isMailError(e) && e.code === 'MESSAGE_TOO_LARGE');
  assert.equal(server.connections, 0);
  session.close();

  const fits = await sendMail(options(server.port, { maxMessageBytes: raw.length }), ENVELOPE, raw);
  assert.equal(fits.sent, true);
});

test("the server's SIZE is honoured without sending MAIL FROM or DATA", async (t) => {
  const server = await startSmtpServer({ size: 1000 });
  t.after(() => server.close());
  const err = await rejection(sendMail(options(server.port), ENVELOPE, message(2000)));
  assert.equal(err.code, 'MESSAGE_TOO_LARGE');
  assert.equal(err.kind, 'permanent');
  assert.equal(server.connections, 1);
  assert.equal(server.mailFromCount, 0);
  assert.equal(server.mails.length, 0);
  const ok = await sendMail(options(server.port), ENVELOPE, message(100));
  assert.equal(ok.sent, true);
});

// ---- scripted replies ------------------------------------------------------------------------

const RCPT_REPLIES = [
  ['421 4.7.0 Try again later, closing connection.', 'temporary', 421],
  ['451 4.7.500 Server busy. Please try again later from [203.0.113.5]. (S77714) [TY2PR01MB1234.jpnprd01.prod.outlook.com]', 'temporary', 451],
  ['450 4.2.0 <rcpt@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html', 'temporary', 450],
  ['452 4.3.1 Insufficient system storage', 'temporary', 452],
  ["550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n550-5.1.1 double-checking the recipient's email address for typos or\r\n550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser", 'permanent', 550],
  ["552 5.3.4 Your message exceeded Google's message size limits.", 'permanent', 552],
  ['554 5.7.1 <rcpt@example.com>: Relay access denied', 'permanent', 554],
] as const;

for (const [reply, outcome, code] of RCPT_REPLIES) {
  test(`RCPT refused with ${code} is reported per recipient as ${outcome}`, async (t) => {
    const server = await startScriptedServer({ rcpt: () => reply, closeAfterRcpt: (r) => r.startsWith('421') });
    t.after(() => server.close());
    const result = await sendMail(options(server.port), ENVELOPE, message());
    assert.equal(result.sent, false);
    assert.equal(result.accepted.length, 0);
    assert.equal(result.rejected.length, 1);
    const r = result.rejected[0];
    assert.equal(r?.address, 'rcpt@example.com');
    assert.equal(r?.outcome, outcome);
    assert.equal(r?.code, code);
    assert.equal(r?.reply, reply.replace(/\r\n/g, '\n'));
    assert.equal(r?.error.responseCode, code);
    assert.equal(r?.error.kind, outcome === 'temporary' ? 'transient' : 'permanent');
    // PIPELINING: DATA went out with MAIL FROM and RCPT TO (RFC 2920), but no message
    assert.deepEqual(server.commands.filter((c) => /^(MAIL|RCPT|DATA)/.test(c)).map((c) => c.split(/[ :]/)[0]), ['MAIL', 'RCPT', 'DATA']);
    assert.equal(server.messages, 0);
  });
}

test('without PIPELINING the client goes in lock-step and sends no DATA after the only RCPT was refused', async (t) => {
  const server = await startScriptedServer({ ehlo: ['8BITMIME', 'SIZE 100000'], rcpt: () => '550 5.1.1 User unknown' });
  t.after(() => server.close());
  const result = await sendMail(options(server.port), ENVELOPE, message());
  assert.equal(result.sent, false);
  assert.equal(result.rejected[0]?.code, 550);
  assert.ok(!server.commands.includes('DATA'));
  assert.equal(server.messages, 0);
});

test('one recipient refused, the other accepted: the message is sent and both are reported', async (t) => {
  const server = await startScriptedServer({ rcpt: (line) => (line.includes('gone@') ? '550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown in local recipient table' : '250 2.1.5 Ok') });
  t.after(() => server.close());
  const result = await sendMail(options(server.port), { from: 'a@example.com', to: ['gone@example.com', 'here@example.com'] }, message());
  assert.equal(result.sent, true);
  assert.deepEqual(result.accepted.map((r) => [r.address, r.outcome, r.code]), [['here@example.com', 'sent', 250]]);
  assert.deepEqual(result.rejected.map((r) => [r.address, r.outcome, r.code]), [['gone@example.com', 'permanent', 550]]);
  assert.equal(result.reply, '250 2.0.0 Ok: queued as 1234');
});

const DATA_END_REPLIES = [
  ['451 4.7.500 Server busy. Please try again later', 'temporary', 'SERVER_TEMPORARY', 451],
  ['452 4.3.1 Insufficient system storage', 'temporary', 'SERVER_TEMPORARY', 452],
  ['421 4.7.0 Try again later, closing connection.', 'temporary', 'SERVER_TEMPORARY', 421],
  ['550 5.7.1 Message rejected as spam by Content Filtering.', 'permanent', 'SERVER_PERMANENT', 550],
  ["552 5.3.4 Your message exceeded Google's message size limits. Please visit https://support.google.com/mail/?p=MaxSizeError", 'permanent', 'MESSAGE_TOO_LARGE', 552],
  ['554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message [BeginDiagnosticData]', 'permanent', 'SERVER_PERMANENT', 554],
] as const;

for (const [reply, outcome, errorCode, code] of DATA_END_REPLIES) {
  test(`${code} after the data fails the message as ${outcome} (${errorCode})`, async (t) => {
    const server = await startScriptedServer({ dataEnd: () => reply });
    t.after(() => server.close());
    const err = await rejection(sendMail(options(server.port), ENVELOPE, message()));
    assert.equal(err.code, errorCode);
    assert.equal(err.responseCode, code);
    assert.equal(err.response, reply);
    assert.equal(err.command, 'DATA');
    assert.equal(err.kind, outcome === 'temporary' ? 'transient' : 'permanent');
    assert.equal(classifySmtpResult(err).outcome, outcome);
  });
}

test('a connection dropped in the middle of DATA is a temporary failure', async (t) => {
  const server = await startScriptedServer({ dropAfterDataBytes: 10 });
  t.after(() => server.close());
  const err = await rejection(sendMail(options(server.port), ENVELOPE, message(100_000)));
  assert.equal(err.code, 'CONNECTION_CLOSED');
  assert.equal(err.kind, 'transient');
  assert.equal(classifySmtpResult(err).outcome, 'temporary');
});

test('a 554 greeting is GREETING_FAILED, a 421 greeting is temporary', async (t) => {
  const refusing = await startScriptedServer({ greeting: '554 5.7.1 No SMTP service here' });
  const busy = await startScriptedServer({ greeting: '421 4.3.2 Service not available, too many connections' });
  t.after(() => Promise.all([refusing.close(), busy.close()]));
  const hard = await rejection(sendMail(options(refusing.port), ENVELOPE, message()));
  assert.equal(hard.code, 'GREETING_FAILED');
  assert.equal(hard.kind, 'permanent');
  assert.equal(hard.responseCode, 554);
  const soft = await rejection(sendMail(options(busy.port), ENVELOPE, message()));
  assert.equal(soft.code, 'GREETING_FAILED');
  assert.equal(soft.kind, 'transient');
  assert.equal(classifySmtpResult(soft).outcome, 'temporary');
});

test('a server that never greets times out (GREETING_TIMEOUT)', async (t) => {
  const server = await startScriptedServer({ greeting: null });
  t.after(() => server.close());
  const err = await rejection(sendMail(options(server.port, { timeouts: { greeting: 200 } }), ENVELOPE, message()));
  assert.equal(err.code, 'TIMEOUT');
  assert.equal(err.kind, 'transient');
});

test('a refused connection is CONNECT_FAILED, temporary', async () => {
  const port = await freePort();
  const err = await rejection(sendMail(options(port), ENVELOPE, message()));
  assert.equal(err.code, 'CONNECT_FAILED');
  assert.equal(classifySmtpResult(err).outcome, 'temporary');
});

// ---- sessions --------------------------------------------------------------------------------

test('a session sends many messages over one connection, with RSET after a refused one', async (t) => {
  const server = await startScriptedServer({ dataEnd: (n) => (n === 2 ? '550 5.7.1 Rejected by policy' : `250 2.0.0 Ok: queued as ${n}`) });
  t.after(() => server.close());
  const session = new SmtpSession(options(server.port));
  t.after(() => session.close());
  const first = await session.send(ENVELOPE, message());
  assert.equal(first.reply, '250 2.0.0 Ok: queued as 1');
  await assert.rejects(session.send(ENVELOPE, message()), (e: unknown) => isMailError(e) && e.responseCode === 550);
  const third = await session.send(ENVELOPE, message());
  assert.equal(third.reply, '250 2.0.0 Ok: queued as 3');
  await session.quit();
  assert.equal(server.connections, 1);
  assert.equal(server.commands.filter((c) => c === 'RSET').length, 1);
  assert.equal(server.commands.at(-1), 'QUIT');
});

test('a session connects again after the server closed the connection (421)', async (t) => {
  const server = await startScriptedServer({ rcpt: (line) => (line.includes('busy@') ? '421 4.7.0 Try again later, closing connection.' : '250 2.1.5 Ok'), closeAfterRcpt: (r) => r.startsWith('421') });
  t.after(() => server.close());
  const session = new SmtpSession(options(server.port));
  t.after(() => session.close());
  const deferred = await session.send({ from: 'a@example.com', to: ['busy@example.com'] }, message());
  assert.equal(deferred.sent, false);
  assert.equal(deferred.rejected[0]?.outcome, 'temporary');
  const sent = await session.send(ENVELOPE, message());
  assert.equal(sent.sent, true);
  await session.quit();
  assert.equal(server.connections, 2);
});

test('concurrent sends on one session are queued, not interleaved', async (t) => {
  const server = await startSmtpServer();
  t.after(() => server.close());
  const session = new SmtpSession(options(server.port));
  t.after(() => session.close());
  const results = await Promise.all(Array.from({ length: 5 }, (_, i) => session.send({ from: 'a@example.com', to: [`r${i}@example.com`] }, message())));
  await session.quit();
  assert.ok(results.every((r) => r.sent));
  assert.equal(server.connections, 1);
  assert.deepEqual(server.mails.map((m) => m.to[0]).sort(), ['r0@example.com', 'r1@example.com', 'r2@example.com', 'r3@example.com', 'r4@example.com']);
});

test('a server that hangs up before its greeting: connect fails at once and leaves no timer behind (the process can exit)', async (t) => {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const session = new SmtpSession({ host: '127.0.0.1', port, encryption: 'none', auth: null, maxMessageBytes: null });
  const started = Date.now();
  await assert.rejects(session.connect(), (err: unknown) => isMailError(err));
  assert.ok(Date.now() - started < 5_000);
  session.close();
  await new Promise((r) => setImmediate(r));
  assert.equal(timers(), before, 'nodemailer’s greeting timer is cleared');
});
