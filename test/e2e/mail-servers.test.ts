// The administrator's mail server pages in a real browser (Debian's Chromium):
// sign-in, the seed's navigation (歯車 → システム設定 → 全般 → メールサーバー), the
// presets, add / change with port auto-fill and the API's field errors, 順番変更
// with mouse and keyboard, 削除 (はい / いいえ / in use), and the language switch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { AuthService } from '../../src/services/auth.ts';
import { signIn, startUi, type Ui } from './harness.ts';

const field = (page: Page, path: string) => page.locator(`[data-field="${path}"]`);

/** The other servers' names in their saved order, read through the HTTP API with the page's session. */
async function otherNames(ui: Ui): Promise<string[]> {
  const res = await ui.page.request.get(`${ui.baseUrl}/api/v1/mail-servers`);
  assert.equal(res.status(), 200);
  const body = (await res.json()) as { items: { name: string; preset: string | null }[] };
  return body.items.filter((s) => !s.preset).map((s) => s.name);
}

/** The mail server list page, loaded (its preset table is there once the API answered). */
async function listShown(page: Page): Promise<void> {
  await page.getByRole('heading', { name: 'メールサーバー', level: 1 }).waitFor();
  await page.getByTestId('preset-servers').waitFor();
}

async function selectedNames(page: Page): Promise<string[]> {
  return page.locator('[role="option"][aria-selected="true"] .order-name').allTextContents();
}

test('mail servers: navigation, presets, add/change, reorder, delete, language', async (t) => {
  const ui = await startUi(t);
  if (!ui) return;
  const { page } = ui;
  const servers = new MailServerService(ui.ctx);

  await t.test('sign in, then 歯車 → システム設定 → 全般 → メールサーバー with breadcrumbs', async () => {
    await signIn(ui);
    await page.getByRole('button', { name: '設定メニュー' }).click();
    await page.getByRole('menuitem', { name: 'システム設定' }).click();
    await page.locator('.left-pane').getByRole('link', { name: '全般' }).click();
    await page.getByRole('heading', { name: '基本設定' }).waitFor();
    await page.getByRole('link', { name: 'メールサーバー', exact: true }).click();
    await listShown(page);
    const crumbs = await page.getByRole('navigation', { name: 'パンくずリスト' }).locator('li').allTextContents();
    assert.deepEqual(crumbs, ['システム設定', '全般', 'メールサーバー']);
    await ui.shot('mail-servers-empty');
  });

  await t.test('the presets come first with 変更する only', async () => {
    const presets = page.getByTestId('preset-servers').locator('tbody tr');
    assert.deepEqual(await presets.locator('th').allTextContents(), ['Gmail', 'Exchange Online']);
    for (const row of await presets.all()) {
      assert.deepEqual(await row.locator('td.actions a').allTextContents(), ['変更する']);
    }
    await page.getByRole('heading', { name: 'その他のメールサーバー' }).waitFor();
    await page.getByRole('link', { name: '追加する' }).waitFor();
    // nothing to reorder yet: 変更する is off
    await page.goto(`${ui.baseUrl}/settings/general/mail-servers/order`);
    await page.getByRole('button', { name: 'キャンセル' }).waitFor();
    await page.getByText('読み込み中…').first().waitFor({ state: 'detached' });
    assert.equal(await page.getByRole('button', { name: '変更する' }).isDisabled(), true);
    await page.getByRole('button', { name: 'キャンセル' }).click();
    await listShown(page);
  });

  await t.test('add: ports follow protocol and encryption, APOP only for POP3, the API field error next to the field', async () => {
    await page.getByRole('link', { name: '追加する' }).click();
    await page.getByRole('heading', { name: 'メールサーバーの追加' }).waitFor();
    const inPort = page.getByLabel('受信メールサーバーのポート番号');
    const outPort = page.getByLabel('送信メールサーバーのポート番号');
    assert.equal(await inPort.inputValue(), '110');
    assert.equal(await outPort.inputValue(), '587');

    // an emptied port stays empty while typing (not refilled per keystroke) and comes back when left empty
    await inPort.press('End');
    for (let i = 0; i < 3; i++) await inPort.press('Backspace');
    assert.equal(await inPort.inputValue(), '');
    await inPort.pressSequentially('2110');
    assert.equal(await inPort.inputValue(), '2110');
    await inPort.fill('');
    await inPort.blur();
    assert.equal(await inPort.inputValue(), '110');
    // a typed usual port follows the protocol
    await inPort.fill('995');
    await page.getByRole('radio', { name: 'IMAP4' }).check();
    assert.equal(await inPort.inputValue(), '993');
    await page.getByRole('radio', { name: 'POP3' }).check();
    assert.equal(await inPort.inputValue(), '995');
    await inPort.fill('');
    await inPort.blur();
    assert.equal(await inPort.inputValue(), '110');
    // with encryption ticked, the method follows a port typed afterwards until one is picked
    await page.getByLabel('受信メールサーバーの通信を暗号化する').check();
    await inPort.fill('110');
    assert.equal(await field(page, 'incoming.encryption').locator('select').inputValue(), 'starttls');
    await page.getByLabel('受信メールサーバーの通信を暗号化する').uncheck();
    await inPort.fill('');
    await inPort.blur();
    assert.equal(await inPort.inputValue(), '110');

    // the row's visible label is the help page's (step 6), not only the field's accessible name
    assert.equal(await field(page, 'name').locator('.form-label label').innerText(), 'メールサーバーの名前');
    await page.getByLabel('メールサーバーの名前').fill('Example ISP');
    await page.getByLabel('受信メールサーバーのサーバー名').fill('pop.example.com');
    await page.getByLabel('受信メールサーバーの通信を暗号化する').check();
    assert.equal(await inPort.inputValue(), '995');
    assert.equal(await field(page, 'incoming.encryption').locator('select').inputValue(), 'tls');

    assert.equal(await page.getByTestId('imap-inbox-only').count(), 0);
    await page.getByRole('radio', { name: 'IMAP4' }).check();
    assert.equal(await inPort.inputValue(), '993');
    assert.equal(await field(page, 'incoming.apop').count(), 0, 'APOP is hidden for IMAP4');
    // the help page's 注意事項, where they apply
    assert.match((await page.getByTestId('imap-inbox-only').textContent()) ?? '', /INBOXフォルダーのメールだけを受信します/);
    await page.getByRole('radio', { name: 'POP3' }).check();
    assert.equal(await inPort.inputValue(), '995');
    await field(page, 'incoming.apop').waitFor();
    assert.equal(await page.getByTestId('imap-inbox-only').count(), 0);
    assert.equal(await page.getByTestId('smtp-auth-recommended').count(), 0, 'SMTP authentication is on by default');
    await page.getByLabel('SMTP認証をおこなう').uncheck();
    assert.match((await page.getByTestId('smtp-auth-recommended').textContent()) ?? '', /SMTP認証を有効にすることを推奨します/);
    await page.getByLabel('SMTP認証をおこなう').check();

    await page.getByLabel('送信メールサーバーのサーバー名').fill('smtp.example.com');
    await page.getByLabel('送信メールサーバーの通信を暗号化する').check();
    assert.equal(await outPort.inputValue(), '465');
    // a port the administrator typed stays when the encryption changes
    await outPort.fill('70000');
    await page.getByLabel('送信メールサーバーの通信を暗号化する').uncheck();
    assert.equal(await outPort.inputValue(), '70000');

    await page.getByRole('button', { name: '追加する' }).click();
    const error = field(page, 'outgoing.port').locator('.field-error');
    await error.waitFor();
    const apiMessage = await apiFieldError(ui, 'outgoing.port', 70000);
    assert.equal(await error.textContent(), apiMessage);
    assert.match(apiMessage, /送信メールサーバーのポート番号/);
    // the field names its error (aria-describedby), for screen readers
    assert.equal(await outPort.getAttribute('aria-describedby'), await error.getAttribute('id'));
    assert.equal(await page.getByLabel('メールサーバーの名前').inputValue(), 'Example ISP');
    assert.equal(await page.getByLabel('受信メールサーバーのサーバー名').inputValue(), 'pop.example.com');
    assert.equal(await inPort.inputValue(), '995');
    assert.equal(await outPort.inputValue(), '70000');
    assert.deepEqual(await otherNames(ui), [], 'nothing stored on an error');
    await ui.shot('mail-server-form-error');

    await outPort.fill('587');
    await page.getByLabel('送信メールサーバーの通信を暗号化する').check();
    assert.equal(await field(page, 'outgoing.encryption').locator('select').inputValue(), 'starttls', 'a typed 587 means STARTTLS');
    await page.getByRole('button', { name: '追加する' }).click();
    await listShown(page);
    const row = page.getByTestId('other-servers').locator('tbody tr');
    assert.equal(await row.count(), 1);
    assert.match((await row.textContent()) ?? '', /POP3 pop\.example\.com:995 SSL\/TLS/);
    assert.match((await row.textContent()) ?? '', /SMTP smtp\.example\.com:587 STARTTLS/);
    const stored = (await servers.list()).find((s) => s.name === 'Example ISP')!;
    assert.equal(stored.incoming.port, 995);
    assert.equal(stored.incoming.encryption, 'tls');
    assert.equal(stored.outgoing.port, 587);
    assert.equal(stored.outgoing.encryption, 'starttls');
    await ui.shot('mail-servers');
  });

  await t.test('change: the form starts from the stored values', async () => {
    await page.getByTestId('other-servers').getByRole('link', { name: '変更する' }).click();
    await page.getByRole('heading', { name: 'メールサーバーの変更' }).waitFor();
    assert.equal(await page.getByLabel('受信メールサーバーのポート番号').inputValue(), '995');
    await page.getByLabel('メールサーバーの名前').fill('Example ISP 2');
    await page.getByRole('radio', { name: 'IMAP4' }).check();
    assert.equal(await page.getByLabel('受信メールサーバーのポート番号').inputValue(), '993');
    await page.getByRole('button', { name: '変更する' }).click();
    await listShown(page);
    const stored = (await servers.list()).find((s) => !s.preset)!;
    assert.equal(stored.name, 'Example ISP 2');
    assert.equal(stored.incoming.protocol, 'imap4');
    assert.equal(stored.incoming.port, 993);
  });

  await t.test('a preset: only protocol, size limits and per-minute limit are enabled', async () => {
    await page.getByTestId('preset-servers').locator('tr', { hasText: 'Gmail' }).getByRole('link', { name: '変更する' }).click();
    await page.getByRole('heading', { name: 'メールサーバーの変更' }).waitFor();
    assert.equal(await page.getByLabel('メールサーバーの名前').isDisabled(), true);
    assert.equal(await page.getByLabel('受信メールサーバーのサーバー名').isDisabled(), true);
    assert.equal(await page.getByLabel('送信メールサーバーのポート番号').isDisabled(), true);
    // a preset signs in with OAuth 2.0: no user name and password box to show
    assert.equal(await page.getByRole('checkbox', { name: '認証にメールアカウントのユーザー名とパスワードを使用する' }).count(), 0);
    assert.equal(await page.getByRole('radio', { name: 'POP3' }).isEnabled(), true);
    await page.getByRole('radio', { name: 'POP3' }).check();
    assert.equal(await page.getByLabel('受信メールサーバーのサーバー名').inputValue(), 'pop.gmail.com');
    const perMinute = field(page, 'outgoing.perMinuteLimit');
    await perMinute.getByRole('radio', { name: '制限する' }).check();
    await perMinute.getByRole('textbox').fill('30');
    await page.getByRole('button', { name: '変更する' }).click();
    await listShown(page);
    const gmail = (await servers.list()).find((s) => s.preset === 'gmail')!;
    assert.equal(gmail.incoming.protocol, 'pop3');
    assert.equal(gmail.incoming.host, 'pop.gmail.com');
    assert.equal(gmail.outgoing.perMinuteLimit, 30);
  });

  await t.test('順番変更: click, Shift+click, Ctrl+click, keyboard, the four buttons, then 変更する', async () => {
    for (const name of ['B', 'C', 'D']) {
      await servers.add('test', { name, incoming: { protocol: 'pop3', host: `pop.${name.toLowerCase()}.example` }, outgoing: { host: `smtp.${name.toLowerCase()}.example` } });
    }
    await page.reload();
    await page.getByRole('link', { name: '順番変更' }).click();
    await page.getByRole('heading', { name: 'メールサーバーの順番変更' }).waitFor();
    const option = (name: string) => page.getByRole('option').filter({ has: page.locator('.order-name', { hasText: new RegExp(`^${name}$`) }) });
    const order = () => page.locator('[role="option"] .order-name').allTextContents();
    await page.getByRole('option').first().waitFor();
    assert.deepEqual(await order(), ['Example ISP 2', 'B', 'C', 'D']);

    await option('B').click();
    await option('D').click({ modifiers: ['Shift'] });
    assert.deepEqual(await selectedNames(page), ['B', 'C', 'D']);
    await option('C').click({ modifiers: ['Control'] });
    assert.deepEqual(await selectedNames(page), ['B', 'D']);
    await ui.shot('mail-server-order');

    await page.getByRole('button', { name: '一番上へ' }).click();
    assert.deepEqual(await order(), ['B', 'D', 'Example ISP 2', 'C']);
    await page.getByRole('button', { name: '下へ', exact: true }).click();
    assert.deepEqual(await order(), ['Example ISP 2', 'B', 'D', 'C']);
    await page.getByRole('button', { name: '一番下へ' }).click();
    assert.deepEqual(await order(), ['Example ISP 2', 'C', 'B', 'D']);
    await page.getByRole('button', { name: '上へ', exact: true }).click();
    assert.deepEqual(await order(), ['Example ISP 2', 'B', 'D', 'C']);

    // keyboard: arrows move a single selection, Shift+arrows extend it, Space toggles
    await option('Example ISP 2').click();
    await page.keyboard.press('ArrowDown');
    assert.deepEqual(await selectedNames(page), ['B']);
    await page.keyboard.press('Shift+ArrowDown');
    await page.keyboard.press('Shift+ArrowDown');
    assert.deepEqual(await selectedNames(page), ['B', 'D', 'C']);
    await page.keyboard.press('Space');
    assert.deepEqual(await selectedNames(page), ['B', 'D']);
    await page.getByRole('button', { name: '一番下へ' }).click();
    assert.deepEqual(await order(), ['Example ISP 2', 'C', 'B', 'D']);

    assert.deepEqual(await otherNames(ui), ['Example ISP 2', 'B', 'C', 'D'], 'nothing saved before 変更する');
    await page.getByRole('button', { name: '変更する' }).click();
    await listShown(page);
    assert.deepEqual(await otherNames(ui), ['Example ISP 2', 'C', 'B', 'D']);
    await page.getByTestId('other-servers').waitFor();
    assert.deepEqual(await page.getByTestId('other-servers').locator('tbody th').allTextContents(), ['Example ISP 2', 'C', 'B', 'D']);

    // キャンセル discards
    await page.getByRole('link', { name: '順番変更' }).click();
    await option('D').click();
    await page.getByRole('button', { name: '一番上へ' }).click();
    await page.getByRole('button', { name: 'キャンセル' }).click();
    await listShown(page);
    assert.deepEqual(await otherNames(ui), ['Example ISP 2', 'C', 'B', 'D']);
  });

  await t.test('削除: いいえ keeps it, はい deletes it, a server in use lists its accounts', async () => {
    const row = (name: string) => page.getByTestId('other-servers').locator('tr', { has: page.locator('th', { hasText: new RegExp(`^${name}$`) }) });
    await row('D').getByRole('link', { name: '削除する' }).click();
    await page.getByText('メールサーバー「D」を削除しますか？').waitFor();
    await page.getByRole('button', { name: 'いいえ' }).click();
    await listShown(page);
    assert.ok((await otherNames(ui)).includes('D'));

    await row('D').getByRole('link', { name: '削除する' }).click();
    await page.getByRole('button', { name: 'はい' }).click();
    await listShown(page);
    assert.deepEqual(await otherNames(ui), ['Example ISP 2', 'C', 'B']);
    assert.equal(await row('D').count(), 0);

    const b = (await servers.list()).find((s) => s.name === 'B')!;
    await new MailAccountService(ui.ctx).add('test', { displayName: 'Support', serverId: b.id, address: 'support@b.example', username: 'support', password: 'secret-pass' });
    await row('B').getByRole('link', { name: '削除する' }).click();
    await page.getByRole('button', { name: 'はい' }).click();
    const inUse = page.getByTestId('server-in-use');
    await inUse.waitFor();
    assert.match((await inUse.textContent()) ?? '', /support@b\.example/);
    await inUse.getByRole('link', { name: 'support@b.example' }).waitFor();
    assert.ok((await otherNames(ui)).includes('B'), 'a server in use is not deleted');
    // said once (the API's banner repeated the paragraph before)
    assert.equal(await inUse.getByRole('alert').count(), 1);
    await ui.shot('mail-server-in-use');

    // a preset's delete page, opened by its address, refuses at once: no はい to press
    const gmail = (await servers.list()).find((s) => s.preset === 'gmail')!;
    await page.goto(`${ui.baseUrl}/settings/general/mail-servers/${gmail.id}/delete`);
    await page.getByText('GmailとExchange Onlineは削除できません。').waitFor();
    assert.equal(await page.getByRole('button', { name: 'はい' }).count(), 0);
    assert.equal((await servers.list()).filter((s) => s.preset).length, 2);
  });

  await t.test('English is one click away and stays after a reload', async () => {
    await page.goto(ui.baseUrl + '/settings/general/mail-servers');
    await listShown(page);
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('heading', { name: 'Mail servers', level: 1 }).waitFor();
    await page.getByRole('heading', { name: 'Other mail servers' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Mail servers', level: 1 }).waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    // API errors follow: the form's field errors come back in English
    await page.getByRole('link', { name: 'Add' }).click();
    await page.getByLabel('Outgoing port').fill('0');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await field(page, 'outgoing.port').locator('.field-error').waitFor();
    assert.match((await field(page, 'outgoing.port').locator('.field-error').textContent()) ?? '', /Outgoing port/);
    await ui.shot('mail-server-form-en');
  });

  await t.test('the language is remembered per user', async () => {
    await new AuthService(ui.ctx).createAdmin('other', 'another long password');
    await page.getByRole('button', { name: 'Settings menu' }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('User name').fill('other');
    await page.getByLabel('Password').fill('another long password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.app-nav').getByRole('link', { name: 'Received mail' }).waitFor();
    await page.getByRole('button', { name: '日本語' }).click();
    await page.locator('.app-nav').getByRole('link', { name: '受信メール' }).waitFor();
    await page.getByRole('button', { name: '設定メニュー' }).click();
    await page.getByRole('menuitem', { name: 'ログアウト' }).click();
    await signIn(ui);
    await page.locator('.app-nav').getByRole('link', { name: 'Received mail' }).waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'en', 'admin chose English before');
    // stored on the server, so another browser (no localStorage) gets it too
    assert.equal((await ui.ctx.repos.admins.findByUsername('other'))?.language, 'ja');
    await page.evaluate('localStorage.clear()');
    await page.getByRole('button', { name: 'Settings menu' }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.getByLabel('User name').fill('other');
    await page.getByLabel('Password').fill('another long password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.app-nav').getByRole('link', { name: '受信メール' }).waitFor();
  });
});

test('mail server form: a size limit left alone is saved as stored, XOAUTH2 only for the presets', async (t) => {
  const ui = await startUi(t);
  if (!ui) return;
  const { page } = ui;
  const servers = new MailServerService(ui.ctx);
  const MIB = 1024 * 1024;
  const mechanism = () => page.getByRole('combobox', { name: 'SMTP認証の認証方式' });
  const sizeBox = (side: 'incoming' | 'outgoing') => field(page, `${side}.maxMessageBytes`).getByRole('textbox');
  const openForm = async (id: string) => {
    await page.goto(`${ui.baseUrl}/settings/general/mail-servers/${encodeURIComponent(id)}/edit`);
    await page.getByRole('heading', { name: 'メールサーバーの変更' }).waitFor();
    await page.getByLabel('メールサーバーの名前').waitFor();
  };
  const lastChange = async (id: string) => (await ui.ctx.repos.audit.list({ limit: 100 })).items.find((e) => e.action === 'mail_server.change' && e.targetId === id);
  await signIn(ui);

  await t.test('limits set in bytes (API, CLI) stay exact when only the name changes', async () => {
    const s = await servers.add('cli', {
      name: 'Bytes ISP',
      incoming: { protocol: 'pop3', host: 'pop.bytes.example', maxMessageBytes: 10_000_000 },
      outgoing: { host: 'smtp.bytes.example', maxMessageBytes: 10_000_000 },
    });
    await openForm(s.id);
    assert.equal(await sizeBox('incoming').inputValue(), '9.54');
    assert.equal(await sizeBox('outgoing').inputValue(), '9.54');
    await page.getByLabel('メールサーバーの名前').fill('Bytes ISP 2');
    await page.getByRole('button', { name: '変更する' }).click();
    await listShown(page);
    const stored = await servers.get(s.id);
    assert.equal(stored.name, 'Bytes ISP 2');
    assert.equal(stored.incoming.maxMessageBytes, 10_000_000);
    assert.equal(stored.outgoing.maxMessageBytes, 10_000_000);
    assert.deepEqual((await lastChange(s.id))?.fields, ['name'], 'the audit log names only what was changed');

    // a limit that is changed is converted from MB; the other stays exact
    await openForm(s.id);
    await sizeBox('outgoing').fill('20');
    await page.getByRole('button', { name: '変更する' }).click();
    await listShown(page);
    const again = await servers.get(s.id);
    assert.equal(again.outgoing.maxMessageBytes, 20 * MIB);
    assert.equal(again.incoming.maxMessageBytes, 10_000_000);
  });

  await t.test('a preset keeps its limits in bytes when only the per-minute limit changes', async () => {
    const gmail = (await servers.list()).find((s) => s.preset === 'gmail')!;
    await servers.change('cli', gmail.id, { incoming: { maxMessageBytes: 10_000_000 }, outgoing: { maxMessageBytes: 10_000_000 } });
    await openForm(gmail.id);
    const perMinute = field(page, 'outgoing.perMinuteLimit');
    await perMinute.getByRole('radio', { name: '制限する' }).check();
    await perMinute.getByRole('textbox').fill('30');
    await page.getByRole('button', { name: '変更する' }).click();
    await listShown(page);
    const stored = await servers.get(gmail.id);
    assert.equal(stored.outgoing.perMinuteLimit, 30);
    assert.equal(stored.incoming.maxMessageBytes, 10_000_000);
    assert.equal(stored.outgoing.maxMessageBytes, 10_000_000);
    assert.deepEqual((await lastChange(gmail.id))?.fields, ['outgoing.perMinuteLimit']);
  });

  await t.test('XOAUTH2 is offered for the presets only', async () => {
    for (const preset of ['gmail', 'exchange_online']) {
      const s = (await servers.list()).find((x) => x.preset === preset)!;
      await openForm(s.id);
      assert.equal(await mechanism().inputValue(), 'XOAUTH2', `${preset} shows XOAUTH2`);
      assert.equal(await mechanism().isDisabled(), true);
    }

    await page.goto(ui.baseUrl + '/settings/general/mail-servers/new');
    await page.getByRole('heading', { name: 'メールサーバーの追加' }).waitFor();
    assert.deepEqual(await mechanism().locator('option').allTextContents(), ['PLAIN', 'LOGIN', 'CRAM-MD5'], 'a new server');

    const other = (await servers.list()).find((x) => x.name === 'Bytes ISP 2')!;
    await openForm(other.id);
    assert.equal(await mechanism().inputValue(), 'PLAIN');
    assert.deepEqual(await mechanism().locator('option').allTextContents(), ['PLAIN', 'LOGIN', 'CRAM-MD5'], 'a server that is not a preset');
  });

  await t.test('a server that is not a preset with XOAUTH2 stored (from before) still shows it', async () => {
    const s = await servers.add('cli', { name: 'Legacy OAuth', incoming: { protocol: 'imap4', host: 'imap.legacy.example' }, outgoing: { host: 'smtp.legacy.example' } });
    // stored before the API refused XOAUTH2 for such a server
    await ui.ctx.db.kysely.updateTable('mail_servers').set({ outgoing_auth_mechanism: 'XOAUTH2' }).where('id', '=', s.id).execute();
    await openForm(s.id);
    assert.equal(await mechanism().inputValue(), 'XOAUTH2', 'not silently changed to another mechanism');
    assert.deepEqual(await mechanism().locator('option').allTextContents(), ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2']);
    await field(page, 'outgoing.auth.mechanism').locator('.warning-text').waitFor();
    await ui.shot('mail-server-form-xoauth2-legacy');
    await page.getByLabel('メールサーバーの名前').fill('Legacy OAuth 2');
    await page.getByRole('button', { name: '変更する' }).click();
    await listShown(page);
    const stored = await servers.get(s.id);
    assert.equal(stored.name, 'Legacy OAuth 2');
    assert.equal(stored.outgoing.auth.mechanism, 'XOAUTH2');
  });
});

test('first-run setup at /setup?token=… creates the administrator and signs in', async (t) => {
  const ui = await startUi(t, { admin: false });
  if (!ui) return;
  const { page } = ui;
  const token = await new AuthService(ui.ctx).issueSetupToken();
  await page.goto(ui.baseUrl + '/signin');
  await page.getByText('管理者がまだ作成されていません').waitFor();
  await page.goto(`${ui.baseUrl}/setup?token=${encodeURIComponent(token)}`);
  await page.getByRole('heading', { name: '初期設定' }).waitFor();
  await page.getByLabel('ユーザー名').fill('first');
  await page.getByLabel('パスワード').fill('short');
  await page.getByRole('button', { name: '作成する' }).click();
  await page.locator('[data-testid="error-banner"], .field-error').first().waitFor();
  assert.equal(await page.getByLabel('ユーザー名').inputValue(), 'first');
  await page.getByLabel('パスワード').fill('a long enough password');
  await page.getByRole('button', { name: '作成する' }).click();
  await page.getByRole('heading', { name: '全般', level: 1 }).waitFor();
  assert.match((await page.locator('.user').textContent()) ?? '', /first/);
  assert.equal(await new AuthService(ui.ctx).needsSetup(), false);
});

/** What the API itself says for a bad port, in Japanese. */
async function apiFieldError(ui: Ui, path: string, port: number): Promise<string> {
  const res = await ui.app.inject({
    method: 'POST',
    url: '/api/v1/mail-servers',
    headers: { 'accept-language': 'ja', authorization: `Bearer ${await new AuthService(ui.ctx).createToken('e2e-' + Date.now())}` },
    payload: { name: 'x', incoming: { protocol: 'pop3', host: 'pop.example.com' }, outgoing: { host: 'smtp.example.com', port } },
  });
  const body = res.json() as { error: { fields: { path: string; message: string }[] } };
  const f = body.error.fields.find((x) => x.path === path);
  assert.ok(f, `the API names ${path}`);
  return f.message;
}
