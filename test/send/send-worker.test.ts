// The send worker against in-process SMTP servers (smtp-server for real AUTH, STARTTLS and
// SIZE; a scripted server for byte-exact vendor replies): what reaches the server, and what
// each recipient's row says afterwards.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import type { AppContext } from '../../src/services/context.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { BulkDeliveryService } from '../../src/send/bulk-service.ts';
import { DeliveryService } from '../../src/send/delivery-service.ts';
import type { BulkDelivery, Delivery } from '../../src/send/schemas.ts';
import { sendDeliveryNow, startSendWorker, type SendWorkerOptions } from '../../src/send/send-worker.ts';
import { openContext } from '../../src/services/context.ts';
import type { AppError } from '../../src/domain/errors.ts';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { makeContext } from '../support/app-context.ts';
import { startScriptedServer, startSmtpServer, testCert } from '../protocols/smtp/smtp-test-servers.ts';
import { addSendingAccount, cleanups, waitFor } from './send-fixture.ts';

const cleanupsOf = new WeakMap<TestContext, (fn: () => unknown) => void>();
/** Register a clean-up; they run last-in first-out, so a worker stops before its SMTP server closes. */
function later(t: TestContext, fn: () => unknown): void {
  let push = cleanupsOf.get(t);
  if (!push) {
    push = cleanups(t);
    cleanupsOf.set(t, push);
  }
  push(fn);
}

/** A fresh SQLite context, closed last (after the worker and the servers of the test). */
async function sqliteContext(t: TestContext): Promise<AppContext | undefined> {
  const ctx = await makeContext('sqlite');
  if (ctx) later(t, () => ctx.close());
  return ctx;
}

function worker(t: TestContext, ctx: AppContext, opts: SendWorkerOptions = {}) {
  const w = startSendWorker(ctx, { pollIntervalMs: 50, sessions: 2, ...opts });
  later(t, () => w.stop());
  return w;
}

async function settled(ctx: AppContext, id: string, done: (d: Delivery) => boolean = (d) => d.recipients.every((r) => r.status !== 'queued' && r.status !== 'sending')): Promise<Delivery> {
  const service = new DeliveryService(ctx);
  return waitFor(`delivery ${id}`, async () => {
    const d = await service.get(id);
    return done(d) ? d : undefined;
  });
}

async function bulkUntil(ctx: AppContext, id: string, done: (b: BulkDelivery) => boolean): Promise<BulkDelivery> {
  const service = new BulkDeliveryService(ctx);
  return waitFor(`bulk delivery ${id}`, async () => {
    const b = await service.get(id);
    return done(b) ? b : undefined;
  });
}

test('a single send goes out at once in one transaction: From, envelope sender, Bcc only in the envelope, the stored bytes are the sent bytes', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  const smtp = await startSmtpServer();
  later(t, () => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port, address: 'support@example.co.jp', fromName: 'サポート窓口' });
  worker(t, ctx);
  const created = await new DeliveryService(ctx).create('admin:test', {
    accountId: f.accountId,
    to: ['yamada@example.jp', 'suzuki@example.jp'],
    cc: ['YAMADA@example.jp', 'sato@example.jp'],
    bcc: ['audit@example.net'],
    subject: 'お見積もりの件',
    text: '山田様\n\nお世話になっております。\n',
    attachments: [{ filename: '見積書.txt', contentType: 'text/plain', contentBase64: Buffer.from('合計 1,000円').toString('base64') }],
    charset: 'iso-2022-jp',
  });
  assert.equal(created.status, 'queued');
  // the duplicate (YAMADA@ in Cc) is one recipient
  assert.deepEqual(
    created.recipients.map((r) => [r.kind, r.address, r.status]),
    [
      ['to', 'yamada@example.jp', 'queued'],
      ['to', 'suzuki@example.jp', 'queued'],
      ['cc', 'sato@example.jp', 'queued'],
      ['bcc', 'audit@example.net', 'queued'],
    ],
  );
  const d = await settled(ctx, created.id);
  assert.equal(d.status, 'sent');
  for (const r of d.recipients) {
    assert.equal(r.status, 'sent');
    assert.equal(r.code, 250);
    assert.equal(r.attempts, 1);
    assert.ok(r.sentAt);
  }
  assert.equal(smtp.mails.length, 1);
  const mail = smtp.mails[0]!;
  assert.equal(mail.from, 'support@example.co.jp');
  assert.deepEqual(mail.to, ['yamada@example.jp', 'suzuki@example.jp', 'sato@example.jp', 'audit@example.net']);
  const parsed = await simpleParser(mail.raw);
  assert.deepEqual(parsed.from?.value, [{ name: 'サポート窓口', address: 'support@example.co.jp' }]);
  assert.equal(parsed.subject, 'お見積もりの件');
  assert.equal(parsed.headers.get('bcc'), undefined);
  assert.match(mail.raw.toString('latin1'), /charset=ISO-2022-JP/i);
  assert.equal(parsed.attachments[0]?.filename, '見積書.txt');
  assert.equal(parsed.messageId, d.messageId);
  // sent mail is stored raw: exactly what the server received
  assert.ok((await new DeliveryService(ctx).raw(d.id)).equals(mail.raw));
});

test('a secret key that does not open the account’s password: the mail stays queued (not failed), `yubin send` is told why at once; with the right key it goes out', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  const smtp = await startSmtpServer();
  later(t, () => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port });
  const created = await new DeliveryService(ctx).create('admin:test', { accountId: f.accountId, to: ['a@example.jp'], subject: 's', text: 't' });
  // the same data folder opened with another (valid) key
  const wrong = await openContext({ ...ctx.config, secretKey: randomBytes(32) }, { log: pino({ level: 'silent' }) });
  later(t, () => wrong.close());
  const started = Date.now();
  await assert.rejects(sendDeliveryNow(wrong, created.id, { timeoutMs: 20_000 }), (err: AppError) => err.code === 'SECRET_KEY_MISMATCH' && /YUBIN_SECRET_KEY/.test(err.localized('en').message));
  assert.ok(Date.now() - started < 10_000, 'told at once, not after the timeout');
  const after = await new DeliveryService(ctx).get(created.id);
  assert.deepEqual(after.recipients.map((r) => [r.status, r.attempts]), [['queued', 0]], 'neither failed nor counted as an attempt');
  assert.equal(smtp.mails.length, 0);
  // handed back for a minute later (a worker with the right key takes it then); made due now
  await ctx.db.kysely.updateTable('delivery_recipients').set({ next_attempt_at: new Date().toISOString() }).where('delivery_id', '=', created.id).execute();
  await sendDeliveryNow(ctx, created.id, { timeoutMs: 20_000 });
  assert.equal((await new DeliveryService(ctx).get(created.id)).recipients[0]!.status, 'sent');
  assert.equal(smtp.mails.length, 1);
});

test('each recipient keeps its own result: 250 sent, 451 deferred for a minute, 550 failed, with the code and reply', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  const smtp = await startScriptedServer({
    rcpt: (line) =>
      line.includes('<busy@') ? '451 4.2.0 <busy@example.net>: Recipient address rejected: Mailbox busy' : line.includes('<nobody@') ? '550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in virtual mailbox table' : '250 2.1.5 Ok',
  });
  later(t, () => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port });
  worker(t, ctx);
  const before = Date.now();
  const created = await new DeliveryService(ctx).create('test', { accountId: f.accountId, to: ['ok@example.net', 'busy@example.net', 'nobody@example.net'], subject: 's', text: 't' });
  const d = await settled(ctx, created.id);
  const [ok, busy, nobody] = d.recipients;
  assert.deepEqual([ok!.status, ok!.code], ['sent', 250]);
  assert.deepEqual([busy!.status, busy!.code, busy!.attempts], ['deferred', 451, 1]);
  assert.match(busy!.reply!, /Mailbox busy/);
  const next = Date.parse(busy!.nextAttemptAt!);
  assert.ok(next >= before + 60_000 && next <= Date.now() + 60_000, busy!.nextAttemptAt!);
  assert.deepEqual([nobody!.status, nobody!.code, nobody!.error?.code], ['failed', 550, 'SERVER_PERMANENT']);
  assert.match(nobody!.reply!, /User unknown/);
  assert.equal(d.status, 'deferred');
});

test('a message refused after its data: recipients refused at RCPT TO keep their own reply (a 450 is not failed by the 554, a 550 not deferred by a 451)', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  const smtp = await startScriptedServer({
    rcpt: (line) => (line.includes('<busy@') ? '450 4.2.1 <busy@example.net>: Mailbox busy' : line.includes('<nobody@') ? '550 5.1.1 <nobody@example.net>: User unknown' : '250 2.1.5 Ok'),
    dataEnd: (n) => (n === 1 ? '554 5.7.1 Message rejected: spam content detected' : '451 4.3.0 Try again later'),
  });
  later(t, () => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port });
  worker(t, ctx, { sessions: 1 });
  const service = new DeliveryService(ctx);
  const a = await settled(ctx, (await service.create('test', { accountId: f.accountId, to: ['ok@example.net', 'busy@example.net'], subject: 's', text: 't' })).id);
  assert.deepEqual(a.recipients.map((r) => [r.address, r.status, r.code]), [
    ['ok@example.net', 'failed', 554],
    ['busy@example.net', 'deferred', 450],
  ]);
  const b = await settled(ctx, (await service.create('test', { accountId: f.accountId, to: ['ok@example.net', 'nobody@example.net'], subject: 's', text: 't' })).id);
  assert.deepEqual(b.recipients.map((r) => [r.address, r.status, r.code]), [
    ['ok@example.net', 'deferred', 451],
    ['nobody@example.net', 'failed', 550],
  ]);
});

test('5xx after the data fails every recipient at once; 4xx defers them', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  const smtp = await startScriptedServer({ dataEnd: (n) => (n === 1 ? '554 5.7.1 Message rejected: spam content detected' : '421 4.7.0 Try again later, closing connection') });
  later(t, () => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port });
  worker(t, ctx, { sessions: 1 });
  const service = new DeliveryService(ctx);
  const a = await settled(ctx, (await service.create('test', { accountId: f.accountId, to: ['a@example.net', 'b@example.net'], subject: 's', text: 't' })).id);
  assert.deepEqual(a.recipients.map((r) => [r.status, r.code]), [
    ['failed', 554],
    ['failed', 554],
  ]);
  assert.match(a.recipients[0]!.reply!, /spam/);
  const b = await settled(ctx, (await service.create('test', { accountId: f.accountId, to: ['c@example.net'], subject: 's', text: 't' })).id);
  assert.deepEqual([b.status, b.recipients[0]!.code, b.recipients[0]!.attempts], ['deferred', 421, 1]);
});

test('SMTP AUTH uses the account’s credentials, or its own SMTP credentials when the server says so', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  const logins: string[] = [];
  const smtp = await startSmtpServer({
    authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5'],
    allowInsecureAuth: true,
    authOptional: false,
    onAuth: (auth, _s, cb) => {
      logins.push(`${auth.method} ${auth.username}`);
      const ok = auth.method === 'CRAM-MD5' ? auth.validatePassword?.('pop-pw') : auth.password === (auth.username === 'smtp-user' ? 'smtp-pw' : 'pop-pw');
      return ok ? cb(null, { user: auth.username }) : cb(new Error('Invalid credentials'));
    },
  });
  later(t, () => smtp.close());
  const shared = await addSendingAccount(ctx, { port: smtp.port, mechanism: 'PLAIN', username: 'pop-user', password: 'pop-pw' });
  const own = await addSendingAccount(ctx, { port: smtp.port, mechanism: 'LOGIN', useAccountCredentials: false, username: 'pop-user', password: 'pop-pw', smtpUsername: 'smtp-user', smtpPassword: 'smtp-pw' });
  const cram = await addSendingAccount(ctx, { port: smtp.port, mechanism: 'CRAM-MD5', username: 'cram-user', password: 'pop-pw' });
  worker(t, ctx, { sessions: 1 });
  const service = new DeliveryService(ctx);
  for (const f of [shared, own, cram]) {
    const d = await settled(ctx, (await service.create('test', { accountId: f.accountId, to: ['x@example.net'], subject: 's', text: 't' })).id);
    assert.equal(d.status, 'sent', JSON.stringify(d.recipients));
  }
  assert.deepEqual(logins, ['PLAIN pop-user', 'LOGIN smtp-user', 'CRAM-MD5 cram-user']);
  assert.deepEqual(smtp.mails.map((m) => m.user), ['pop-user', 'smtp-user', 'cram-user']);
});

test('a refused login fails the mail, flags the account and pauses its bulk delivery; after the password is fixed, resume sends the rest', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  const smtp = await startSmtpServer({
    authMethods: ['PLAIN'],
    allowInsecureAuth: true,
    authOptional: false,
    onAuth: (auth, _s, cb) => (auth.password === 'right' ? cb(null, { user: auth.username }) : cb(new Error('Authentication credentials invalid'))),
  });
  later(t, () => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port, mechanism: 'PLAIN', username: 'u', password: 'wrong' });
  const bulk = new BulkDeliveryService(ctx);
  const { id } = await bulk.create('test', { accountId: f.accountId, subject: '{{name}}', text: 'x', recipientsCsv: 'email,name\na@example.net,A\nb@example.net,B\nc@example.net,C\n' });
  const w = worker(t, ctx, { sessions: 1 });
  const paused = await bulkUntil(ctx, id, (b) => b.status === 'paused');
  assert.equal(paused.pauseReason, 'auth_failed');
  assert.deepEqual([paused.failed, paused.sent, paused.pending], [1, 0, 2]);
  assert.equal(paused.accountError?.code, 'AUTH_FAILED');
  const failed = (await bulk.recipients(id, { status: 'failed' })).items[0]!;
  assert.equal(failed.code, 535);
  assert.equal(failed.error?.code, 'AUTH_FAILED');
  assert.equal(smtp.mails.length, 0);
  // queued ones are handed back, not failed
  assert.deepEqual((await bulk.recipients(id, {})).items.map((r) => r.status).sort(), ['failed', 'queued', 'queued']);

  await new MailAccountService(ctx).change('test', f.accountId, { password: 'right' });
  // changing the account clears the flag
  assert.equal((await bulk.get(id)).accountError, null);
  await bulk.resume('test', id);
  const done = await bulkUntil(ctx, id, (b) => b.status === 'done');
  assert.deepEqual([done.sent, done.failed, done.pending], [2, 1, 0]);
  assert.deepEqual(smtp.mails.map((m) => m.to[0]).sort(), ['b@example.net', 'c@example.net']);
  await w.stop();
});

test('a mail larger than the SIZE the server announces fails before its data is sent', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  const smtp = await startSmtpServer({ size: 2_000 });
  later(t, () => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port, maxMessageBytes: 1_000_000 });
  worker(t, ctx);
  const d = await settled(ctx, (await new DeliveryService(ctx).create('test', { accountId: f.accountId, to: ['x@example.net'], subject: 'big', text: 'あ'.repeat(3_000) })).id);
  assert.equal(d.status, 'failed');
  assert.equal(d.recipients[0]!.error?.code, 'MESSAGE_TOO_LARGE');
  assert.equal(smtp.mails.length, 0);
  assert.equal(smtp.mailFromCount, 0);
});

test('STARTTLS and implicit TLS are verified against the trusted CA; an untrusted certificate fails the mail', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  const { key, cert } = testCert();
  const starttls = await startSmtpServer({ key, cert });
  const implicit = await startSmtpServer({ key, cert, secure: true });
  later(t, () => Promise.all([starttls.close(), implicit.close()]));
  const a = await addSendingAccount(ctx, { port: starttls.port, encryption: 'starttls' });
  const b = await addSendingAccount(ctx, { port: implicit.port, encryption: 'tls' });
  const service = new DeliveryService(ctx);
  // no CA given: the self-signed certificate is refused, nothing is sent
  const untrusted = startSendWorker(ctx, { pollIntervalMs: 50 });
  const refused = await settled(ctx, (await service.create('test', { accountId: a.accountId, to: ['x@example.net'], subject: 's', text: 't' })).id);
  await untrusted.stop();
  assert.deepEqual([refused.status, refused.recipients[0]!.error?.code], ['failed', 'TLS_FAILED']);
  assert.equal(starttls.mails.length, 0);

  worker(t, ctx, { ca: cert });
  for (const f of [a, b]) {
    const d = await settled(ctx, (await service.create('test', { accountId: f.accountId, to: ['x@example.net'], subject: 's', text: 't' })).id);
    assert.equal(d.status, 'sent');
  }
  assert.equal(starttls.mails[0]?.secure, true);
  assert.equal(implicit.mails[0]?.secure, true);
});

test('recipients a crashed worker held are sent by the next worker once its lease runs out, each exactly once', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  const smtp = await startSmtpServer();
  later(t, () => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port });
  const bulk = new BulkDeliveryService(ctx);
  const csv = ['email', ...Array.from({ length: 10 }, (_, i) => `r${i}@example.net`)].join('\n');
  const { id } = await bulk.create('test', { accountId: f.accountId, subject: 's', text: 't', recipientsCsv: csv });
  // a worker claims four and dies without a word
  const held = await ctx.repos.deliveries.claim({ holder: 'crashed', now: new Date(), leaseMs: 300, limit: 4 });
  assert.equal(held.length, 4);
  worker(t, ctx, { leaseMs: 60_000 });
  const done = await bulkUntil(ctx, id, (b) => b.status === 'done');
  assert.equal(done.sent, 10);
  const received = smtp.mails.map((m) => m.to[0]!).sort();
  assert.deepEqual(received, Array.from({ length: 10 }, (_, i) => `r${i}@example.net`).sort());
});

test('pause holds the rest, resume goes on, cancel cancels what is not sent', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  const smtp = await startSmtpServer();
  later(t, () => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port, perMinuteLimit: 2 });
  const bulk = new BulkDeliveryService(ctx);
  const csv = ['email', ...Array.from({ length: 6 }, (_, i) => `p${i}@example.net`)].join('\n');
  const { id } = await bulk.create('test', { accountId: f.accountId, subject: 's', text: 't', recipientsCsv: csv });
  // two per 800 ms: slow enough to pause in between
  const w = worker(t, ctx, { rateWindowMs: 800, rateMarginMs: 50 });
  await bulkUntil(ctx, id, (b) => b.sent >= 2);
  const paused = await bulk.pause('test', id);
  assert.equal(paused.status, 'paused');
  // a mail already being sent finishes; after that nothing moves while paused
  const held = await waitFor('in-flight mails', async () => ((await bulk.recipients(id, { status: 'sending' })).items.length === 0 ? await bulk.get(id) : undefined));
  await new Promise((r) => setTimeout(r, 1_200));
  const still = await bulk.get(id);
  assert.equal(still.sent, held.sent);
  assert.equal(smtp.mails.length, held.sent);
  assert.ok(still.pending > 0);
  await bulk.resume('test', id);
  const done = await bulkUntil(ctx, id, (b) => b.status === 'done');
  assert.equal(done.sent, 6);
  await w.stop();

  const second = await bulk.create('test', { accountId: f.accountId, subject: 's', text: 't', recipientsCsv: 'email\nq1@example.net\nq2@example.net\n' });
  const cancelled = await bulk.cancel('test', second.id);
  assert.deepEqual([cancelled.status, cancelled.cancelled, cancelled.pending], ['cancelled', 2, 0]);
  await assert.rejects(bulk.resume('test', second.id), (err: Error & { code?: string }) => err.code === 'CONFLICT');
  await assert.rejects(bulk.pause('test', id), (err: Error & { code?: string }) => err.code === 'CONFLICT');
});

test('a pause reaches mail the worker has already claimed: within BULK_STATUS_CACHE_MS it sends no more of it and hands it back', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  // 30 ms per mail: the first claim (all 100) takes seconds to send
  const smtp = await startSmtpServer({ onMailFrom: (_address, _session, cb) => void setTimeout(() => cb(), 30) });
  later(t, () => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port });
  const bulk = new BulkDeliveryService(ctx);
  const csv = ['email', ...Array.from({ length: 100 }, (_, i) => `c${i}@example.net`)].join('\n');
  const { id } = await bulk.create('test', { accountId: f.accountId, subject: 's', text: 't', recipientsCsv: csv });
  const w = worker(t, ctx, { sessions: 1 });
  await waitFor('a few mails sent', async () => (smtp.mails.length >= 5 ? true : undefined));
  await bulk.pause('test', id);
  // the worker's status of it is at most 500 ms old: some mails more, then none
  await new Promise((r) => setTimeout(r, 1_000));
  const atServer = smtp.mails.length;
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(smtp.mails.length, atServer, 'mail of the paused bulk delivery was still being sent');
  assert.ok(atServer < 60, `${atServer} of 100 sent`);
  // what it had claimed and not sent is queued again, not left 'sending'
  const b = await waitFor('the rest handed back', async () => {
    const now = await bulk.get(id);
    return (await bulk.recipients(id, { status: 'sending' })).items.length === 0 ? now : undefined;
  });
  assert.equal(b.sent, atServer);
  assert.equal(b.pending, 100 - atServer);
  await bulk.resume('test', id);
  await bulkUntil(ctx, id, (x) => x.status === 'done');
  assert.equal(smtp.mails.length, 100);
  assert.equal(new Set(smtp.mails.map((m) => m.to.join())).size, 100, 'a mail was sent twice');
  await w.stop();
});

test('bulk mail: one recipient in To per mail, merge fields from the row (HTML escaped), a stable Message-ID per delivery', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  const smtp = await startSmtpServer();
  later(t, () => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port, address: 'news@example.jp', fromName: '郵便ニュース' });
  await ctx.repos.deliveries.write((trx) => ctx.repos.deliveries.addSuppressions(trx, [{ key: 'stop@example.jp', address: 'stop@example.jp' }], '配信停止の依頼', 'test', new Date().toISOString()));
  const bulk = new BulkDeliveryService(ctx);
  const created = await bulk.create('test', {
    accountId: f.accountId,
    subject: '{{氏名}}様へのお知らせ',
    text: '{{氏名}}様\n{{会社}}',
    html: '<p>{{氏名}}様</p><p>{{会社}}</p>',
    charset: 'iso-2022-jp',
    recipientsCsv: 'メールアドレス,氏名,会社\r\nyamada@example.jp,山田,"<株式会社>, 東京"\r\nsuzuki@example.jp,鈴木,㈱郵便\r\nstop@example.jp,停止,x\r\n',
  });
  assert.equal(created.total, 2);
  assert.deepEqual(created.skipped.map((s) => [s.row, s.reason]), [[4, 'suppressed']]);
  worker(t, ctx);
  await bulkUntil(ctx, created.id, (b) => b.status === 'done');
  assert.equal(smtp.mails.length, 2);
  const byTo = new Map(smtp.mails.map((m) => [m.to.join(','), m]));
  const yamada = await simpleParser(byTo.get('yamada@example.jp')!.raw);
  assert.equal(yamada.subject, '山田様へのお知らせ');
  assert.deepEqual(yamada.to && !Array.isArray(yamada.to) ? yamada.to.value.map((v) => v.address) : [], ['yamada@example.jp']);
  assert.equal(yamada.text?.trim(), '山田様\n<株式会社>, 東京');
  assert.match(yamada.html || '', /&#60;株式会社&#62;, 東京/);
  assert.deepEqual(yamada.from?.value, [{ name: '郵便ニュース', address: 'news@example.jp' }]);
  const items = (await bulk.recipients(created.id, {})).items;
  const delivery = await new DeliveryService(ctx).get(items[0]!.deliveryId);
  assert.equal(delivery.messageId, `<${delivery.id}@example.jp>`);
  assert.equal(delivery.subject, '山田様へのお知らせ');
  assert.ok((await new DeliveryService(ctx).raw(delivery.id)).equals(byTo.get('yamada@example.jp')!.raw));
});

test('a connection dropped in the middle of the pipeline: no recipient is marked sent that the server did not accept', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  // MAIL FROM and the first RCPT TO are answered 250, then the server is gone
  const smtp = await startScriptedServer({ dropAt: (line) => line.includes('<b@') });
  later(t, () => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port });
  worker(t, ctx, { sessions: 1 });
  const created = await new DeliveryService(ctx).create('test', { accountId: f.accountId, to: ['a@example.net', 'b@example.net', 'c@example.net'], subject: 's', text: 't' });
  const d = await settled(ctx, created.id);
  assert.deepEqual(
    d.recipients.map((r) => [r.address, r.status, r.attempts, r.error?.code]),
    [
      ['a@example.net', 'deferred', 1, 'CONNECTION_CLOSED'],
      ['b@example.net', 'deferred', 1, 'CONNECTION_CLOSED'],
      ['c@example.net', 'deferred', 1, 'CONNECTION_CLOSED'],
    ],
  );
  assert.equal(smtp.messages, 0);
});

test('bulk mail streams over one pipelined connection; a 421 after one mail sends the mail already on its way again on a new connection, each exactly once', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  const smtp = await startScriptedServer({ dataEnd: (n) => (n === 3 ? '421 4.7.0 Too many messages, closing connection' : `250 2.0.0 Ok: queued as ${n}`), closeAfterDataEnd: (r) => r.startsWith('421') });
  later(t, () => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port });
  const bulk = new BulkDeliveryService(ctx);
  const csv = ['email,name', ...Array.from({ length: 8 }, (_, i) => `r${i}@example.net,N${i}`)].join('\n');
  const { id } = await bulk.create('test', { accountId: f.accountId, subject: 'Hi {{name}}', text: 'Dear {{name}}\n', recipientsCsv: csv });
  worker(t, ctx, { sessions: 1 });
  const b = await bulkUntil(ctx, id, (x) => x.pending === 0 || (x.sent === 7 && x.pending === 1));
  const items = (await bulk.recipients(id, { limit: 100 })).items;
  const deferred = items.filter((r) => r.status === 'deferred');
  // the third mail got the 421 and waits for its retry; every other one was sent once
  assert.deepEqual([b.sent, deferred.length, deferred[0]?.code], [7, 1, 421]);
  assert.equal(smtp.connections, 2);
  assert.equal(smtp.messages, 8);
  // mails after the first of a connection followed the previous data in the same write
  assert.ok(smtp.packets.some((p) => p[0] === '<end of data>' && p[1]?.startsWith('MAIL FROM')));
});
