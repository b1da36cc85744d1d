// Stalled accounts in Chromium: the 受信停止 badge with its reason in the account list and
// on the account's page (Japanese, then English), and システム設定 › 受信停止の通知 with the
// API's field-named errors next to the recipients and the saved settings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { getNotificationSettings } from '../../src/ops/notification-settings.ts';
import { startStallMonitor } from '../../src/ops/stall-monitor.ts';
import { STALL_FAILURES } from '../../src/ops/stall-rules.ts';
import { addSendingAccount } from '../send/send-fixture.ts';
import { signIn, startUi } from './harness.ts';

test('stalled accounts: badge in the list and the detail; notification settings with field errors', async (t) => {
  const ui = await startUi(t);
  if (!ui) return;
  const { page, ctx } = ui;
  const stalled = await addSendingAccount(ctx, { port: 1, address: 'stuck@example.com' });
  const healthy = await addSendingAccount(ctx, { port: 1, address: 'fine@example.com' });
  await ctx.db.kysely.updateTable('mail_accounts').set({ consecutive_failures: STALL_FAILURES, last_run_at: new Date().toISOString(), last_error_code: 'AUTH_FAILED', last_error_message: 'wrong password' }).where('id', '=', stalled.accountId).execute();
  await ctx.db.kysely.updateTable('mail_accounts').set({ last_run_at: new Date().toISOString(), last_success_at: new Date().toISOString() }).where('id', '=', healthy.accountId).execute();
  await startStallMonitor(ctx, { intervalMs: 3_600_000, logger: pino({ level: 'silent' }) }).tick();

  await t.test('the list and the detail show 受信停止 with the reason', async () => {
    await signIn(ui);
    await page.goto(ui.baseUrl + '/settings/general/mail-accounts');
    const row = page.locator(`tr[data-account-id="${stalled.accountId}"]`);
    await row.getByTestId('stalled').waitFor();
    assert.equal(await row.getByTestId('stalled').textContent(), '受信停止');
    assert.match((await row.textContent()) ?? '', /5回続けて受信に失敗しました/);
    assert.equal(await page.locator(`tr[data-account-id="${healthy.accountId}"]`).getByTestId('stalled').count(), 0);
    await row.getByRole('link', { name: /Sender/ }).click();
    await page.getByTestId('stalled').waitFor();
    await ui.shot('account-stalled');
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByTestId('stalled').filter({ hasText: 'Stalled' }).waitFor();
    assert.match((await page.locator('.account-status').textContent()) ?? '', /five receive runs in a row failed \(since /);
    await page.getByRole('button', { name: '日本語' }).click();
    await page.getByTestId('stalled').filter({ hasText: '受信停止' }).waitFor();
  });

  await t.test('システム設定 › 受信停止の通知: a wrong address is named next to the field; then saved', async () => {
    await page.goto(ui.baseUrl + '/settings/general');
    await page.getByRole('link', { name: '受信停止の通知' }).click();
    await page.getByRole('heading', { name: '受信停止の通知', level: 1 }).waitFor();
    await page.getByLabel('通知を送るメールアカウント').selectOption({ value: healthy.accountId });
    await page.getByLabel('通知先メールアドレス').fill('ops@example.net\nnot an address');
    await page.getByRole('button', { name: '保存する' }).click();
    const recipients = page.locator('[data-field="recipients"] .field-error');
    await recipients.waitFor();
    assert.match((await recipients.textContent()) ?? '', /通知先メールアドレスが正しくありません: not an address/);
    assert.deepEqual(await getNotificationSettings(ctx), { accountId: null, recipients: [] }, 'nothing stored');
    await page.getByLabel('通知先メールアドレス').fill('ops@example.net\nadmin@example.org');
    await page.getByRole('button', { name: '保存する' }).click();
    await page.getByText('保存しました。').waitFor();
    assert.deepEqual(await getNotificationSettings(ctx), { accountId: healthy.accountId, recipients: ['ops@example.net', 'admin@example.org'] });
    await ui.shot('notification-settings');
  });
});
