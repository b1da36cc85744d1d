// Connecting a mail account on a preset: the OAuth 2.0 authorization code flow (RFC 6749
// §4.1) with PKCE (RFC 7636, S256) and state. `start` remembers the state — hashed, with
// the PKCE verifier sealed, bound to the administrator's browser and short-lived — and
// returns the provider's authorization URL; `finish` takes the state out (single use),
// checks the binding, exchanges the code and stores the grant in the account.
import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import { AppError, notFound } from '../domain/errors.ts';
import type { AppContext } from '../services/context.ts';
import { OAuthProviderService } from '../services/oauth-providers.ts';
import { classifyProviderError, clientConfig } from './provider-client.ts';
import { grantFromTokens } from './token-service.ts';

/** An authorization started and not finished within this long is void. */
export const STATE_TTL_MS = 10 * 60_000;

export function hashState(state: string): string {
  return createHash('sha256').update(state).digest('hex');
}

export interface StartOptions {
  accountId: string;
  actor: string;
  /** random value also set in the administrator's browser (cookie): the callback must bring it */
  binding: string;
  redirectUri: string;
  now?: Date;
}

export async function startAuthorization(ctx: AppContext, o: StartOptions): Promise<string> {
  const account = await ctx.repos.accounts.getRow(o.accountId);
  if (!account) throw notFound('what.mailAccount');
  const server = await ctx.repos.servers.get(account.server_id);
  if (!server?.preset) throw new AppError('OAUTH_NOT_PRESET', 'oauth.notPreset');
  const settings = await new OAuthProviderService(ctx).clientSettings(server.preset);
  if (!settings.endpoints.authorization) throw new AppError('OAUTH_NOT_CONFIGURED', 'oauth.notConfigured', { provider: server.name });
  const now = o.now ?? new Date();
  await ctx.repos.oauth.pruneStates(now.toISOString());
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  await ctx.repos.oauth.insertState(ctx.db.kysely, {
    state_hash: hashState(state),
    account_id: o.accountId,
    session_binding: hashState(o.binding),
    actor: o.actor,
    code_verifier_enc: ctx.secrets.seal(verifier),
    redirect_uri: o.redirectUri,
    expires_at: new Date(now.getTime() + STATE_TTL_MS).toISOString(),
  });
  const params: Record<string, string> = {
    redirect_uri: o.redirectUri,
    response_type: 'code',
    scope: settings.scopes.join(' '),
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    login_hint: account.username || account.address,
  };
  // Google issues a refresh token only for offline access, and again only with prompt=consent
  if (server.preset === 'gmail') Object.assign(params, { access_type: 'offline', prompt: 'consent' });
  return oidc.buildAuthorizationUrl(clientConfig(settings), params).href;
}

export interface FinishOptions {
  /** the callback URL as the browser called it (code, state, or error) */
  callbackUrl: URL;
  /** the binding cookie's value, undefined when the browser sent none */
  binding: string | undefined;
  now?: Date;
}

/** The account connected; throws AppError OAUTH_CALLBACK (with the account id when known). */
export async function finishAuthorization(ctx: AppContext, o: FinishOptions): Promise<{ accountId: string }> {
  const q = o.callbackUrl.searchParams;
  const state = q.get('state');
  const row = state ? await ctx.repos.oauth.takeState(hashState(state)) : undefined;
  const now = o.now ?? new Date();
  if (!row || row.expires_at < now.toISOString()) throw new AppError('OAUTH_CALLBACK', 'oauth.stateInvalid', {}, [], { problem: 'state' });
  const fail = (key: 'oauth.sessionMismatch' | 'oauth.denied' | 'oauth.exchangeFailed', problem: string, params: Record<string, unknown> = {}) =>
    new AppError('OAUTH_CALLBACK', key, params, [], { accountId: row.account_id, problem });
  if (!o.binding || hashState(o.binding) !== row.session_binding) throw fail('oauth.sessionMismatch', 'session');
  const providerError = q.get('error');
  if (providerError) {
    const c = classifyProviderError({ error: providerError, error_description: q.get('error_description') ?? '' });
    const problem = providerError === 'access_denied' && !c.problem ? 'access_denied' : (c.problem ?? providerError);
    throw fail('oauth.denied', problem, { error: `${providerError}${q.get('error_description') ? `: ${q.get('error_description')}` : ''}` });
  }
  const account = await ctx.repos.accounts.getRow(row.account_id);
  const server = account ? await ctx.repos.servers.get(account.server_id) : undefined;
  if (!account || !server?.preset) throw notFound('what.mailAccount');
  const settings = await new OAuthProviderService(ctx).clientSettings(server.preset);
  let tokens: oidc.TokenEndpointResponse;
  try {
    tokens = await oidc.authorizationCodeGrant(
      clientConfig(settings),
      o.callbackUrl,
      { pkceCodeVerifier: ctx.secrets.open(row.code_verifier_enc), expectedState: state! },
      { redirect_uri: row.redirect_uri },
    );
  } catch (err) {
    const c = classifyProviderError(err);
    ctx.log.warn({ accountId: row.account_id, error: c.error, description: c.description }, 'oauth.callback.exchange_failed');
    throw fail('oauth.exchangeFailed', c.problem ?? 'provider', { error: `${c.error}: ${c.description}` });
  }
  const grant = grantFromTokens(tokens, now, null);
  await ctx.db.transaction(async (trx) => {
    await ctx.repos.oauth.replaceGrant(trx, row.account_id, ctx.secrets.seal(JSON.stringify(grant)));
    await ctx.repos.oauth.wakeHeldDeliveries(trx, row.account_id, now.toISOString());
    await ctx.repos.audit.append(trx, {
      actor: row.actor,
      action: 'mail_account.oauth_connect',
      targetType: 'mail_account',
      targetId: row.account_id,
      targetName: account.address,
      fields: ['oauth'],
    });
  });
  ctx.log.info({ accountId: row.account_id, hasRefreshToken: grant.refreshToken !== null, expiresAt: grant.expiresAt }, 'oauth.callback.connected');
  return { accountId: row.account_id };
}
