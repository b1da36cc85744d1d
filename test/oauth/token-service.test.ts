// The OAuth 2.0 token service against oauth2-mock-server (in-process, rotating refresh
// tokens like Microsoft): first connection, refresh with every rotated refresh token saved,
// clock skew, a revoked grant (re-authorize flag, no retry storm), and two workers
// refreshing one grant at once (one refresh, both use it).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { t as tr } from '../../src/i18n/index.ts';
import { classifyProviderError } from '../../src/oauth/provider-client.ts';
import { finishAuthorization, startAuthorization } from '../../src/oauth/authorization.ts';
import { OAuthTokenService, REFRESH_SKEW_MS, type StoredGrant } from '../../src/oauth/token-service.ts';
import { startReceiveScheduler } from '../../src/receive/scheduler.ts';
import type { AppContext } from '../../src/services/context.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { contextFor, ENGINES } from '../support/app-context.ts';
import { twoContexts } from '../send/send-fixture.ts';
import { oauthFixture } from '../support/oauth-fixture.ts';

const HOUR = 3_600_000;

async function storedGrant(ctx: AppContext, accountId: string): Promise<StoredGrant & { version: number }> {
  const g = (await ctx.repos.oauth.grant(accountId))!;
  return { ...(JSON.parse(ctx.secrets.open(g.tokenEnc!)) as StoredGrant), version: g.version };
}

const refreshes = (calls: string[]) => calls.filter((c) => c === 'refresh_token').length;

describe('OAuth token service', () => {
  test('first connection: the grant is stored sealed and its access token used until it is due', async (t) => {
    const ctx = await contextFor(t, 'sqlite');
    if (!ctx) return;
    const f = await oauthFixture(t, ctx);
    assert.equal((await new MailAccountService(ctx).get(f.accountId)).oauth.status, 'not_connected');
    const scheduler = startReceiveScheduler(ctx, { pollIntervalMs: 3_600_000 });
    await scheduler.tick();
    await scheduler.stop();
    assert.equal((await ctx.repos.accounts.getRow(f.accountId))!.last_run_at, null, 'not connected yet: the scheduler leaves it alone');
    await f.connect();
    const account = await new MailAccountService(ctx).get(f.accountId);
    assert.equal(account.oauth.status, 'connected');
    const row = (await ctx.repos.accounts.getRow(f.accountId))!;
    const grant = await storedGrant(ctx, f.accountId);
    assert.ok(grant.refreshToken && f.provider.liveRefreshTokens.has(grant.refreshToken));
    assert.ok(!row.oauth_token_enc!.includes(grant.accessToken) && !row.oauth_token_enc!.includes(grant.refreshToken!), 'sealed at rest');
    const token = await new OAuthTokenService(ctx).accessToken(f.accountId);
    assert.equal(token.accessToken, grant.accessToken);
    assert.equal(token.user, f.user, 'Gmail: the address is the XOAUTH2 user');
    assert.deepEqual(f.provider.tokenCalls, ['authorization_code']);
    const audit = await ctx.repos.audit.list({ limit: 10 });
    assert.ok(audit.items.some((e) => e.action === 'mail_account.oauth_connect' && e.targetId === f.accountId));

    // deleting the account revokes the grant at the provider (RFC 7009)
    await new MailAccountService(ctx).delete('test', f.accountId);
    assert.equal(f.provider.revocations, 1);
  });

  test('a grant is for one mailbox: another address drops it (not connected, revoked at the provider); other changes keep it', async (t) => {
    const ctx = await contextFor(t, 'sqlite');
    if (!ctx) return;
    const f = await oauthFixture(t, ctx);
    await f.connect();
    const accounts = new MailAccountService(ctx);
    const renamed = await accounts.change('test', f.accountId, { displayName: 'Renamed', address: f.user.toUpperCase() });
    assert.equal(renamed.oauth.status, 'connected', 'the same address in other letter case is the same mailbox');
    assert.equal(f.provider.revocations, 0);
    const moved = await accounts.change('test', f.accountId, { address: `other.${f.user}` });
    assert.equal(moved.oauth.status, 'not_connected');
    assert.equal(f.provider.revocations, 1, 'the old grant is ended at the provider');
    await assert.rejects(new OAuthTokenService(ctx).accessToken(f.accountId), { code: 'OAUTH_NOT_CONNECTED' });
    // a new consent connects it again
    await f.connect();
    assert.equal((await accounts.get(f.accountId)).oauth.status, 'connected');
  });

  test('every refresh rotates the refresh token and the new one is saved (the old one is dead)', async (t) => {
    const ctx = await contextFor(t, 'sqlite');
    if (!ctx) return;
    const f = await oauthFixture(t, ctx);
    await f.connect();
    let clock = Date.now();
    const tokens = new OAuthTokenService(ctx, { now: () => new Date(clock) });
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) {
      clock += 2 * HOUR; // the access token has expired
      const before = await storedGrant(ctx, f.accountId);
      const token = await tokens.accessToken(f.accountId);
      const after = await storedGrant(ctx, f.accountId);
      assert.equal(token.accessToken, after.accessToken);
      assert.notEqual(after.refreshToken, before.refreshToken, 'rotated');
      assert.ok(!f.provider.liveRefreshTokens.has(before.refreshToken!), 'the provider killed the used one');
      assert.ok(f.provider.liveRefreshTokens.has(after.refreshToken!), 'the stored one is the live one');
      assert.equal(after.version, before.version + 1);
      seen.add(token.accessToken);
    }
    assert.equal(seen.size, 3);
    assert.equal(refreshes(f.provider.tokenCalls), 3);
  });

  test('clock skew: a token within the skew margin of its expiry is refreshed first, one outside it is not', async (t) => {
    const ctx = await contextFor(t, 'sqlite');
    if (!ctx) return;
    const f = await oauthFixture(t, ctx);
    await f.connect();
    const { expiresAt, accessToken } = await storedGrant(ctx, f.accountId);
    const expires = Date.parse(expiresAt!);
    // our clock a little behind the danger zone: the stored token is used
    const early = new OAuthTokenService(ctx, { now: () => new Date(expires - REFRESH_SKEW_MS - 60_000) });
    assert.equal((await early.accessToken(f.accountId)).accessToken, accessToken);
    assert.equal(refreshes(f.provider.tokenCalls), 0);
    // still valid by its expiry, but inside the margin (a server clock ahead of ours would refuse it): refreshed
    const late = new OAuthTokenService(ctx, { now: () => new Date(expires - REFRESH_SKEW_MS + 60_000) });
    const refreshed = await late.accessToken(f.accountId);
    assert.notEqual(refreshed.accessToken, accessToken);
    assert.equal(refreshes(f.provider.tokenCalls), 1);
    // the new expiry is measured on our clock at receipt, not taken from the provider's clock
    assert.equal(Date.parse(refreshed.expiresAt!), expires - REFRESH_SKEW_MS + 60_000 + f.provider.accessTokenTtl * 1000);
  });

  test('a revoked grant flags the account "re-authorize": no more provider calls, the scheduler skips it, a new consent clears it', async (t) => {
    const ctx = await contextFor(t, 'sqlite');
    if (!ctx) return;
    const f = await oauthFixture(t, ctx);
    await f.connect();
    f.provider.revoke(f.user);
    const later = () => new Date(Date.now() + 2 * HOUR);
    const tokens = new OAuthTokenService(ctx, { now: later });
    await assert.rejects(tokens.accessToken(f.accountId), (e: Error & { code?: string }) => e.code === 'OAUTH_REAUTHORIZE' && /no longer accepts/.test(e.message));
    const account = await new MailAccountService(ctx).get(f.accountId);
    assert.equal(account.oauth.status, 'reauthorize');
    assert.equal(account.oauth.errorCode, 'invalid_grant');
    assert.match(account.oauth.errorDescription ?? '', /expired or revoked/);
    const calls = f.provider.tokenCalls.length;
    for (let i = 0; i < 5; i++) await assert.rejects(new OAuthTokenService(ctx, { now: later }).accessToken(f.accountId), { code: 'OAUTH_REAUTHORIZE' });
    assert.equal(f.provider.tokenCalls.length, calls, 'no retry storm at the provider');

    const scheduler = startReceiveScheduler(ctx, { pollIntervalMs: 3_600_000 });
    await scheduler.tick();
    await scheduler.stop();
    assert.equal((await ctx.repos.accounts.getRow(f.accountId))!.last_run_at, null, 'the scheduler did not run it');

    // the administrator re-authorizes after the user consented again
    f.provider.restore(f.user);
    await f.connect();
    assert.equal((await new MailAccountService(ctx).get(f.accountId)).oauth.status, 'connected');
    const fresh = await new OAuthTokenService(ctx).accessToken(f.accountId);
    assert.ok(f.provider.accepts(f.user, fresh.accessToken));
  });

  test('Exchange Online: the Outlook scopes with offline_access, the account name as login hint and XOAUTH2 user', async (t) => {
    const ctx = await contextFor(t, 'sqlite');
    if (!ctx) return;
    const f = await oauthFixture(t, ctx, { preset: 'exchange_online' });
    await ctx.repos.accounts.update(ctx.db.kysely, f.accountId, { username: 'taro@contoso.example' }, new Date().toISOString());
    const url = new URL(await startAuthorization(ctx, { accountId: f.accountId, actor: 'test', binding: 'b', redirectUri: 'http://127.0.0.1:9/api/oauth/callback' }));
    assert.equal(
      url.searchParams.get('scope'),
      'https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/POP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access',
    );
    assert.equal(url.searchParams.get('login_hint'), 'taro@contoso.example');
    assert.equal(url.searchParams.get('access_type'), null, 'Google-only parameter');
    await finishAuthorization(ctx, { callbackUrl: await f.provider.authorize(url.href), binding: 'b' });
    assert.equal((await new OAuthTokenService(ctx).accessToken(f.accountId)).user, 'taro@contoso.example');
  });

  for (const engine of ENGINES) {
    test(`two workers refresh one grant at once: one token-endpoint call, both use its token (${engine})`, async (t) => {
      // two processes on one database: their own connections, no shared memory
      const both = await twoContexts(t, engine);
      if (!both) return;
      const [ctx, other] = both;
      const f = await oauthFixture(t, ctx);
      await f.connect();
      const before = await storedGrant(ctx, f.accountId);
      f.provider.tokenDelayMs = 300; // the first refresh is still in flight when the second worker looks
      const later = () => new Date(Date.now() + 2 * HOUR);
      const [a, b] = await Promise.all([
        new OAuthTokenService(ctx, { now: later }).accessToken(f.accountId),
        new OAuthTokenService(other, { now: later }).accessToken(f.accountId),
      ]);
      assert.equal(refreshes(f.provider.tokenCalls), 1, 'only one refresh reached the provider');
      assert.equal(a.accessToken, b.accessToken);
      const after = await storedGrant(ctx, f.accountId);
      assert.equal(after.version, before.version + 1);
      assert.equal(after.accessToken, a.accessToken);
      assert.ok(f.provider.liveRefreshTokens.has(after.refreshToken!), 'the rotated refresh token is the stored one');
    });
  }
});

describe('provider errors', () => {
  test('Google and Microsoft Entra errors map to re-authorize reasons with ja/en messages; outages do not', () => {
    const cases: [unknown, string | undefined][] = [
      [{ error: 'invalid_grant', error_description: 'Token has been expired or revoked.', status: 400 }, 'invalid_grant'],
      [{ error: 'invalid_grant', error_description: 'AADSTS65001: The user or administrator has not consented to use the application.', status: 400 }, 'consent_required'],
      [{ error: 'invalid_grant', error_description: 'AADSTS90094: The grant requires admin permission.', status: 400 }, 'admin_consent_required'],
      [{ error: 'invalid_grant', error_description: 'AADSTS50076: Due to a configuration change made by your administrator, you must use multi-factor authentication.', status: 400 }, 'interaction_required'],
      [{ error: 'invalid_client', error_description: 'AADSTS7000222: The provided client secret keys are expired.', status: 401 }, 'invalid_client'],
      [{ error: 'temporarily_unavailable', status: 503 }, undefined],
      [{ error: 'server_error', status: 500 }, undefined],
      [Object.assign(new TypeError('fetch failed'), { code: 'ECONNREFUSED' }), undefined],
    ];
    for (const [err, problem] of cases) assert.equal(classifyProviderError(err).problem, problem, JSON.stringify(err));
    for (const p of ['invalid_grant', 'consent_required', 'admin_consent_required', 'interaction_required', 'invalid_client']) {
      assert.match(tr('ja', `oauth.error.${p}`), /[ぁ-んァ-ン一-龠]/, p);
      assert.doesNotMatch(tr('en', `oauth.error.${p}`), /oauth\.error/, p);
    }
  });
});
