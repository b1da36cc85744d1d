// 一斉配信 in Chromium against smtp-server on loopback, with the send worker running on a
// 3-second rate window: a Shift_JIS CSV previewed in the browser (its first rows, the rows
// skipped and why), a merge field that is not a column refused by the API next to the body,
// the mail to one recipient previewed with its fields merged, 配信を開始する → the progress
// bar advancing live to done with the per-minute limit in the estimate, the per-recipient
// list filtered by status, and 一時停止する / 再開する / 配信を中止する on a delivery held back
// by the limit. Also, without a browser: the preview's CSV reader and address check
// (web/src/pages/bulk-csv.ts) answer as the server's own (src/send/csv.ts, address.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { simpleParser } from 'mailparser';
import type { Page } from 'playwright-core';
import { normalizeRecipient } from '../../src/send/address.ts';
import { BulkDeliveryService } from '../../src/send/bulk-service.ts';
import { decodeCsv, parseCsv } from '../../src/send/csv.ts';
import { startSendWorker, type SendWorker } from '../../src/send/send-worker.ts';
import type { AppContext } from '../../src/services/context.ts';
import { decodeCsvBytes, normalizeAddress, parseCsvText } from '../../web/src/pages/bulk-csv.ts';
import { startSmtpServer } from '../protocols/smtp/smtp-test-servers.ts';
import { addSendingAccount, waitFor } from '../send/send-fixture.ts';
import { testMailbed } from '../support/mailbed.ts';
import { signIn, startUi } from './harness.ts';

/** Six rows: row 4 is not an address, row 6 repeats row 2's address in capitals. */
const CSV = [
  'email,name,plan',
  'taro@example.com,山田太郎,ゴールド',
  'hanako@example.com,佐藤花子,シルバー',
  'not-an-address,鈴木一郎,ゴールド',
  'jiro@example.com,田中次郎,ブロンズ',
  'TARO@example.com,山田太郎（重複）,ゴールド',
  'saburo@example.com,高橋三郎,シルバー',
].join('\r\n');

const field = (page: Page, path: string) => page.locator(`[data-field="${path}"]`);
const text = async (page: Page, testId: string) => ((await page.getByTestId(testId).textContent()) ?? '').trim();

/** Wait until the progress bar says `done` of the total are finished. */
async function progressAt(page: Page, done: number): Promise<void> {
  await page.locator(`[data-testid="progress-bar"][aria-valuenow="${done}"]`).waitFor({ timeout: 20_000 });
}

/** Wait until the recipient list shows exactly n rows with this status. */
async function recipientRows(page: Page, status: string, n: number): Promise<void> {
  // (the test runs without DOM types: the page's document is reached through globalThis)
  type Doc = { document: { querySelectorAll(selector: string): { length: number } } };
  await page.waitForFunction(
    ([s, want]) => (globalThis as unknown as Doc).document.querySelectorAll(`[data-testid="recipients"] tbody tr[data-status="${s}"]`).length === want,
    [status, n] as const,
  );
}

async function bulkStatus(ctx: AppContext, id: string): Promise<string> {
  return (await new BulkDeliveryService(ctx).get(id)).status;
}

test('bulk delivery: CSV preview, merge preview, start, live progress, filter, pause/resume/cancel', async (t) => {
  const ui = await startUi(t);
  if (!ui) return;
  const { page, ctx } = ui;
  const smtp = await startSmtpServer();
  const sender = await addSendingAccount(ctx, { port: smtp.port, perMinuteLimit: 2, address: 'news@example.com', fromName: 'お知らせ係', name: 'Loopback SMTP' });
  let worker: SendWorker | undefined;
  let bulkId = '';
  t.after(() => smtp.close());

  try {
    await t.test('the CSV is previewed in the browser: Shift_JIS decoded, first rows, skipped rows and why', async () => {
      await signIn(ui);
      await page.getByRole('banner').getByRole('link', { name: '一斉配信' }).click();
      await page.getByRole('heading', { name: '新しい一斉配信', level: 1 }).waitFor();
      assert.deepEqual(await page.getByRole('navigation', { name: 'パンくずリスト' }).locator('li').allTextContents(), ['一斉配信', '新しい一斉配信']);
      assert.match(await page.getByLabel('メールアカウント').inputValue(), new RegExp(sender.accountId));
      await page.getByLabel('宛先CSV').setInputFiles({ name: 'members.csv', mimeType: 'text/csv', buffer: iconv.encode(CSV, 'cp932') });

      await page.getByTestId('csv-preview').waitFor();
      assert.equal(await text(page, 'csv-summary'), 'members.csv（Shift_JIS）: 6行、送信予定 4件、スキップ 2件');
      const rows = page.getByTestId('first-rows').locator('tbody tr');
      assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-row'))), ['2', '3', '4', '5', '6']);
      assert.deepEqual(await rows.first().locator('td').allTextContents(), ['2', 'taro@example.com', '山田太郎', 'ゴールド']);
      assert.deepEqual(await page.getByTestId('first-rows').locator('thead th').allTextContents(), ['行', 'email', 'name', 'plan']);
      assert.equal(await page.getByLabel('メールアドレスの列').inputValue(), 'email');

      const skipped = page.getByTestId('expected-skipped').locator('tbody tr');
      assert.deepEqual(
        await skipped.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-row'), tr.getAttribute('data-reason'), [...tr.querySelectorAll('td')].map((td) => td.textContent)])),
        [
          ['4', 'invalid_address', ['4', 'not-an-address', 'メールアドレスが正しくありません。']],
          ['6', 'duplicate', ['6', 'TARO@example.com', '2行目と同じメールアドレスです。']],
        ],
      );
      assert.match(await text(page, 'merge-fields'), /\{\{name\}\}.*\{\{plan\}\}/);
      assert.match(await text(page, 'start-summary'), /4件の宛先に、1通ずつメールを送信します。.*1分間に2件まで/);
      await ui.shot('bulk-csv-preview');
    });

    await t.test('a merge field that is not a column: the API refuses, its message next to the body', async () => {
      await page.getByLabel('件名').fill('{{name}}様 {{plan}}会員のご案内');
      await page.getByLabel('本文', { exact: true }).fill('{{name}}様\n\n{{nickname}}さん、こんにちは。');
      assert.match(await text(page, 'preview-missing'), /\{\{nickname\}\}/);
      await page.getByRole('button', { name: '配信を開始する' }).click();
      const error = field(page, 'text').locator('.field-error');
      await error.waitFor();
      assert.match((await error.textContent()) ?? '', /本文の差し込み項目 \{\{nickname\}\} が宛先CSVの列にありません/);
      assert.equal(await field(page, 'subject').locator('.field-error').count(), 0);
      assert.equal((await ctx.db.kysely.selectFrom('bulk_deliveries').select('id').execute()).length, 0, 'nothing was queued');
      await ui.shot('bulk-merge-field-error');
      // the error was about the old text: editing the body takes it away, and the next
      // answer that names the body brings it back
      await page.getByLabel('本文', { exact: true }).fill('{{name}}様\n\n{{nick}}さん、こんにちは。');
      await error.waitFor({ state: 'detached' });
      assert.equal(await field(page, 'text').getAttribute('class'), 'form-row');
      await page.getByRole('button', { name: '配信を開始する' }).click();
      await field(page, 'text').locator('.field-error', { hasText: '{{nick}}' }).waitFor();
    });

    await t.test('the mail to one recipient, merged as it will be sent', async () => {
      await page.getByLabel('本文', { exact: true }).fill('{{name}}様\n\n{{plan}}会員の皆さまへのお知らせです。');
      assert.equal(await page.getByTestId('preview-missing').count(), 0);
      assert.equal(await text(page, 'preview-to'), 'taro@example.com');
      assert.equal(await text(page, 'preview-subject'), '山田太郎様 ゴールド会員のご案内');
      // the subject as it will be sent (src/mail/subject.ts): a vertical tab pasted in is a
      // space, and a blank subject is no subject
      await page.getByLabel('件名').fill('{{name}}様\v{{plan}}会員のご案内');
      assert.equal(await page.getByTestId('preview-subject').textContent(), '山田太郎様 ゴールド会員のご案内');
      await page.getByLabel('件名').fill(' \t ');
      assert.equal(await text(page, 'preview-subject'), '(件名なし)');
      await page.getByLabel('件名').fill('{{name}}様 {{plan}}会員のご案内');
      assert.equal(await text(page, 'preview-text'), '山田太郎様\n\nゴールド会員の皆さまへのお知らせです。');
      await page.getByLabel('プレビューする宛先').selectOption({ label: '3行目: hanako@example.com' });
      assert.equal(await text(page, 'preview-to'), 'hanako@example.com');
      assert.equal(await text(page, 'preview-subject'), '佐藤花子様 シルバー会員のご案内');
      assert.match(await text(page, 'preview-text'), /^佐藤花子様\n\nシルバー会員/);
      // the rows the server will skip are not offered
      assert.deepEqual(
        await page.getByLabel('プレビューする宛先').locator('option').allTextContents(),
        ['2行目: taro@example.com', '3行目: hanako@example.com', '5行目: jiro@example.com', '7行目: saburo@example.com'],
      );
      await ui.shot('bulk-mail-preview');
    });

    await t.test('返信先（Reply-To）: shown in the preview; one that is not an address is refused next to the field, nothing queued', async () => {
      const replyTo = page.getByLabel('返信先（Reply-To）');
      await replyTo.fill('support at example.com');
      assert.equal(await text(page, 'preview-reply-to'), 'support at example.com');
      await page.getByRole('button', { name: '配信を開始する' }).click();
      const error = field(page, 'replyTo').locator('.field-error');
      await error.waitFor();
      assert.equal(await error.textContent(), '返信先（Reply-To）のメールアドレスが正しくありません: support at example.com');
      assert.equal((await ctx.db.kysely.selectFrom('bulk_deliveries').select('id').execute()).length, 0, 'nothing was queued');
      await replyTo.fill('support@example.com');
      assert.equal(await text(page, 'preview-reply-to'), 'support@example.com');
    });

    await t.test('配信を開始する: the progress page, the estimate under the per-minute limit, the bar advancing live to done', async () => {
      await page.getByRole('button', { name: '配信を開始する' }).click();
      await page.waitForURL(/\/bulk\/[0-9a-f-]{36}$/);
      bulkId = new URL(page.url()).pathname.split('/').pop()!;
      await page.getByRole('heading', { name: '一斉配信の状況', level: 1 }).waitFor();
      // the worker is not running yet: nothing sent, all four pending, the estimate shown
      await page.getByTestId('estimate').waitFor();
      assert.equal(await page.getByTestId('progress-bar').getAttribute('aria-valuenow'), '0');
      assert.equal(await page.getByTestId('progress-bar').getAttribute('aria-valuemax'), '4');
      assert.match(await text(page, 'estimate'), /^完了予定: .+ごろ（残り4件、1分間に2件まで送信）$/);
      assert.equal(await text(page, 'rate-limit'), '2件');
      assert.equal(await page.getByTestId('count-pending').getAttribute('data-count'), '4');
      assert.equal(await page.getByTestId('count-skipped').getAttribute('data-count'), '2');
      assert.deepEqual(
        await page.getByTestId('skipped').locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-row'), tr.getAttribute('data-reason'), tr.querySelectorAll('td')[2]?.textContent])),
        [
          ['4', 'invalid_address', 'メールアドレスが正しくありません。'],
          ['6', 'duplicate', '2行目と同じメールアドレスです。'],
        ],
      );
      assert.equal(await page.locator('[data-testid="bulk-facts"] [data-status]').textContent(), '配信中');
      assert.equal(await text(page, 'bulk-reply-to'), 'support@example.com');
      await ui.shot('bulk-progress-start');

      worker = startSendWorker(ctx, { rateWindowMs: 3000, pollIntervalMs: 100 });
      await progressAt(page, 4);
      await page.locator('[data-testid="bulk-facts"] [data-status="done"]').waitFor();
      assert.equal(await page.getByTestId('count-sent').getAttribute('data-count'), '4');
      assert.equal(await page.getByTestId('count-failed').getAttribute('data-count'), '0');
      assert.equal(await page.getByTestId('count-pending').getAttribute('data-count'), '0');
      assert.equal(await page.getByTestId('count-skipped').getAttribute('data-count'), '2');
      assert.equal(await page.getByTestId('estimate').count(), 0);
      assert.equal(await page.getByTestId('bulk-actions').count(), 0, 'nothing to pause or cancel when done');
      await ui.shot('bulk-progress-done');

      // what reached the SMTP server: one mail per recipient, merged
      assert.deepEqual(smtp.mails.map((m) => m.to.join()).sort(), ['hanako@example.com', 'jiro@example.com', 'saburo@example.com', 'taro@example.com']);
      const taro = smtp.mails.find((m) => m.to[0] === 'taro@example.com')!;
      const parsed = await simpleParser(taro.raw);
      assert.equal(parsed.subject, '山田太郎様 ゴールド会員のご案内');
      assert.match(parsed.text ?? '', /ゴールド会員の皆さまへのお知らせです。/);
      assert.equal(parsed.from?.value[0]?.address, 'news@example.com');
      assert.deepEqual(smtp.mails.map((m) => /^Reply-To: (.*)$/m.exec(m.raw.toString('latin1').split('\r\n\r\n')[0]!)?.[1]), Array(4).fill('support@example.com'));
    });

    await t.test('the per-recipient list, filtered by status', async () => {
      const rows = page.getByTestId('recipients').locator('tbody tr');
      await rows.nth(3).waitFor();
      assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-row'), tr.getAttribute('data-status')])), [
        ['2', 'sent'],
        ['3', 'sent'],
        ['5', 'sent'],
        ['7', 'sent'],
      ]);
      assert.match((await rows.first().textContent()) ?? '', /taro@example\.com送信済み1/);
      await page.getByLabel('状態で絞り込む').selectOption({ label: '失敗' });
      await page.getByText('該当する宛先はありません。').waitFor();
      await page.getByLabel('状態で絞り込む').selectOption({ label: '送信済み' });
      await rows.nth(3).waitFor();
      assert.equal(await rows.count(), 4);
    });

    await t.test('一時停止する / 再開する / 配信を中止する on a delivery held back by the limit', async () => {
      const recipients = Array.from({ length: 8 }, (_, i) => `m${i + 1}@example.org,会員${i + 1}`);
      const created = await new BulkDeliveryService(ctx).create('admin:admin', {
        accountId: sender.accountId,
        subject: '{{name}}様へ',
        text: 'お知らせです。',
        recipientsCsv: ['email,name', ...recipients].join('\n'),
      });
      await page.goto(`${ui.baseUrl}/bulk/${created.id}`);
      await page.getByRole('heading', { name: '一斉配信の状況' }).waitFor();

      await page.getByRole('button', { name: '一時停止する' }).click();
      await page.locator('[data-testid="bulk-facts"] [data-status="paused"]').waitFor();
      assert.equal(await bulkStatus(ctx, created.id), 'paused');
      await page.getByTestId('estimate').filter({ hasText: /^再開すると、残り\d+件の送信に約\d+分かかります（1分間に2件まで送信）。$/ }).waitFor();
      // the mail in flight when paused finishes; then the count holds
      const held = await waitFor('in-flight mails to finish', async () => {
        const counts = await ctx.repos.deliveries.bulkCounts(created.id);
        return counts.sending === 0 ? counts : undefined;
      });
      assert.ok(held.queued + held.deferred > 0, 'paused before the limit let everything out');
      await ui.shot('bulk-paused');

      await page.getByRole('button', { name: '再開する' }).click();
      await page.locator('[data-testid="bulk-facts"] [data-status="running"]').waitFor();
      assert.equal(await bulkStatus(ctx, created.id), 'running');
      await waitFor('a mail sent after resuming', async () => ((await ctx.repos.deliveries.bulkCounts(created.id)).sent > held.sent ? true : undefined));

      await page.getByRole('button', { name: '配信を中止する' }).click();
      await page.getByText(/^まだ送信していない\d+件の送信を中止しますか？/).waitFor();
      await page.getByRole('button', { name: 'はい' }).click();
      await page.locator('[data-testid="bulk-facts"] [data-status="cancelled"]').waitFor();
      assert.equal(await bulkStatus(ctx, created.id), 'cancelled');
      assert.equal(await page.getByTestId('bulk-actions').count(), 0);
      // a mail in flight when cancelled still goes out
      const b = await waitFor('the mail in flight', async () => {
        const now = await new BulkDeliveryService(ctx).get(created.id);
        return now.pending === 0 ? now : undefined;
      });
      assert.ok(b.cancelled > 0 && b.sent > 0, `some sent (${b.sent}) and the rest cancelled (${b.cancelled})`);
      assert.equal(b.sent + b.failed + b.cancelled, 8);
      await progressAt(page, 8);
      assert.equal(await page.getByTestId('count-cancelled').getAttribute('data-count'), String(b.cancelled));

      const rows = page.getByTestId('recipients').locator('tbody tr');
      await page.getByLabel('状態で絞り込む').selectOption({ label: '中止' });
      await recipientRows(page, 'cancelled', b.cancelled);
      assert.equal(await rows.count(), b.cancelled);
      await page.getByLabel('状態で絞り込む').selectOption({ label: '送信済み' });
      await recipientRows(page, 'sent', b.sent);
      assert.equal(await rows.count(), b.sent);
      await ui.shot('bulk-cancelled');
    });

    await t.test('the recent bulk deliveries link to their progress, and the page reads in English', async () => {
      await page.getByRole('banner').getByRole('link', { name: '一斉配信' }).click();
      const recent = page.getByTestId('recent').locator('tbody tr');
      await recent.nth(1).waitFor();
      assert.equal(await recent.count(), 2);
      assert.equal(await recent.nth(1).getAttribute('data-bulk-id'), bulkId);
      assert.match((await recent.nth(1).textContent()) ?? '', /\{\{name\}\}様 \{\{plan\}\}会員のご案内news@example\.com完了4 \/ 4/);
      await recent.nth(1).getByRole('link').click();
      await page.getByRole('heading', { name: '一斉配信の状況' }).waitFor();

      await page.getByRole('button', { name: 'English' }).click();
      await page.getByRole('heading', { name: 'Bulk delivery status', level: 1 }).waitFor();
      assert.equal(await page.locator('[data-testid="bulk-facts"] [data-status]').textContent(), 'Done');
      assert.equal(await page.getByRole('banner').getByRole('link', { name: 'Bulk delivery' }).count(), 1);
      // the reasons come from the API in the UI's language: read again after the switch (CI
      // once read the Japanese ones in between)
      await page.getByTestId('skipped').getByText('The same address as row 2.').waitFor();
      assert.match((await page.getByTestId('skipped').textContent()) ?? '', /The mail address is not valid\..*The same address as row 2\./);
      await page.getByRole('button', { name: '日本語' }).click();
    });

    await t.test('a mail server whose settings cannot work (the POP3 port of a real Dovecot): the delivery pauses, says why and links to the server', async () => {
      const bed = await testMailbed();
      assert.ok(bed, 'the mailbed runs wherever the browser tests run');
      const wrong = await addSendingAccount(ctx, { port: bed.ports.pop3, name: 'POP3 port by mistake' });
      const created = await new BulkDeliveryService(ctx).create('admin:admin', {
        accountId: wrong.accountId,
        subject: '{{name}}様へ',
        text: 'お知らせです。',
        recipientsCsv: ['email,name', 'a@example.org,会員A', 'b@example.org,会員B'].join('\n'),
      });
      await page.goto(`${ui.baseUrl}/bulk/${created.id}`);
      await page.getByRole('heading', { name: '一斉配信の状況' }).waitFor();
      await page.getByTestId('server-paused').waitFor();
      await page.locator('[data-testid="bulk-facts"] [data-status="paused"]').waitFor();
      const notice = page.getByTestId('server-paused').locator('..');
      await notice.getByText(/このポートでは別のプロトコルのサーバーが応答しました/).waitFor();
      assert.equal(await notice.getByRole('link', { name: 'メールサーバーの設定を確認する' }).getAttribute('href'), `/settings/general/mail-servers/${wrong.serverId}/edit`);
      assert.equal(await page.getByTestId('count-failed').getAttribute('data-count'), '0');
      assert.equal(await text(page, 'estimate'), '一時停止中です。再開すると、残り2件をできるだけ早く送信します（1分間の送信件数の制限なし）。');
      await ui.shot('bulk-server-paused');
    });
  } finally {
    // here, not in t.after: the harness closes the context the worker writes to first
    await worker?.stop();
  }
});

test('the preview reads a CSV as the server does (web/src/pages/bulk-csv.ts against src/send/csv.ts)', () => {
  const piece = fc.constantFrom('a', 'b', 'x@y.jp', '山田', '"', '""', ',', '\n', '\r', '\r\n', ' ', '', '\uFEFF', 'email', 'name');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
      const input = pieces.join('');
      assert.deepEqual(parseCsvText(input), parseCsv(input));
    }),
    { numRuns: 2000 },
  );
  const chars = fc.constantFrom(...'aZ09,"\r\n 山田太郎①㈱髙﨑ｱｲｳー・～－¢£¬'.split(''), '\u00e9', '\u{1F600}');
  // a file as a spreadsheet writes it: each encoding with its own BOM or none; UTF-16 maybe cut short by a byte
  const kind = fc.constantFrom<[number[], string]>([[], 'utf8'], [[], 'cp932'], [[0xef, 0xbb, 0xbf], 'utf8'], [[0xff, 0xfe], 'utf16le'], [[0xfe, 0xff], 'utf16be']);
  fc.assert(
    fc.property(fc.array(chars, { maxLength: 30 }), kind, fc.boolean(), (cs, [bom, enc], cut) => {
      const body = cs.join('');
      if (enc === 'cp932' && iconv.decode(iconv.encode(body, 'cp932'), 'cp932') !== body) return; // not in Shift_JIS
      let bytes = Buffer.concat([Buffer.from(bom), iconv.encode(body, enc)]);
      if (cut && enc.startsWith('utf16') && bytes.length > 2) bytes = bytes.subarray(0, bytes.length - 1);
      assert.deepEqual(decodeCsvBytes(new Uint8Array(bytes)), decodeCsv(bytes));
    }),
    { numRuns: 1000 },
  );
});

test('the preview skips the addresses the server skips (web/src/pages/bulk-csv.ts against src/send/address.ts)', () => {
  const local = fc.constantFrom('taro', 'T.Yamada', 'a+b', 'x..y', '.', '"q"', 'a b', 'é', '山田', "o'neil", '-', '_', '(c)', 'a'.repeat(65));
  const label = fc.constantFrom('example', 'EXAMPLE', 'co', 'jp', 'com', '例え', 'テスト', 'ｅｘａｍｐｌｅ', 'xn--r8jz45g', 'xn--zz', '0x10', '123', '-a', 'a-', 'a_b', 'a%41', 'a:1', '[1', 'a/b', 'a?', 'a#', '', 'x'.repeat(64), 'ß', 'İ');
  const address = fc.tuple(fc.constantFrom('', ' '), local, fc.constantFrom('@', '@@', ''), fc.array(label, { minLength: 0, maxLength: 4 }), fc.constantFrom('', '.', ' '));
  fc.assert(
    fc.property(address, ([lead, l, at, labels, tail]) => {
      const raw = `${lead}${l}${at}${labels.join('.')}${tail}`;
      assert.equal(normalizeAddress(raw), normalizeRecipient(raw), raw);
    }),
    { numRuns: 5000 },
  );
  for (const raw of ['taro@example.com', ' Taro@Example.COM ', 'taro..yamada@docomo.ne.jp', 'info@例え.テスト', 'not-an-address', 'a@b', 'a@1.2.3.4', 'a@example.0x10', '@example.com', 'a@']) {
    assert.equal(normalizeAddress(raw), normalizeRecipient(raw), raw);
  }
});
