// What a user of the account, bulk, audit log and OAuth pages noticed (no real mail server:
// a closed port, a Gmail account that is not connected, answers held back in the browser):
// server-worded texts follow a language switch; a failed 今すぐ受信 neither says "0 left on
// the server" nor shows OAuth's English; the connection test's details are not JSON; the
// audit log names the CLI's user, counts addresses in the UI's language and links a bulk
// delivery; an endpoint's error is not left folded away; 終了日時 shows up when a bulk
// delivery finishes; no mail server chosen is "required".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { receiveNow } from '../../src/receive/receive-service.ts';
import { BulkDeliveryService } from '../../src/send/bulk-service.ts';
import { SuppressionService } from '../../src/send/suppression-service.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { signIn, startUi } from './harness.ts';
import { closedPort } from '../support/closed-port.ts';


test('account, bulk, audit log and OAuth pages: what a user noticed', async (t) => {
  const ui = await startUi(t);
  if (!ui) return;
  const { page, ctx } = ui;
  const port = await closedPort();
  const server = await new MailServerService(ctx).add('test', {
    name: 'Nowhere',
    incoming: { protocol: 'pop3', host: '127.0.0.1', port, encryption: 'none' },
    outgoing: { host: '127.0.0.1', port, encryption: 'none', auth: { mechanism: null } },
  });
  const accounts = new MailAccountService(ctx);
  const broken = await accounts.add('test', { displayName: 'Broken', serverId: server.id, address: 'broken@example.com', username: 'b', password: 'pw' });
  const gmailServer = (await new MailServerService(ctx).list()).find((s) => s.preset === 'gmail')!;
  const gmail = await accounts.add('test', { displayName: 'Shop', serverId: gmailServer.id, address: 'shop@gmail.example' });
  await receiveNow(ctx, broken.id);
  await signIn(ui);

  await t.test('a language switch reads the accounts again: the last error in the new language', async () => {
    await page.goto(`${ui.baseUrl}/settings/general/mail-accounts`);
    const row = page.getByTestId('accounts').locator('tbody tr').filter({ hasText: 'broken@example.com' });
    await row.getByText(/^受信できませんでした/).waitFor();
    await page.getByRole('button', { name: 'English' }).click();
    await row.getByText(/^Receiving failed/).waitFor();
    await page.goto(`${ui.baseUrl}/settings/general/mail-accounts/${broken.id}`);
    await page.locator('.account-status').getByText(/^Receiving failed/).waitFor();
    await page.getByRole('button', { name: '日本語' }).click();
    await page.locator('.account-status').getByText(/^受信できませんでした/).waitFor();
  });

  await t.test('今すぐ受信 that fails: no "0 left on the server"; OAuth not connected in Japanese', async () => {
    await page.goto(`${ui.baseUrl}/settings/general/mail-accounts/${broken.id}`);
    await page.getByRole('button', { name: '今すぐ受信' }).click();
    await page.getByTestId('receive-summary').waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId('receive-summary').textContent(), 'メールは受信していません。');

    await page.goto(`${ui.baseUrl}/settings/general/mail-accounts/${gmail.id}`);
    await page.getByRole('button', { name: '今すぐ受信' }).click();
    await page.getByTestId('receive-summary').waitFor({ timeout: 30_000 });
    const notice = (await page.getByTestId('receive-summary').locator('..').textContent()) ?? '';
    assert.match(notice, /受信できませんでした: このメールアカウントはまだ接続されていません/);
    assert.doesNotMatch(notice, /not connected/);
  });

  await t.test('the connection test’s details are read as text, not JSON', async () => {
    await page.goto(`${ui.baseUrl}/settings/general/mail-accounts/${broken.id}`);
    await page.getByRole('button', { name: '接続テスト' }).click();
    const incoming = page.getByTestId('test-incoming');
    await incoming.waitFor({ timeout: 30_000 });
    await incoming.locator('[data-ok="false"]').first().waitFor();
    const details = (await incoming.locator('.details').allTextContents()).join('\n');
    assert.match(details, /ECONNREFUSED/);
    assert.doesNotMatch(details, /[{[]"/);
  });

  await t.test('the audit log: the CLI’s user, a count of addresses, a bulk delivery to open', async () => {
    await ctx.repos.audit.append(ctx.db.kysely, { actor: 'cli:root', action: 'mail_server.reorder', targetType: 'mail_server', targetId: null, targetName: null, fields: [] });
    await new SuppressionService(ctx).add('admin:admin', { addresses: ['a@example.com', 'b@example.com'] });
    const bulk = await new BulkDeliveryService(ctx).create('admin:admin', { accountId: broken.id, subject: 'Hello', text: 'Hi', recipientsCsv: 'email\nx@example.com\n' });
    await page.goto(`${ui.baseUrl}/settings/general/audit-log`);
    const rows = page.getByTestId('audit-log').locator('tbody tr');
    await rows.first().waitFor();
    const suppression = page.locator('tr[data-action="suppression.add"]').first();
    assert.equal(await suppression.locator('td').nth(3).textContent(), 'メールアドレス2件');
    const reorder = page.locator('tr[data-action="mail_server.reorder"]');
    assert.equal(await reorder.locator('td').nth(1).textContent(), 'コマンドライン（root）');
    await page.locator('tr[data-action="bulk_delivery.create"]').getByRole('link').waitFor();
    assert.ok(bulk.id);
  });

  await t.test('an endpoint’s error opens the folded endpoints', async () => {
    await page.goto(`${ui.baseUrl}/settings/general/oauth`);
    const exchange = page.getByTestId('oauth-provider-exchange_online');
    await exchange.getByLabel('クライアントID').fill('00000000-0000-0000-0000-000000000000');
    await exchange.getByText('エンドポイント（通常は変更不要').click();
    await exchange.getByLabel('トークンエンドポイント').fill('http://token.example/token');
    await exchange.getByText('エンドポイント（通常は変更不要').click();
    await exchange.getByRole('button', { name: '保存する' }).click();
    const error = exchange.locator('[data-field="endpoints.token"] .field-error');
    await error.waitFor({ state: 'visible' });
    assert.match((await error.textContent()) ?? '', /トークンエンドポイント/);
  });

  await t.test('no mail server chosen: "required", not "no such mail server: "', async () => {
    await page.goto(`${ui.baseUrl}/settings/general/mail-accounts/new`);
    await page.getByRole('button', { name: '追加する' }).click();
    await page.locator('[data-field="serverId"] .field-error').waitFor();
    assert.equal(await page.locator('[data-field="serverId"] .field-error').textContent(), 'メールサーバーを入力してください。');
  });

  await t.test('a bulk delivery that finishes: 終了日時 shows without a reload', async () => {
    const bulk = await new BulkDeliveryService(ctx).create('admin:admin', { accountId: broken.id, subject: 'Done soon', text: 'Hi', recipientsCsv: 'email\ny@example.com\n' });
    // the API says done as soon as nothing is pending; the finish time follows a moment later
    let reads = 0;
    await page.route(new RegExp(`/api/v1/bulk-deliveries/${bulk.id}$`), async (route) => {
      const res = await route.fetch();
      const b = (await res.json()) as Record<string, unknown>;
      reads++;
      const done = { ...b, status: 'done', sent: 1, pending: 0 };
      const body = reads === 1 ? b : reads === 2 ? { ...done, finishedAt: null } : { ...done, finishedAt: '2026-12-01T03:00:00.000Z' };
      await route.fulfill({ response: res, json: body });
    });
    await page.goto(`${ui.baseUrl}/bulk/${bulk.id}`);
    await page.locator('[data-testid="bulk-facts"] [data-status="done"]').waitFor();
    await page.getByTestId('bulk-facts').getByText('終了日時').waitFor();
    await page.unroute(new RegExp(`/api/v1/bulk-deliveries/${bulk.id}$`));
  });
});
