// Unsubscribe links in Chromium: the bulk form says whether the mails carry one
// (YUBIN_UNSUBSCRIBE_URL) and offers {{unsubscribe_url}}, the preview shows the header and the
// link in the body; the mail that reaches smtp-server has the link; a recipient opening it
// (signed out) sees a confirmation page, presses the button and is on the suppression list;
// a changed link is refused. Without the setting the form says there is no link.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simpleParser } from 'mailparser';
import { startSendWorker } from '../../src/send/send-worker.ts';
import { SuppressionService } from '../../src/send/suppression-service.ts';
import { startSmtpServer } from '../protocols/smtp/smtp-test-servers.ts';
import { addSendingAccount, waitFor } from '../send/send-fixture.ts';
import { signIn, startUi } from './harness.ts';

test('unsubscribe links: the form, the preview, the mail, the recipient’s page and the suppression list', async (t) => {
  const ui = await startUi(t);
  if (!ui) return;
  const { page, ctx } = ui;
  const base = `${ui.baseUrl}/unsubscribe`;
  // as YUBIN_UNSUBSCRIBE_URL would set it (the port is known only now)
  ctx.config.unsubscribeUrl = base;
  const smtp = await startSmtpServer();
  t.after(() => smtp.close());
  await addSendingAccount(ctx, { port: smtp.port, address: 'news@example.com', fromName: 'お知らせ係' });
  const worker = startSendWorker(ctx, { pollIntervalMs: 50 });
  t.after(() => worker.stop());
  const text = async (testId: string) => ((await page.getByTestId(testId).textContent()) ?? '').trim();

  await signIn(ui);
  await page.goto(`${ui.baseUrl}/bulk`);
  await page.getByRole('heading', { name: '新しい一斉配信', level: 1 }).waitFor();
  await page.getByTestId('unsubscribe-note').waitFor();
  assert.match(await text('unsubscribe-note'), /^配信停止リンク: すべてのメールに.*\{\{unsubscribe_url\}\} と書くと/);
  assert.equal(await text('merge-field-unsubscribe'), '{{unsubscribe_url}}');

  await page.getByLabel('宛先CSV').setInputFiles({ name: 'list.csv', mimeType: 'text/csv', buffer: Buffer.from('email,name\nhanako@example.com,花子\n') });
  await page.getByTestId('csv-preview').waitFor();
  await page.getByLabel('件名').fill('{{name}}様へのお知らせ');
  await page.getByLabel('本文', { exact: true }).fill('{{name}}様\n配信停止はこちら: {{unsubscribe_url}}');
  assert.equal(await text('preview-unsubscribe'), `<${base}/…>`);
  assert.equal(await text('preview-text'), `花子様\n配信停止はこちら: ${base}/…`);
  assert.equal(await page.getByTestId('preview-missing').count(), 0);
  await ui.shot('bulk-unsubscribe-preview');
  await page.getByRole('button', { name: '配信を開始する' }).click();
  await page.waitForURL(/\/bulk\/[0-9a-f-]{36}$/);

  const mail = await waitFor('the mail at the SMTP server', async () => smtp.mails[0]);
  const parsed = await simpleParser(mail.raw);
  const link = /^List-Unsubscribe: <([^>]+)>$/.exec(parsed.headerLines.find((h) => h.key === 'list-unsubscribe')?.line ?? '')?.[1];
  if (!link?.startsWith(`${base}/`)) throw new Error(`no unsubscribe link in the mail: ${String(link)}`);
  assert.equal(parsed.text, `花子様\n配信停止はこちら: ${link}\n`);

  // the recipient, who has no session here
  await ui.context.clearCookies();
  await page.goto(link);
  await page.getByRole('heading', { name: '配信停止', level: 1 }).waitFor();
  assert.match((await page.locator('body').textContent()) ?? '', /hanako@example.com への一斉配信を停止します/);
  assert.deepEqual((await new SuppressionService(ctx).list()).items, [], 'opening the link changed something');
  await page.getByRole('button', { name: '配信を停止する' }).click();
  await page.locator('#done').waitFor();
  assert.match((await page.locator('#done').textContent()) ?? '', /hanako@example.com を配信停止リストに追加しました/);
  await ui.shot('unsubscribe-done');
  assert.deepEqual(
    (await new SuppressionService(ctx).list()).items.map((s) => [s.address, s.reason]),
    [['hanako@example.com', 'unsubscribe link']],
  );

  // a link cut short, as a mail client that wraps lines might
  const res = await page.goto(link.slice(0, -3));
  assert.equal(res?.status(), 404);
  assert.match((await page.locator('#invalid').textContent()) ?? '', /このリンクは無効です/);

  // without the setting the form says so, and offers no {{unsubscribe_url}}
  ctx.config.unsubscribeUrl = undefined;
  await signIn(ui);
  await page.goto(`${ui.baseUrl}/bulk`);
  await page.getByTestId('unsubscribe-note').waitFor();
  assert.match(await text('unsubscribe-note'), /^配信停止リンクは付きません（サーバーの YUBIN_UNSUBSCRIBE_URL が未設定）/);
  assert.equal(await page.getByTestId('merge-field-unsubscribe').count(), 0);

  // the audit log names who did it
  await page.goto(`${ui.baseUrl}/settings/general/audit-log`);
  const row = page.locator('tr', { hasText: '受信者（配信停止リンク）' });
  await row.first().waitFor();
  assert.match((await row.first().textContent()) ?? '', /hanako@example\.com/);
});
