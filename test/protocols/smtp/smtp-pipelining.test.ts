// PIPELINING (RFC 2920): MAIL FROM, RCPT TO… and DATA in one write, replies read in order,
// each recipient keeping its own reply, against the scripted server (byte-exact replies,
// drops) and smtp-server (a real SMTP server implementation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SendCancelledError, sendMail, SmtpSession, type SmtpSendResult } from '../../../src/protocols/smtp/smtp-client.ts';
import { startScriptedServer, startSmtpServer, clientOptions, rejection } from './smtp-test-servers.ts';

const RAW = Buffer.from(
  'From: sender@example.com\r\nTo: a@example.net\r\nSubject: dots\r\nMessage-ID: <p1@example.com>\r\n\r\n' +
    '.starts with a dot\r\n..two dots\r\n.\r\nthe line above is one dot\r\n. \r\nend\r\n',
);

const options = clientOptions;

test('MAIL FROM, every RCPT TO and DATA go out in one write; each recipient keeps its own reply', async (t) => {
  const server = await startScriptedServer({
    rcpt: (line) => (line.includes('<gone@') ? '550 5.1.1 <gone@example.net>: User unknown' : line.includes('<busy@') ? '451 4.2.0 Mailbox busy' : '250 2.1.5 Ok'),
  });
  t.after(() => server.close());
  const result = await sendMail(options(server.port), { from: 'sender@example.com', to: ['a@example.net', 'gone@example.net', 'busy@example.net', 'b@example.net'] }, RAW);
  assert.equal(result.sent, true);
  assert.deepEqual(result.accepted.map((r) => [r.address, r.outcome, r.code]), [
    ['a@example.net', 'sent', 250],
    ['b@example.net', 'sent', 250],
  ]);
  assert.deepEqual(result.rejected.map((r) => [r.address, r.outcome, r.code]), [
    ['gone@example.net', 'permanent', 550],
    ['busy@example.net', 'temporary', 451],
  ]);
  const group = server.packets.find((p) => p.some((l) => l.startsWith('MAIL FROM')));
  assert.deepEqual(group, [
    'MAIL FROM:<sender@example.com>',
    'RCPT TO:<a@example.net>',
    'RCPT TO:<gone@example.net>',
    'RCPT TO:<busy@example.net>',
    'RCPT TO:<b@example.net>',
    'DATA',
  ]);
  assert.equal(server.messages, 1);
});

test('smtp-server receives the exact bytes (dot-stuffing) for the recipients it took, not the one it refused', async (t) => {
  const server = await startSmtpServer({
    onRcptTo(address, _session, cb) {
      if (address.address.startsWith('gone@')) cb(Object.assign(new Error('No such user'), { responseCode: 550 }));
      else cb();
    },
  });
  t.after(() => server.close());
  const events: object[] = [];
  const keep = (obj: object): void => void events.push(obj);
  const session = new SmtpSession(options(server.port, { logger: { debug: keep, info: keep, warn: keep, error: keep } }));
  t.after(() => session.close());
  for (let i = 0; i < 3; i++) {
    const result = await session.send({ from: 'sender@example.com', to: ['a@example.net', 'gone@example.net', 'b@example.net'] }, RAW);
    assert.deepEqual(result.accepted.map((r) => r.address), ['a@example.net', 'b@example.net']);
    assert.deepEqual(result.rejected.map((r) => [r.address, r.code, r.outcome]), [['gone@example.net', 550, 'permanent']]);
  }
  await session.quit();
  assert.ok(events.some((e) => (e as { event?: string; pipelining?: boolean }).event === 'smtp.connect.done' && (e as { pipelining?: boolean }).pipelining === true));
  assert.equal(server.connections, 1);
  assert.equal(server.mails.length, 3);
  for (const mail of server.mails) {
    assert.deepEqual(mail.to, ['a@example.net', 'b@example.net']);
    assert.ok(mail.raw.equals(RAW), mail.raw.toString('latin1'));
  }
});

test('a refused DATA fails the message with the reply to DATA, sends no data, and RSET readies the session for the next one', async (t) => {
  let refuse = true;
  const server = await startScriptedServer({ data: () => (refuse ? '554 5.5.1 Error: no thanks' : '354 go ahead') });
  t.after(() => server.close());
  const session = new SmtpSession(options(server.port));
  t.after(() => session.close());
  const err = await rejection(session.send({ from: 'sender@example.com', to: ['a@example.net'] }, RAW));
  assert.deepEqual([err.code, err.command, err.responseCode, err.kind], ['SERVER_PERMANENT', 'DATA', 554, 'permanent']);
  assert.equal(server.messages, 0);
  refuse = false;
  const ok = await session.send({ from: 'sender@example.com', to: ['a@example.net'] }, RAW);
  assert.equal(ok.sent, true);
  await session.quit();
  assert.equal(server.connections, 1);
  assert.deepEqual(server.commands.filter((c) => /^(DATA|RSET)/.test(c)), ['DATA', 'RSET', 'DATA']);
});

test('every RCPT refused: DATA is answered 554 and the result lists each refusal, nothing is thrown', async (t) => {
  const server = await startScriptedServer({ rcpt: () => '550 5.1.1 User unknown' });
  t.after(() => server.close());
  const result = await sendMail(options(server.port), { from: 'sender@example.com', to: ['x@example.net', 'y@example.net'] }, RAW);
  assert.equal(result.sent, false);
  assert.deepEqual(result.rejected.map((r) => [r.address, r.code]), [
    ['x@example.net', 550],
    ['y@example.net', 550],
  ]);
  assert.equal(server.messages, 0);
});

test('a refused MAIL FROM fails the message with its own reply, not the 503s that follow it', async (t) => {
  const server = await startScriptedServer({ mail: () => '553 5.7.1 Sender address rejected: not owned by user', rcpt: () => '503 5.5.1 Error: need MAIL command' });
  t.after(() => server.close());
  const err = await rejection(sendMail(options(server.port), { from: 'sender@example.com', to: ['a@example.net'] }, RAW));
  assert.deepEqual([err.command, err.responseCode, err.kind], ['MAIL FROM', 553, 'permanent']);
  assert.equal(server.messages, 0);
});

test('a connection dropped in the middle of the pipeline: no recipient counts as accepted without its reply and the data', async (t) => {
  // MAIL FROM and the first RCPT answered, then the server is gone
  const early = await startScriptedServer({ dropAt: (line) => line.includes('<b@') });
  t.after(() => early.close());
  const err = await rejection(sendMail(options(early.port), { from: 'sender@example.com', to: ['a@example.net', 'b@example.net', 'c@example.net'] }, RAW));
  assert.deepEqual([err.code, err.kind], ['CONNECTION_CLOSED', 'transient']);
  assert.equal(early.messages, 0);

  // only MAIL FROM answered: every recipient is a temporary rejection, nothing is thrown
  const first = await startScriptedServer({ dropAt: (line) => line.startsWith('RCPT') });
  t.after(() => first.close());
  const result = await sendMail(options(first.port), { from: 'sender@example.com', to: ['a@example.net', 'b@example.net'] }, RAW);
  assert.equal(result.sent, false);
  assert.deepEqual(result.accepted, []);
  assert.deepEqual(result.rejected.map((r) => [r.address, r.outcome, r.error.code]), [
    ['a@example.net', 'temporary', 'CONNECTION_CLOSED'],
    ['b@example.net', 'temporary', 'CONNECTION_CLOSED'],
  ]);

  // the session connects again for the next message
  const session = new SmtpSession(options(early.port));
  t.after(() => session.close());
  await rejection(session.send({ from: 'sender@example.com', to: ['a@example.net', 'b@example.net'] }, RAW));
  const again = await session.send({ from: 'sender@example.com', to: ['a@example.net'] }, RAW);
  assert.equal(again.sent, true);
  await session.quit();
  assert.equal(early.messages, 1);
});

// ---- the next message's commands right after the data (RFC 2920 §3.1) ----------------------

const to = (address: string) => ({ from: 'sender@example.com', to: [address] });

/** Two sends queued at once on a connected session (the second written after the first one's data), then QUIT. */
async function twoQueued(port: number): Promise<[PromiseSettledResult<SmtpSendResult>, PromiseSettledResult<SmtpSendResult>]> {
  const session = new SmtpSession(options(port));
  try {
    await session.connect();
    const results = await Promise.allSettled([session.send(to('a@example.net'), RAW), session.send(to('b@example.net'), RAW)] as const);
    await session.quit();
    return results;
  } finally {
    session.close();
  }
}

test('sends queued on a session: the next MAIL FROM, RCPT TO and DATA go in the same write as the previous data', async (t) => {
  const server = await startScriptedServer();
  t.after(() => server.close());
  const session = new SmtpSession(options(server.port));
  t.after(() => session.close());
  const results = await Promise.all(['a', 'b', 'c'].map((x) => session.send(to(`${x}@example.net`), RAW)));
  await session.quit();
  assert.deepEqual(results.map((r) => [r.sent, r.accepted[0]?.address]), [
    [true, 'a@example.net'],
    [true, 'b@example.net'],
    [true, 'c@example.net'],
  ]);
  assert.equal(server.messages, 3);
  const followers = server.packets.filter((p) => p[0] === '<end of data>' && p[1]?.startsWith('MAIL FROM'));
  assert.deepEqual(followers, [
    ['<end of data>', 'MAIL FROM:<sender@example.com>', 'RCPT TO:<b@example.net>', 'DATA'],
    ['<end of data>', 'MAIL FROM:<sender@example.com>', 'RCPT TO:<c@example.net>', 'DATA'],
  ]);
});

test('a message refused after its data does not disturb the next one already on its way (no RSET in between)', async (t) => {
  const server = await startScriptedServer({ dataEnd: (n) => (n === 1 ? '550 5.7.1 Rejected by policy' : '250 2.0.0 Ok') });
  t.after(() => server.close());
  const [first, second] = await twoQueued(server.port);
  assert.equal(first.status, 'rejected');
  assert.equal((first as PromiseRejectedResult).reason.responseCode, 550);
  assert.equal(second.status, 'fulfilled');
  assert.equal((second as PromiseFulfilledResult<SmtpSendResult>).value.sent, true);
  assert.ok(!server.commands.includes('RSET'));
  assert.equal(server.connections, 1);
});

test('the server closes after a message (421) while the next one’s MAIL FROM is on its way: that one goes again on a new connection', async (t) => {
  const server = await startScriptedServer({ dataEnd: (n) => (n === 1 ? '421 4.7.0 Too many messages, closing connection' : '250 2.0.0 Ok'), closeAfterDataEnd: (r) => r.startsWith('421') });
  t.after(() => server.close());
  const [first, second] = await twoQueued(server.port);
  assert.equal(first.status, 'rejected');
  assert.deepEqual([(first as PromiseRejectedResult).reason.responseCode, (first as PromiseRejectedResult).reason.kind], [421, 'transient']);
  assert.equal(second.status, 'fulfilled');
  assert.equal(server.connections, 2);
  assert.equal(server.messages, 2);
});

test('close() fails the sends still waiting in the queue without sending them', async (t) => {
  const server = await startScriptedServer();
  t.after(() => server.close());
  const session = new SmtpSession(options(server.port));
  await session.send(to('a@example.net'), RAW);
  const waiting = [session.send(to('b@example.net'), RAW), session.send(to('c@example.net'), RAW)];
  session.close();
  for (const p of waiting) await assert.rejects(p, (e: unknown) => e instanceof SendCancelledError && e.code === 'CONNECTION_CLOSED');
  assert.equal(server.messages, 1);
});

test('a send still waiting when its startBy passes is not sent: SendCancelledError (late), and the sends after it go on', async (t) => {
  const server = await startSmtpServer({ onMailFrom: (_a, _s, cb) => void setTimeout(cb, 200) });
  t.after(() => server.close());
  const session = new SmtpSession(options(server.port));
  t.after(() => session.close());
  await session.connect();
  const t0 = Date.now();
  const [a, b, c] = await Promise.allSettled([session.send(to('a@example.net'), RAW), session.send(to('b@example.net'), RAW, { startBy: t0 + 50 }), session.send(to('c@example.net'), RAW)]);
  assert.equal(a.status, 'fulfilled');
  assert.equal(b.status, 'rejected');
  assert.ok((b as PromiseRejectedResult).reason instanceof SendCancelledError && (b as PromiseRejectedResult).reason.late);
  assert.equal(c.status, 'fulfilled');
  assert.deepEqual(server.mails.map((m) => m.to[0]), ['a@example.net', 'c@example.net']);
  assert.equal(server.mailFromCount, 2, 'b’s MAIL FROM went out');
});

test('a send whose commands were pipelined but whose startBy passes before its data: the connection closes before the data, nothing of it is delivered', async (t) => {
  let mailFroms = 0;
  // the second MAIL FROM is answered late, after the second send's startBy
  const server = await startSmtpServer({ onMailFrom: (_a, _s, cb) => void setTimeout(cb, ++mailFroms === 2 ? 1_500 : 0) });
  t.after(() => server.close());
  const session = new SmtpSession(options(server.port));
  t.after(() => session.close());
  await session.connect();
  const t0 = Date.now();
  const [a, b] = await Promise.allSettled([session.send(to('a@example.net'), RAW), session.send(to('b@example.net'), RAW, { startBy: t0 + 1_000 })]);
  assert.equal(a.status, 'fulfilled');
  assert.equal(b.status, 'rejected');
  assert.ok((b as PromiseRejectedResult).reason instanceof SendCancelledError && (b as PromiseRejectedResult).reason.late);
  assert.equal(server.mailFromCount, 2, 'b’s commands were not written ahead');
  assert.deepEqual(server.mails.map((m) => m.to[0]), ['a@example.net']);
  // the session connects again for the next one
  await session.send(to('c@example.net'), RAW);
  assert.deepEqual(server.mails.map((m) => m.to[0]), ['a@example.net', 'c@example.net']);
  assert.equal(server.connections, 2);
});
