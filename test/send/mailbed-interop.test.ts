// Interop with real SMTP servers from the test harness (test/support/mailbed.ts): Postfix's
// smtp-sink takes a bulk delivery over parallel sessions; the aiosmtpd submission sink checks
// STARTTLS, implicit TLS and real AUTH, and keeps every message with its envelope, so the
// bytes stored as sent can be compared with the bytes the server received.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppContext } from '../../src/services/context.ts';
import { BulkDeliveryService } from '../../src/send/bulk-service.ts';
import { DeliveryService } from '../../src/send/delivery-service.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { startSendWorker } from '../../src/send/send-worker.ts';
import { contextFor } from '../support/app-context.ts';
import { testMailbed, type Mailbed } from '../support/mailbed.ts';
import { addSendingAccount, waitFor } from './send-fixture.ts';

async function bed(t: TestContext): Promise<Mailbed | undefined> {
  const m = await testMailbed();
  if (!m) t.skip('the mailbed (Dovecot, smtp-sink, python3-aiosmtpd) is not installed here');
  return m;
}

async function sendOne(ctx: AppContext, accountId: string, to: string): Promise<import('../../src/send/schemas.ts').Delivery> {
  const service = new DeliveryService(ctx);
  const { id } = await service.create('test', { accountId, to: [to], subject: '接続確認 ①', text: 'テスト送信です。\n', charset: 'iso-2022-jp' });
  return waitFor(`delivery ${id}`, async () => {
    const d = await service.get(id);
    return d.recipients.every((r) => r.status !== 'queued' && r.status !== 'sending') ? d : undefined;
  });
}

/** The submission sink's record of the message with this Message-ID. */
async function received(m: Mailbed, messageId: string): Promise<{ eml: Buffer; meta: { mail_from: string; rcpt_tos: string[]; login: string | null; tls: boolean } }> {
  return waitFor(`message ${messageId} in ${m.submitDir}`, async () => {
    for (const name of (await readdir(m.submitDir).catch(() => [] as string[])).filter((n) => n.endsWith('.eml'))) {
      const eml = await readFile(join(m.submitDir, name));
      if (!eml.includes(messageId)) continue;
      const meta = JSON.parse(await readFile(join(m.submitDir, name.replace(/\.eml$/, '.json')), 'utf8'));
      return { eml, meta };
    }
    return undefined;
  });
}

test('smtp-sink: a bulk delivery of 40 mails over 4 parallel sessions', async (t) => {
  const m = await bed(t);
  const ctx = m && (await contextFor(t, 'sqlite'));
  if (!m || !ctx) return;
  const f = await addSendingAccount(ctx, { port: m.ports.smtpSink });
  const csv = ['email,name', ...Array.from({ length: 40 }, (_, i) => `rcpt${i}@example.net,宛先${i}`)].join('\r\n');
  const bulk = new BulkDeliveryService(ctx);
  const { id } = await bulk.create('test', { accountId: f.accountId, subject: '{{name}}様', text: '{{name}}様\nお知らせです。', recipientsCsv: csv });
  const w = startSendWorker(ctx, { sessions: 4, pollIntervalMs: 50 });
  try {
    const done = await waitFor('the bulk delivery', async () => {
      const b = await bulk.get(id);
      return b.status === 'done' ? b : undefined;
    });
    assert.deepEqual([done.sent, done.failed], [40, 0]);
  } finally {
    await w.stop();
  }
  const items = (await bulk.recipients(id, { limit: 100 })).items;
  assert.ok(items.every((r) => r.status === 'sent' && r.code === 250), JSON.stringify(items[0]));
});

test('submission server: STARTTLS with AUTH PLAIN, implicit TLS with AUTH LOGIN; the sent bytes are the stored bytes', async (t) => {
  const m = await bed(t);
  const ctx = m && (await contextFor(t, 'sqlite'));
  if (!m || !ctx) return;
  const user = `send${process.pid}${Date.now() % 100000}`;
  await m.addUser(user, 'Pa55-word');
  const starttls = await addSendingAccount(ctx, { port: m.ports.submit, encryption: 'starttls', mechanism: 'PLAIN', username: user, password: 'Pa55-word', address: `${user}@example.jp` });
  const implicit = await addSendingAccount(ctx, {
    port: m.ports.smtps,
    encryption: 'tls',
    mechanism: 'LOGIN',
    useAccountCredentials: false,
    username: 'pop-only',
    password: 'not-this-one',
    smtpUsername: user,
    smtpPassword: 'Pa55-word',
    address: `${user}.tls@example.jp`,
  });
  const w = startSendWorker(ctx, { pollIntervalMs: 50, ca: m.ca });
  try {
    for (const [f, mechanism] of [
      [starttls, 'PLAIN'],
      [implicit, 'LOGIN'],
    ] as const) {
      const d = await sendOne(ctx, f.accountId, 'someone@example.net');
      assert.equal(d.status, 'sent', JSON.stringify(d.recipients));
      const got = await received(m, d.messageId!);
      assert.equal(got.meta.mail_from, f.address);
      assert.deepEqual(got.meta.rcpt_tos, ['someone@example.net']);
      assert.equal(got.meta.tls, true);
      assert.equal(got.meta.login, user, mechanism);
      assert.ok(got.eml.equals(await new DeliveryService(ctx).raw(d.id)), 'the server received other bytes than the stored ones');
    }
  } finally {
    await w.stop();
  }
});

test('submission server: a wrong password is a 535 that fails the mail and flags the account', async (t) => {
  const m = await bed(t);
  const ctx = m && (await contextFor(t, 'sqlite'));
  if (!m || !ctx) return;
  const user = `bad${process.pid}${Date.now() % 100000}`;
  await m.addUser(user, 'right');
  const f = await addSendingAccount(ctx, { port: m.ports.submit, encryption: 'starttls', mechanism: 'PLAIN', username: user, password: 'wrong' });
  const w = startSendWorker(ctx, { pollIntervalMs: 50, ca: m.ca });
  try {
    const d = await sendOne(ctx, f.accountId, 'someone@example.net');
    assert.equal(d.status, 'failed');
    assert.equal(d.recipients[0]!.code, 535);
    assert.equal(d.recipients[0]!.error?.code, 'AUTH_FAILED');
    assert.equal((await ctx.repos.deliveries.accountSendFlag(f.accountId)).flagged, true);
  } finally {
    await w.stop();
  }
});

test('smtp-sink: one mail to three recipients in one pipelined transaction; lines that start with a dot arrive byte for byte', async (t) => {
  const m = await bed(t);
  const ctx = m && (await contextFor(t, 'sqlite'));
  if (!m || !ctx) return;
  if (!m.smtpSinkDir) return assert.fail('the mailbed dumps smtp-sink mail by default');
  const f = await addSendingAccount(ctx, { port: m.ports.smtpSink });
  const service = new DeliveryService(ctx);
  const { id } = await service.create('test', { accountId: f.accountId, to: ['a@example.net', 'b@example.net', 'c@example.net'], subject: 'dots', text: '.one dot\n..two dots\n.\nafter a lone dot\n' });
  const w = startSendWorker(ctx, { pollIntervalMs: 50 });
  let d;
  try {
    d = await waitFor(`delivery ${id}`, async () => {
      const x = await service.get(id);
      return x.recipients.every((r) => r.status !== 'queued' && r.status !== 'sending') ? x : undefined;
    });
  } finally {
    await w.stop();
  }
  assert.deepEqual(d.recipients.map((r) => [r.address, r.status, r.code]), [
    ['a@example.net', 'sent', 250],
    ['b@example.net', 'sent', 250],
    ['c@example.net', 'sent', 250],
  ]);
  const raw = (await service.raw(id))!;
  const sinkDir = m.smtpSinkDir;
  // smtp-sink dumps with LF line ends
  const expected = Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
  const dump = await waitFor(`the dump of ${d.messageId}`, async () => {
    for (const name of await readdir(sinkDir).catch(() => [] as string[])) {
      const data = await readFile(join(sinkDir, name)).catch(() => undefined);
      if (data?.includes(d.messageId!)) return data;
    }
    return undefined;
  });
  assert.ok(dump.includes(expected), 'smtp-sink received other bytes than the stored ones');
});

test('server settings that cannot work (another protocol’s port, STARTTLS not offered): a bulk delivery pauses with the error and loses nothing; fixed and resumed, every mail goes', async (t) => {
  const m = await bed(t);
  const ctx = m && (await contextFor(t, 'sqlite'));
  if (!m || !ctx) return;
  const servers = new MailServerService(ctx);
  const bulk = new BulkDeliveryService(ctx);
  const w = startSendWorker(ctx, { sessions: 2, pollIntervalMs: 50 });
  try {
    for (const [wrong, code, detail] of [
      [{ port: m.ports.pop3, encryption: 'none' }, 'WRONG_PROTOCOL', /speaks POP3, not SMTP/],
      [{ port: m.ports.smtpSink, encryption: 'starttls' }, 'STARTTLS_UNSUPPORTED', /STARTTLS/],
    ] as const) {
      const f = await addSendingAccount(ctx, { port: wrong.port, encryption: wrong.encryption });
      const csv = ['email,name', ...Array.from({ length: 30 }, (_, i) => `rcpt${i}@example.net,宛先${i}`)].join('\r\n');
      const { id } = await bulk.create('test', { accountId: f.accountId, subject: '{{name}}様', text: 'お知らせです。', recipientsCsv: csv });
      const paused = await waitFor(`${code}: the bulk delivery paused`, async () => {
        const b = await bulk.get(id, 'ja');
        return b.status === 'paused' ? b : undefined;
      });
      assert.equal(paused.pauseReason, 'server_failed');
      assert.equal(paused.pauseError?.code, code);
      assert.match(paused.pauseError!.detail, detail);
      assert.match(paused.pauseError!.message, /^送信できませんでした: /);
      assert.deepEqual([paused.sent, paused.failed], [0, 0], 'nothing failed for the settings');
      // handed back unattempted: the first try after the fix is their first attempt
      const waiting = await waitFor('every recipient queued again', async () => {
        const items = (await bulk.recipients(id, { limit: 100 })).items;
        return items.every((r) => r.status === 'queued') ? items : undefined;
      });
      assert.ok(waiting.every((r) => r.attempts === 0), JSON.stringify(waiting[0]));

      await servers.change('test', f.serverId, { outgoing: { port: m.ports.smtpSink, encryption: 'none' } });
      const resumed = await bulk.resume('test', id);
      assert.equal(resumed.pauseError, null);
      const done = await waitFor(`${code}: the bulk delivery done after the fix`, async () => {
        const b = await bulk.get(id);
        return b.status === 'done' ? b : undefined;
      });
      assert.deepEqual([done.sent, done.failed], [30, 0]);
    }
  } finally {
    await w.stop();
  }
});
