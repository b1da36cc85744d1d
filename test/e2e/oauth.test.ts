// OAuth 2.0 in Chromium: システム設定 › OAuth 2.0 (a field error, then saved with the
// mock provider's endpoints), a Gmail account added without user name or password, the
// whole authorization in the browser (Googleで接続 → the provider's authorize endpoint →
// Yubin's callback → the account page saying it is connected), then a revoked grant: the
// 再認証が必要 badge in the list, the reason on the account page, and 再認証 connecting again;
// last, a connection that cannot start (a discovery URL that does not answer): the reason on
// the account page, not a JSON error.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { OAuthTokenService } from '../../src/oauth/token-service.ts';
import { receiveNow } from '../../src/receive/receive-service.ts';
import { startMockProvider } from '../support/oauth-provider.ts';
import { signIn, startUi } from './harness.ts';

test('OAuth 2.0: provider settings, connecting a Gmail account in the browser, re-authorizing a revoked one', async (t) => {
  const ui = await startUi(t);
  if (!ui) return;
  const { page } = ui;
  const provider = await startMockProvider(t);
  const user = 'shop@gmail.example';

  await t.test('システム設定 › OAuth 2.0: field errors from the API, then saved; the secret is never shown', async () => {
    await signIn(ui);
    await page.getByRole('button', { name: '設定メニュー' }).click();
    await page.getByRole('menuitem', { name: 'システム設定' }).click();
    await page.getByRole('link', { name: 'OAuth 2.0（Gmail・Exchange Online）' }).click();
    await page.getByRole('heading', { name: 'OAuth 2.0（Gmail・Exchange Online）', level: 1 }).waitFor();
    assert.equal(await page.getByTestId('redirect-uri').textContent(), `${ui.baseUrl}/api/oauth/callback`);
    const gmail = page.getByTestId('oauth-provider-gmail');
    await gmail.getByRole('button', { name: '保存する' }).click();
    await gmail.getByText('クライアントIDを入力してください。').waitFor();
    await gmail.getByLabel('クライアントID').fill(provider.clientId);
    await gmail.getByLabel('クライアントシークレット').fill(provider.clientSecret);
    await gmail.getByText('エンドポイント（通常は変更不要').click();
    await gmail.getByLabel('認可エンドポイント').fill(provider.endpoints.authorization);
    await gmail.getByLabel('トークンエンドポイント').fill(provider.endpoints.token);
    await gmail.getByLabel('発行者（issuer）').fill(provider.endpoints.issuer);
    // test traffic stays on 127.0.0.1: blank, this would be Google's own revocation endpoint
    await gmail.getByLabel('取り消しエンドポイント').fill(provider.endpoints.revocation);
    await gmail.getByRole('button', { name: '保存する' }).click();
    await gmail.getByText('保存しました。').waitFor();
    await gmail.getByText('設定済み').waitFor();
    assert.equal(await gmail.getByLabel('クライアントシークレット').inputValue(), '');
    assert.ok(!(await page.content()).includes(provider.clientSecret));
  });

  let accountId = '';
  await t.test('a Gmail account needs no user name or password; Googleで接続 runs the authorization in the browser', async () => {
    await page.goto(`${ui.baseUrl}/settings/general/mail-accounts/new`);
    await page.getByLabel('メールサーバー', { exact: true }).selectOption({ label: 'Gmail' });
    await page.getByText('GmailはOAuth 2.0で認証するため').waitFor();
    assert.equal(await page.getByLabel('パスワード').count(), 0);
    assert.equal(await page.getByLabel('ユーザー名').count(), 0);
    await page.getByLabel('表示名').fill('Shop');
    await page.getByLabel('メールアドレス').fill(user);
    await page.getByRole('button', { name: '追加する' }).click();
    const section = page.getByTestId('oauth-section');
    await section.getByText('未接続').waitFor();
    accountId = new URL(page.url()).pathname.split('/').pop()!;
    await section.getByRole('link', { name: 'Googleで接続' }).click();
    await section.getByText('接続しました。').waitFor();
    await section.getByText('接続済み').waitFor();
    assert.deepEqual(provider.tokenCalls, ['authorization_code']);
    await ui.shot('oauth-connected');
    // shown once: taken out of the address, so a reload does not announce it again
    await page.waitForURL((u) => u.pathname.endsWith(`/mail-accounts/${accountId}`) && !u.searchParams.has('oauth'));
    await page.reload();
    await section.getByText('接続済み').waitFor();
    assert.equal(await section.getByText('接続しました。').count(), 0);
  });

  await t.test('revoked: 再認証が必要 in the list, the reason on the page, 再認証 connects again', async () => {
    const tokens = new OAuthTokenService(ui.ctx);
    const { accessToken } = await tokens.accessToken(accountId);
    provider.revoke(user);
    // what a mail server refusing the token leads to
    await assert.rejects(tokens.accessToken(accountId, { refused: accessToken }), { code: 'OAUTH_REAUTHORIZE' });
    // the next receive run stops at the dead grant and records it as the account's last error
    const run = await receiveNow(ui.ctx, accountId);
    assert.deepEqual(
      run.errors.map((e) => e.code),
      ['OAUTH_REAUTHORIZE'],
    );
    await page.goto(`${ui.baseUrl}/settings/general/mail-accounts`);
    const row = page.locator(`tr[data-account-id="${accountId}"]`);
    await row.locator('[data-oauth="reauthorize"]', { hasText: '再認証が必要' }).waitFor();
    await row.getByRole('link', { name: 'Shop' }).click();
    const section = page.getByTestId('oauth-section');
    await section.getByTestId('oauth-reason').getByText('プロバイダーがこのアカウントの認可を受け付けなくなりました').waitFor();
    // the last receive error under 受信状態 is in the reader's language too, not the English log text
    const status = page.locator('.account-status');
    await status.getByText('プロバイダーがこのアカウントの認可を受け付けなくなりました').waitFor();
    assert.equal(await status.getByText('The provider no longer accepts').count(), 0);
    await ui.shot('oauth-reauthorize');
    provider.restore(user);
    await section.getByRole('link', { name: '再認証' }).click();
    await section.getByText('接続しました。').waitFor();
    await section.getByText('接続済み').waitFor();
  });

  await t.test('another address: the form warns that OAuth will be disconnected; saved, the account is 未接続', async () => {
    await page.goto(`${ui.baseUrl}/settings/general/mail-accounts/${accountId}/edit`);
    const address = page.getByLabel('メールアドレス');
    await address.waitFor();
    const warning = page.getByTestId('oauth-disconnects');
    await address.fill(user.toUpperCase());
    assert.equal(await warning.count(), 0, 'the same mailbox in other letter case');
    await address.fill(`other.${user}`);
    await warning.getByText('OAuth 2.0の接続は解除されます').waitFor();
    const revocations = provider.revocations;
    await page.getByRole('button', { name: '変更する' }).click();
    const section = page.getByTestId('oauth-section');
    await section.getByText('未接続').waitFor();
    assert.equal(provider.revocations, revocations + 1, 'the old grant is revoked at the provider');
  });

  await t.test('connecting cannot start (the discovery URL does not answer): the account page says why, not a JSON error', async () => {
    const { OAuthProviderService } = await import('../../src/services/oauth-providers.ts');
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await new OAuthProviderService(ui.ctx).save('test', 'gmail', { clientId: provider.clientId, endpoints: { discovery: `http://127.0.0.1:${port}/.well-known/openid-configuration` } });
    await page.goto(`${ui.baseUrl}/settings/general/mail-accounts/${accountId}`);
    const section = page.getByTestId('oauth-section');
    await section.getByRole('link', { name: 'Googleで接続' }).click();
    await section.getByText(`GmailのディスカバリーURL（http://127.0.0.1:${port}/.well-known/openid-configuration）に接続できませんでした`).waitFor();
    await page.waitForURL((u) => u.pathname.endsWith(`/mail-accounts/${accountId}`) && !u.searchParams.has('oauth'));
  });
});
