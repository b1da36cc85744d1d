// What receiving, sending and the connection test log in with: on the presets (Gmail,
// Exchange Online) XOAUTH2 with an access token from the token service, the XOAUTH2 user
// being the account's user name or, for Gmail, its address; everywhere else the stored
// user name and password. Also resolves where a preset's servers are (a test override).
import type { MailServer } from '../domain/mail-server.ts';
import { t, type Lang } from '../i18n/index.ts';
import { isMailError, type MailError } from '../protocols/mail-error.ts';
import type { AppContext } from '../services/context.ts';
import { MailAccountService, type AccountCredentials } from '../services/mail-accounts.ts';
import { OAuthProviderService } from '../services/oauth-providers.ts';
import { OAuthTokenService } from './token-service.ts';

export interface MailLogin extends AccountCredentials {
  /** XOAUTH2 access token (presets), else null */
  accessToken: string | null;
  /** when the access token expires (a pooled SMTP session is not reused past it) */
  accessTokenExpiresAt: string | null;
}

/** The account's mail server as the protocol clients must reach it. */
export async function serverForAccount(ctx: AppContext, serverId: string): Promise<MailServer | undefined> {
  const server = await ctx.repos.servers.get(serverId);
  return server ? new OAuthProviderService(ctx).resolveServer(server) : undefined;
}

/** Throws MailError OAUTH_* when a preset account has no usable grant. */
export async function mailLogin(
  ctx: AppContext,
  accountId: string,
  server: MailServer,
  tokens = new OAuthTokenService(ctx),
  opts: { refused?: string | undefined } = {},
): Promise<MailLogin> {
  const creds = await new MailAccountService(ctx).credentials(accountId);
  if (!server.preset) return { ...creds, accessToken: null, accessTokenExpiresAt: null };
  const token = await tokens.accessToken(accountId, opts);
  // XOAUTH2 sends user and token together: no password, and SMTP uses the same identity
  return { username: token.user, password: null, smtpUsername: token.user, smtpPassword: null, accessToken: token.accessToken, accessTokenExpiresAt: token.expiresAt };
}

/** The OAuth failure in the reader's language (connection test, UI). */
export async function oauthFailureMessage(ctx: AppContext, lang: Lang, accountId: string, err: MailError): Promise<string> {
  if (err.code === 'OAUTH_REAUTHORIZE') {
    const grant = await ctx.repos.oauth.grant(accountId);
    const problem = grant?.errorCode ?? 'invalid_grant';
    return `${t(lang, `oauth.error.${problem}`)}${grant?.errorMessage ? ` (${grant.errorMessage})` : ''}`;
  }
  if (err.code === 'OAUTH_NOT_CONNECTED') return t(lang, 'oauth.notConnected');
  if (err.code === 'OAUTH_PROVIDER') return `${t(lang, 'oauth.providerUnavailable')} ${err.message}`;
  return err.message;
}

export function isOAuthError(err: unknown): err is MailError {
  return isMailError(err) && err.code.startsWith('OAUTH_');
}
