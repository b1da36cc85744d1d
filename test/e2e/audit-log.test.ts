// The audit log page in Chromium: changes made through the UI are listed newest
// first with who, what and which fields (labelled from the shared catalogue), and
// さらに表示 pages on with the API's cursor.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { signIn, startUi } from './harness.ts';

test('audit log: the UI’s own changes, newest first, with field labels and paging', async (t) => {
  const ui = await startUi(t);
  if (!ui) return;
  const { page, ctx } = ui;
  await signIn(ui);

  // changes through the UI
  await page.goto(`${ui.baseUrl}/settings/general/mail-servers/new`);
  await page.getByLabel('メールサーバーの名前').fill('Audit ISP');
  await page.getByLabel('受信メールサーバーのサーバー名').fill('pop.audit.example');
  await page.getByLabel('送信メールサーバーのサーバー名').fill('smtp.audit.example');
  await page.getByRole('button', { name: '追加する' }).click();
  await page.getByTestId('other-servers').waitFor();
  await page.getByTestId('other-servers').getByRole('link', { name: '変更する' }).click();
  await page.getByLabel('受信メールサーバーのポート番号').fill('1110');
  await page.getByRole('button', { name: '変更する' }).click();
  await page.getByTestId('other-servers').waitFor();
  await page.getByTestId('other-servers').getByRole('link', { name: '削除する' }).click();
  await page.getByRole('button', { name: 'はい' }).click();
  await page.getByTestId('preset-servers').waitFor();

  await page.getByRole('button', { name: '設定メニュー' }).click();
  await page.getByRole('menuitem', { name: 'システム設定' }).click();
  await page.getByRole('link', { name: '監査ログ' }).click();
  await page.getByRole('heading', { name: '監査ログ', level: 1 }).waitFor();
  assert.deepEqual(await page.getByRole('navigation', { name: 'パンくずリスト' }).locator('li').allTextContents(), ['システム設定', '全般', '監査ログ']);
  const rows = page.getByTestId('audit-log').locator('tbody tr');
  await rows.first().waitFor();
  const api = await ctx.repos.audit.list({ limit: 100 });
  assert.deepEqual(
    await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-action'))),
    api.items.map((e) => e.action),
  );
  assert.deepEqual(api.items.slice(0, 3).map((e) => e.action), ['mail_server.delete', 'mail_server.change', 'mail_server.add']);
  const cells = async (i: number) => rows.nth(i).locator('td').allTextContents();
  const [del, change, add] = [await cells(0), await cells(1), await cells(2)];
  assert.deepEqual(del.slice(1, 4), ['admin', 'メールサーバーを削除', 'Audit ISP']);
  assert.deepEqual(change.slice(1, 5), ['admin', 'メールサーバーを変更', 'Audit ISP', '受信メールサーバーのポート番号']);
  assert.equal(add[2], 'メールサーバーを追加');
  assert.match(add[4] ?? '', /メールサーバーの名前/);
  assert.match(add[4] ?? '', /受信メールサーバーのサーバー名/);
  await ui.shot('audit-log');

  await page.getByRole('button', { name: 'English' }).click();
  await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
  assert.deepEqual((await cells(1)).slice(2, 5), ['Mail server changed', 'Audit ISP', 'Incoming port']);

  // さらに表示 (More): older entries come from the API's next page
  for (let i = 0; i < 120; i++) {
    await ctx.repos.audit.append(ctx.db.kysely, { actor: 'cli', action: 'api_token.create', targetType: 'api_token', targetId: `t${i}`, targetName: `token ${i}`, fields: [] });
  }
  await page.reload();
  await rows.first().waitFor();
  assert.equal(await rows.count(), 100);
  await page.getByRole('button', { name: 'More' }).click();
  await page.getByTestId('audit-log').locator('tbody tr').nth(100).waitFor();
  const total = (await ctx.repos.audit.list({ limit: 500 })).items.length;
  assert.equal(await rows.count(), total);
  assert.equal(await page.getByRole('button', { name: 'More' }).count(), 0);
});
