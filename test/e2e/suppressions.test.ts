// 一斉配信 › 配信停止リスト in Chromium: the list with who put each address there (a recipient
// through an unsubscribe link, an administrator), 追加する with a bad address refused next to
// the field and nothing added, the error gone once the field is edited, addresses added one
// a line or by commas, and 削除 with いいえ / はい in the row.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SuppressionService } from '../../src/send/suppression-service.ts';
import { unsubscribe, unsubscribeToken } from '../../src/send/unsubscribe.ts';
import { addressLines } from '../../web/src/pages/bulk-suppressions-input.ts';
import { signIn, startUi } from './harness.ts';

test('addresses are read one a line, by commas or semicolons, blanks left out', () => {
  assert.deepEqual(addressLines(' a@example.com \r\n\nb@example.com, c@example.com;d@example.com,,\n'), ['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com']);
  assert.deepEqual(addressLines(' \n , '), []);
});

test('the suppression list page: list, add (a bad address refused), remove', async (t) => {
  const ui = await startUi(t);
  if (!ui) return;
  const { page, ctx } = ui;
  const listed = async () => (await new SuppressionService(ctx).list()).items.map((s) => s.address);
  // a recipient who followed an unsubscribe link
  await unsubscribe(ctx, unsubscribeToken(ctx.secretKey, 'hanako@example.com'), 'one-click');

  await signIn(ui);
  await page.goto(`${ui.baseUrl}/bulk`);
  await page.getByRole('link', { name: '配信停止リスト' }).click();
  await page.getByRole('heading', { name: '配信停止リスト', level: 1 }).waitFor();
  assert.deepEqual(await page.getByRole('navigation', { name: 'パンくずリスト' }).locator('li').allTextContents(), ['一斉配信', '配信停止リスト']);
  const row = (address: string) => page.getByTestId('suppressions').locator(`tbody tr[data-address="${address}"]`);
  assert.deepEqual((await row('hanako@example.com').locator('td').allTextContents()).slice(0, 3), ['hanako@example.com', '配信停止リンク（メールソフトのワンクリック）', '受信者（配信停止リンク）']);

  // a bad address: refused next to the field, nothing added
  const addresses = page.getByLabel('メールアドレス', { exact: true });
  await addresses.fill('a@example.com\nnot an address');
  await page.getByRole('button', { name: '追加する' }).click();
  const error = page.locator('[data-field="addresses"] .field-error');
  await error.waitFor();
  assert.match((await error.textContent()) ?? '', /not an address/);
  assert.deepEqual(await listed(), ['hanako@example.com']);
  await ui.shot('suppressions-error');
  // editing the field takes the error away
  await addresses.fill('a@example.com, B@Example.com\nhanako@example.com');
  await error.waitFor({ state: 'detached' });
  await page.getByLabel('理由').fill('電話で依頼');
  await page.getByRole('button', { name: '追加する' }).click();
  await page.getByText('2件を配信停止リストに追加しました（1件は登録済みのため、そのままです）。').waitFor();
  await row('a@example.com').waitFor();
  assert.deepEqual(await listed(), ['a@example.com', 'B@example.com', 'hanako@example.com']);
  assert.deepEqual((await row('B@example.com').locator('td').allTextContents()).slice(0, 3), ['B@example.com', '電話で依頼', 'admin']);
  assert.equal(await addresses.inputValue(), '');
  await ui.shot('suppressions');

  // 削除: いいえ keeps it, はい removes it
  await page.getByRole('button', { name: 'a@example.com を削除' }).click();
  const confirm = page.getByRole('group', { name: 'a@example.com を削除しますか？' });
  await confirm.getByRole('button', { name: 'いいえ' }).click();
  await confirm.waitFor({ state: 'detached' });
  assert.deepEqual(await listed(), ['a@example.com', 'B@example.com', 'hanako@example.com']);
  await page.getByRole('button', { name: 'a@example.com を削除' }).click();
  await confirm.getByRole('button', { name: 'はい' }).click();
  await page.getByText('a@example.com を配信停止リストから削除しました。').waitFor();
  await row('a@example.com').waitFor({ state: 'detached' });
  assert.deepEqual(await listed(), ['B@example.com', 'hanako@example.com']);
  const audit = await ctx.repos.audit.list({ limit: 10 });
  assert.ok(audit.items.some((e) => e.action === 'suppression.remove' && e.actor === 'admin:admin'));

  // 100 a page, さらに表示 for the rest (in address order)
  await new SuppressionService(ctx).add('cli', { addresses: Array.from({ length: 120 }, (_, i) => `m${String(i).padStart(3, '0')}@example.org`) });
  await page.reload();
  const rows = page.getByTestId('suppressions').locator('tbody tr');
  await rows.nth(99).waitFor();
  assert.equal(await rows.count(), 100);
  await page.getByRole('button', { name: 'さらに表示' }).click();
  await rows.nth(121).waitFor();
  assert.equal(await rows.count(), 122);
  assert.equal(await page.getByRole('button', { name: 'さらに表示' }).count(), 0);
  assert.equal(await rows.last().getAttribute('data-address'), 'm119@example.org');
  assert.equal((await rows.last().locator('td').nth(2).textContent())?.trim(), 'コマンドライン');
});
