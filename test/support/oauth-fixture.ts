// A mail account on a preset (Gmail by default) whose provider is the in-process mock
// (test/support/oauth-provider.ts), and `connect()`: the authorization code flow as the
// administrator's browser runs it — start, the provider's sign-in page, the callback.
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { PresetKey } from '../../src/domain/presets.ts';
import { finishAuthorization, startAuthorization } from '../../src/oauth/authorization.ts';
import type { AppContext } from '../../src/services/context.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { OAuthProviderService } from '../../src/services/oauth-providers.ts';
import { startMockProvider, type MockProvider } from './oauth-provider.ts';

export interface OAuthFixture {
  provider: MockProvider;
  preset: PresetKey;
  serverId: string;
  accountId: string;
  /** the XOAUTH2 user: the address (Gmail) */
  user: string;
  connect(): Promise<void>;
}

export async function oauthFixture(t: TestContext, ctx: AppContext, opts: { preset?: PresetKey; provider?: MockProvider; user?: string } = {}): Promise<OAuthFixture> {
  const preset = opts.preset ?? 'gmail';
  const provider = opts.provider ?? (await startMockProvider(t));
  await new OAuthProviderService(ctx).save('test', preset, {
    clientId: provider.clientId,
    clientSecret: provider.clientSecret,
    // discovery only: the endpoints come from the mock's metadata document
    endpoints: { discovery: `${provider.issuer}/.well-known/openid-configuration` },
    ...(preset === 'exchange_online' ? { tenant: 'example.onmicrosoft.com' } : {}),
  });
  const server = (await ctx.repos.servers.list()).find((s) => s.preset === preset)!;
  const user = opts.user ?? `o${randomBytes(5).toString('hex')}@example.com`;
  const account = await new MailAccountService(ctx).add('test', {
    displayName: user,
    serverId: server.id,
    address: user,
    ...(preset === 'exchange_online' ? { username: user } : {}),
  });
  return {
    provider,
    preset,
    serverId: server.id,
    accountId: account.id,
    user,
    async connect() {
      const binding = randomBytes(8).toString('hex');
      const url = await startAuthorization(ctx, { accountId: account.id, actor: 'test', binding, redirectUri: 'http://127.0.0.1:9/api/oauth/callback' });
      await finishAuthorization(ctx, { callbackUrl: await provider.authorize(url), binding });
    },
  };
}
