// `yubin send` and `yubin bulk create` as a real child process on a temporary SQLite data
// folder, sending to an smtp-server in this test process. (Each child process costs seconds
// of start-up, so the server and account are set up in-process on the same folder.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { pino } from 'pino';
import { progressLine } from '../../src/cli/commands/bulk.ts';
import type { BulkDelivery } from '../../src/send/schemas.ts';
import { BulkDeliveryService } from '../../src/send/bulk-service.ts';
import { openContext } from '../../src/services/context.ts';
import { runCli } from '../support/cli.ts';
import { startScriptedServer, startSmtpServer } from '../protocols/smtp/smtp-test-servers.ts';
import { addSendingAccount } from './send-fixture.ts';

test('the progress bar of yubin bulk status', () => {
  const b = { status: 'running', total: 10, sent: 5, failed: 1, pending: 4, cancelled: 0, pauseReason: null } as BulkDelivery;
  assert.equal(progressLine(b), `[${'█'.repeat(18)}${'░'.repeat(12)}]  60%  sent 5  failed 1  pending 4 / 10  running`);
  assert.equal(progressLine({ ...b, status: 'paused', sent: 0, failed: 0, pending: 10, pauseReason: 'auth_failed' }), `[${'░'.repeat(30)}]   0%  sent 0  failed 0  pending 10 / 10  paused  (auth_failed)`);
});

test('yubin send sends at once; yubin bulk create reads a Shift_JIS CSV, reports skipped rows, --wait sends it with progress', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-send-cli-'));
  const smtp = await startSmtpServer();
  t.after(async () => {
    await smtp.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const env = { YUBIN_DATA_DIR: dir, YUBIN_LANG: 'ja' };
  const ctx = await openContext({ dataDir: dir, databaseUrl: undefined, secretKey: undefined, host: '127.0.0.1', port: 0 }, { log: pino({ level: 'silent' }) });
  t.after(() => ctx.close());
  await addSendingAccount(ctx, { port: smtp.port, address: 'info@example.jp', fromName: 'インフォ' });

  const send = await runCli(
    ['send', '--json', '--account', 'info@example.jp', '--to', 'a@example.net', '--cc', 'b@example.net', '--subject', 'CLIから', '--text', '本文', '--reply-to', 'support@example.jp', '--in-reply-to', 'q-2@example.net', '--references', '<q-0@example.net> q-1@example.net', '--references', '<q-2@example.net>'],
    { env },
  );
  assert.equal(send.code, 0, send.stderr);
  const d = JSON.parse(send.stdout);
  assert.equal(d.status, 'sent');
  assert.deepEqual(d.recipients.map((r: { status: string; code: number }) => [r.status, r.code]), [
    ['sent', 250],
    ['sent', 250],
  ]);
  assert.deepEqual(smtp.mails.map((m) => m.to), [['a@example.net', 'b@example.net']]);
  const sentHead = smtp.mails[0]!.raw.toString('latin1').split('\r\n\r\n')[0]!;
  assert.match(sentHead, /^Reply-To: support@example\.jp$/m);
  assert.match(sentHead, /^In-Reply-To: <q-2@example\.net>$/m);
  assert.match(sentHead, /^References: <q-0@example\.net> <q-1@example\.net> <q-2@example\.net>$/m);

  const csvFile = join(dir, 'list.csv');
  writeFileSync(csvFile, iconv.encode('メールアドレス,氏名\r\nyamada@example.jp,山田\r\nyamada@example.jp,重複\r\nsuzuki@example.jp,鈴木\r\n', 'cp932'));
  const created = await runCli(['bulk', 'create', '--json', '--account', 'info@example.jp', '--csv', csvFile, '--subject', '{{氏名}}様', '--text', '{{氏名}}様、こんにちは'], { env });
  assert.equal(created.code, 0, created.stderr);
  const bulk = JSON.parse(created.stdout);
  assert.equal(bulk.total, 2);
  // the human output names the stored Reply-To and the unsubscribe links the mails will carry
  const told = await runCli(['bulk', 'create', '--account', 'info@example.jp', '--csv', csvFile, '--subject', 's', '--text', 'x', '--reply-to', 'Help@Example.JP'], {
    env: { ...env, YUBIN_UNSUBSCRIBE_URL: 'https://news.example.jp/unsubscribe/' },
  });
  assert.equal(told.code, 0, told.stderr);
  assert.match(told.stdout, /^一斉配信 \S+: 2件の宛先を送信待ちにしました。\n返信先（Reply-To）: Help@example\.jp\n配信停止リンク（List-Unsubscribe）付き: https:\/\/news\.example\.jp\/unsubscribe\/…\n/);
  await new BulkDeliveryService(ctx).cancel('test', /^一斉配信 (\S+):/.exec(told.stdout)![1]!);
  assert.deepEqual(bulk.skipped.map((s: { row: number; reason: string; message: string }) => [s.row, s.reason, s.message]), [[3, 'duplicate', '2行目と同じメールアドレスです。']]);

  const waited = await runCli(['bulk', 'create', '--wait', '--account', 'info@example.jp', '--csv', csvFile, '--subject', '{{氏名}}様', '--text', 'x', '--reply-to', 'Support@Example.jp'], { env });
  assert.equal(waited.code, 0, waited.stderr);
  // in Japanese (YUBIN_LANG=ja), the web UI's words with the status code kept
  assert.match(waited.stdout, /\[█{30}\] 100%\s+送信済み 2\s+失敗 0\s+未送信 0 \/ 2\s+完了 \(done\)/);
  assert.match(waited.stdout, /3行目: yamada@example.jp — 2行目と同じメールアドレスです。/);
  // stderr is not a terminal here: the progress comes as lines, the last one final
  assert.match(waited.stderr, /送信済み 2 {2}失敗 0 {2}未送信 0 \/ 2 {2}完了 \(done\)\n$/);
  // the --wait worker sent the first bulk delivery too: each mail once
  const first = await ctx.repos.deliveries.bulkCounts(bulk.id);
  assert.equal(first.sent, 2);
  assert.equal(smtp.mails.length, 1 + 2 + 2);
  assert.deepEqual(smtp.mails.slice(1).map((m) => m.to[0]).sort(), ['suzuki@example.jp', 'suzuki@example.jp', 'yamada@example.jp', 'yamada@example.jp']);
  // --reply-to: every mail of the second bulk delivery, none of the first
  const replyTo = smtp.mails.slice(1).map((m) => /^Reply-To: (.*)$/m.exec(m.raw.toString('latin1').split('\r\n\r\n')[0]!)?.[1] ?? null);
  assert.deepEqual(replyTo.sort(), ['Support@example.jp', 'Support@example.jp', null, null]);
});

test('yubin send exits 1 when any recipient failed, 0 when the rest were only deferred (queued for a retry: not to be sent again)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-send-cli-'));
  // RCPT TO by address: one accepted, one deferred (451), one refused (550)
  const smtp = await startScriptedServer({ rcpt: (line) => (line.includes('later@') ? '451 4.3.0 try again later' : line.includes('gone@') ? '550 5.1.1 no such user' : '250 2.1.5 Ok') });
  t.after(async () => {
    await smtp.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const env = { YUBIN_DATA_DIR: dir, YUBIN_LANG: 'en' };
  const ctx = await openContext({ dataDir: dir, databaseUrl: undefined, secretKey: undefined, host: '127.0.0.1', port: 0 }, { log: pino({ level: 'silent' }) });
  t.after(() => ctx.close());
  await addSendingAccount(ctx, { port: smtp.port, address: 'info@example.jp' });
  const send = (to: string[]) => runCli(['send', '--json', '--account', 'info@example.jp', ...to.flatMap((a) => ['--to', a]), '--subject', 's', '--text', 'x'], { env });
  const statuses = (out: string) => (JSON.parse(out) as { recipients: { address: string; status: string }[] }).recipients.map((r) => [r.address, r.status]);

  const deferred = await send(['ok@example.net', 'later@example.net']);
  assert.equal(deferred.code, 0, deferred.stderr);
  assert.deepEqual(statuses(deferred.stdout), [
    ['ok@example.net', 'sent'],
    ['later@example.net', 'deferred'],
  ]);
  const failed = await send(['ok@example.net', 'later@example.net', 'gone@example.net']);
  assert.equal(failed.code, 1, failed.stderr);
  assert.equal(JSON.parse(failed.stdout).status, 'deferred', 'the mail as a whole is still in progress');
  assert.deepEqual(statuses(failed.stdout), [
    ['ok@example.net', 'sent'],
    ['later@example.net', 'deferred'],
    ['gone@example.net', 'failed'],
  ]);
});
