// The mail account pages in Chromium against real protocol peers on loopback (the
// fake POP3 server and smtp-server): add/change with the leave-on-server choice and
// the API's field errors, the connection test's stages, 今すぐ受信 with an oversize
// notice, the list's last receive time and status (error, backlog warning), delete.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { runConnectionTest } from '../../src/receive/receive-service.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { serveMailbox, startFakePop3Server } from '../protocols/pop3/fake-pop3-server.ts';
import { startSmtpServer } from '../protocols/smtp/smtp-test-servers.ts';
import { signIn, startUi } from './harness.ts';
import { closedPort } from '../support/closed-port.ts';

const mail = (i: number, body = `body ${i}`) =>
  Buffer.from(`From: Sender ${i} <s${i}@example.org>\r\nTo: support@example.com\r\nSubject: hello ${i}\r\nMessage-ID: <m${i}@example.org>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0900\r\n\r\n${body}\r\n`);

const field = (page: Page, path: string) => page.locator(`[data-field="${path}"]`);


test('mail accounts: add/change with leave-on-server, connection test, receive now, status, delete', async (t) => {
  const ui = await startUi(t);
  if (!ui) return;
  const { page } = ui;
  const big = mail(3, 'x'.repeat(6000));
  const pop3 = await startFakePop3Server((s) => serveMailbox(s, { messages: [mail(1), mail(2), big], user: 'alice', pass: 'alice-pw' }));
  const smtp = await startSmtpServer({ allowInsecureAuth: true, onAuth: (auth, _s, cb) => cb(null, { user: auth.username }) });
  t.after(async () => {
    await pop3.close();
    await smtp.close();
  });
  const server = await new MailServerService(ui.ctx).add('test', {
    name: 'Loopback',
    incoming: { protocol: 'pop3', host: '127.0.0.1', port: pop3.port, encryption: 'none', maxMessageBytes: 4000 },
    outgoing: { host: '127.0.0.1', port: smtp.port, encryption: 'none', auth: { mechanism: 'PLAIN', useAccountCredentials: true } },
  });
  const accounts = new MailAccountService(ui.ctx);
  let accountId = '';

  await t.test('add through the form: the API field error next to the leave-on-server days, values kept', async () => {
    await signIn(ui);
    await page.getByRole('button', { name: '設定メニュー' }).click();
    await page.getByRole('menuitem', { name: 'システム設定' }).click();
    await page.getByRole('link', { name: 'メールアカウント', exact: true }).click();
    await page.getByRole('heading', { name: 'メールアカウント', level: 1 }).waitFor();
    assert.deepEqual(await page.getByRole('navigation', { name: 'パンくずリスト' }).locator('li').allTextContents(), ['システム設定', '全般', 'メールアカウント']);
    await page.getByRole('link', { name: '追加する' }).click();
    await page.getByRole('heading', { name: 'メールアカウントの追加' }).waitFor();
    await page.getByLabel('表示名').fill('Support');
    await page.getByLabel('メールアドレス').fill('support@example.com');
    await page.getByLabel('メールサーバー', { exact: true }).selectOption({ label: 'Loopback' });
    await page.getByLabel('ユーザー名').fill('alice');
    await page.getByLabel('パスワード', { exact: true }).fill('alice-pw');
    assert.match((await page.getByTestId('leave-warning').textContent()) ?? '', /サーバーに残す設定を推奨していません/);
    assert.equal(await page.getByRole('radio', { name: '削除する（推奨）' }).isChecked(), true, 'do not leave on server is the default');
    await page.getByLabel('メールをサーバーに残す日数').fill('0');
    assert.equal(await page.getByRole('radio', { name: 'N日後に削除' }).isChecked(), true);
    await page.getByRole('button', { name: '追加する' }).click();
    const error = field(page, 'leaveOnServer.days').locator('.field-error');
    await error.waitFor();
    assert.match((await error.textContent()) ?? '', /メールをサーバーに残す日数/);
    assert.equal(await page.getByLabel('表示名').inputValue(), 'Support');
    assert.equal(await page.getByLabel('パスワード', { exact: true }).inputValue(), 'alice-pw');
    assert.equal((await accounts.list()).length, 0);
    await ui.shot('mail-account-form-error');

    await page.getByLabel('メールをサーバーに残す日数').fill('7');
    await page.getByRole('button', { name: '追加する' }).click();
    await page.getByRole('heading', { name: 'Support <support@example.com>' }).waitFor();
    const [stored] = await accounts.list();
    assert.ok(stored);
    accountId = stored.id;
    assert.deepEqual(stored.leaveOnServer, { mode: 'days', days: 7 });
    assert.equal(stored.serverId, server.id);
    assert.equal((await accounts.credentials(accountId)).password, 'alice-pw');
  });

  await t.test('接続テスト shows each stage as the API reports it', async () => {
    await page.getByRole('button', { name: '接続テスト' }).click();
    const incoming = page.getByTestId('test-incoming');
    await incoming.waitFor({ timeout: 30_000 });
    const expected = await runConnectionTest(ui.ctx, accountId, 'ja');
    for (const [side, stages] of [
      ['test-incoming', expected.incoming],
      ['test-outgoing', expected.outgoing],
    ] as const) {
      const rows = page.getByTestId(side).locator('tr');
      assert.deepEqual(
        await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-stage'), tr.getAttribute('data-ok')])),
        stages.map((s) => [s.stage, String(s.ok)]),
      );
      for (const [i, s] of stages.entries()) assert.match((await rows.nth(i).textContent()) ?? '', new RegExp(escape(s.message.slice(0, 20))));
    }
    assert.ok(expected.incoming.some((s) => s.stage === 'auth' && s.ok), 'POP3 login passed');
    assert.ok(expected.outgoing.some((s) => s.stage === 'auth' && s.ok), 'SMTP AUTH passed');
    await ui.shot('mail-account-test');
  });

  await t.test('今すぐ受信: two mails stored, the oversize one left with a notice', async () => {
    await page.getByRole('button', { name: '今すぐ受信' }).click();
    const summary = page.getByTestId('receive-summary');
    await summary.waitFor({ timeout: 30_000 });
    assert.match((await summary.textContent()) ?? '', /^2通受信しました/);
    assert.equal(await ui.ctx.repos.messages.count(accountId), 2);
    const notices = page.getByTestId('notices');
    await notices.waitFor();
    assert.match((await notices.textContent()) ?? '', /hello 3/);
    await page.locator('.account-status .status-ok').waitFor();
    await ui.shot('mail-account-detail');
  });

  await t.test('change: 無期限 with its warning; a blank password keeps the stored one', async () => {
    await page.getByRole('main').getByRole('link', { name: '変更する' }).click();
    await page.getByRole('heading', { name: 'メールアカウントの変更' }).waitFor();
    assert.equal(await page.getByLabel('メールをサーバーに残す日数').inputValue(), '7');
    assert.equal(await page.getByLabel('パスワード', { exact: true }).inputValue(), '');
    await page.getByRole('radio', { name: '無期限' }).check();
    await page.getByText('500通以上たまると警告を表示します').waitFor();
    await page.getByLabel('表示名').fill('Support desk');
    await page.getByRole('button', { name: '変更する' }).click();
    await page.getByRole('heading', { name: 'Support desk <support@example.com>' }).waitFor();
    const a = await accounts.get(accountId);
    assert.deepEqual(a.leaveOnServer, { mode: 'forever' });
    assert.equal((await accounts.credentials(accountId)).password, 'alice-pw');
  });

  await t.test('the list: last receive time, status, notices, the 500-mails warning, and an error', async () => {
    await ui.ctx.db.kysely.updateTable('mail_accounts').set({ stored_on_server_count: 612 }).where('id', '=', accountId).execute();
    const broken = await new MailServerService(ui.ctx).add('test', {
      name: 'Nowhere',
      incoming: { protocol: 'pop3', host: '127.0.0.1', port: await closedPort() },
      outgoing: { host: '127.0.0.1', port: smtp.port },
    });
    const other = await accounts.add('test', { displayName: 'Sales', serverId: broken.id, address: 'sales@example.com', username: 'sales', password: 'sales-pw' });
    await page.goto(`${ui.baseUrl}/settings/general/mail-accounts/${other.id}`);
    await page.getByRole('button', { name: '今すぐ受信' }).click();
    await page.getByTestId('receive-summary').waitFor({ timeout: 30_000 });

    await page.goto(`${ui.baseUrl}/settings/general/mail-accounts`);
    const rows = page.getByTestId('accounts').locator('tbody tr');
    await rows.first().waitFor();
    const support = rows.filter({ hasText: 'support@example.com' });
    assert.notEqual(((await support.locator('.last-receive').textContent()) ?? '').trim(), '');
    assert.equal(await support.locator('.account-status').getAttribute('data-status'), 'ok');
    assert.match((await support.textContent()) ?? '', /サイズの制限を超えたため受信していないメールが1通あります/);
    assert.match((await support.locator('[data-warning="BACKLOG"]').textContent()) ?? '', /612通/);
    const sales = rows.filter({ hasText: 'sales@example.com' });
    assert.equal(await sales.locator('.account-status').getAttribute('data-status'), 'error');
    const status = await import('../../src/receive/receive-service.ts').then((m) => m.receiveStatus(ui.ctx, other.id));
    assert.ok(status.lastError);
    assert.match((await sales.textContent()) ?? '', new RegExp(escape(status.lastError.message.slice(0, 20))));
    await ui.shot('mail-accounts');
  });

  await t.test('a server whose SMTP auth does not use the account credentials asks for SMTP ones', async () => {
    await new MailServerService(ui.ctx).add('test', {
      name: 'Separate SMTP',
      incoming: { protocol: 'imap4', host: 'imap.example.com' },
      outgoing: { host: 'smtp.example.com', auth: { mechanism: 'LOGIN', useAccountCredentials: false } },
    });
    await page.goto(`${ui.baseUrl}/settings/general/mail-accounts/new`);
    await page.getByLabel('表示名').fill('Info');
    await page.getByLabel('メールアドレス').fill('info@example.com');
    assert.equal(await page.getByLabel('SMTP認証のユーザー名').count(), 0);
    await page.getByLabel('メールサーバー', { exact: true }).selectOption({ label: 'Separate SMTP' });
    await page.getByLabel('ユーザー名', { exact: true }).fill('info');
    await page.getByLabel('パスワード', { exact: true }).fill('info-pw');
    await page.getByLabel('SMTP認証のユーザー名').fill('smtp-info');
    await page.getByLabel('SMTP認証のパスワード').fill('smtp-pw');
    await page.getByRole('button', { name: '追加する' }).click();
    await page.getByRole('heading', { name: 'Info <info@example.com>' }).waitFor();
    const info = (await accounts.list()).find((a) => a.address === 'info@example.com')!;
    const creds = await accounts.credentials(info.id);
    assert.equal(creds.smtpUsername, 'smtp-info');
    assert.equal(creds.smtpPassword, 'smtp-pw');
    await page.goto(`${ui.baseUrl}/settings/general/mail-accounts`);
    await page.getByTestId('accounts').waitFor();
  });

  await t.test('delete: いいえ keeps the account, はい deletes it after saying what goes with it', async () => {
    const row = () => page.getByTestId('accounts').locator('tbody tr').filter({ hasText: 'sales@example.com' });
    await row().getByRole('link', { name: '削除する' }).click();
    await page.getByRole('button', { name: 'いいえ' }).click();
    await page.getByTestId('accounts').waitFor();
    assert.equal((await accounts.list()).length, 3);
    await row().getByRole('link', { name: '削除する' }).click();
    // the confirmation says what goes with the account
    await page.getByTestId('delete-consequences').getByText('このメールアカウントで受信したメール（0通）と、送信したメール・一斉配信の記録もすべて削除されます').waitFor();
    await page.getByRole('button', { name: 'はい' }).click();
    await page.getByTestId('accounts').waitFor();
    assert.deepEqual((await accounts.list()).map((a) => a.address).sort(), ['info@example.com', 'support@example.com']);
    assert.equal(await row().count(), 0);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
