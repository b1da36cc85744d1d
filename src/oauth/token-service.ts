// The one way protocol code gets an OAuth 2.0 access token for an account (XOAUTH2 for
// IMAP, POP3 and SMTP). The grant lives sealed in the account row; an access token that
// expires within the skew margin is refreshed first (RFC 6749 §6), and EVERY refresh token
// the provider sends back is stored (Microsoft rotates it on each use; losing the new one
// loses the account).
//
// Several workers (processes, machines) may need a fresh token at the same moment. One
// takes the refresh lease and calls the provider; the others wait for the grant's version
// to change and use what it stored — the provider sees one refresh. The write itself is a
// compare-and-swap on the version, so even a lease that expired mid-refresh cannot make
// an older refresh token overwrite a newer one.
//
// A dead grant (revoked, expired, consent withdrawn, client secret expired) flags the
// account "re-authorize": from then on this service answers at once without calling the
// provider, the receive scheduler skips the account, and sends wait (outcome.ts) — no
// retry storm — until the administrator connects the account again.
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import type { PresetKey } from '../domain/presets.ts';
import { t } from '../i18n/index.ts';
import { MailError } from '../protocols/mail-error.ts';
import type { AppContext } from '../services/context.ts';
import { OAuthProviderService } from '../services/oauth-providers.ts';
import { classifyProviderError, clientConfig } from './provider-client.ts';

/** Refresh this long before the access token's expiry: clocks drift, and a login takes time. */
export const REFRESH_SKEW_MS = 5 * 60_000;
/** One refresh per grant at a time across processes; a crashed holder frees it after this. */
export const REFRESH_LEASE_MS = 30_000;
/** How often a worker waiting for another's refresh looks at the grant again. */
export const REFRESH_WAIT_POLL_MS = 50;

/** The grant as sealed in mail_accounts.oauth_token_enc. */
export interface StoredGrant {
  accessToken: string;
  refreshToken: string | null;
  /** ISO time by OUR clock (received-at + expires_in), so the provider's clock does not matter */
  expiresAt: string | null;
  scope: string | null;
  obtainedAt: string;
}

export interface AccessToken {
  /** the XOAUTH2 user: the account's user name, or its address (Gmail) */
  user: string;
  accessToken: string;
  expiresAt: string | null;
}

export interface TokenServiceOptions {
  now?: () => Date;
  skewMs?: number;
  leaseMs?: number;
  /** this worker's name in the refresh lease */
  holder?: string;
}

export function refreshLeaseName(accountId: string): string {
  return `oauth-refresh:${accountId}`;
}

export function grantFromTokens(tokens: oidc.TokenEndpointResponse, now: Date, previousRefreshToken: string | null): StoredGrant {
  const expiresIn = typeof tokens.expires_in === 'number' ? tokens.expires_in : Number(tokens.expires_in ?? NaN);
  return {
    accessToken: tokens.access_token,
    // a provider that does not rotate sends no refresh_token: the old one stays valid
    refreshToken: tokens.refresh_token ?? previousRefreshToken,
    expiresAt: Number.isFinite(expiresIn) ? new Date(now.getTime() + expiresIn * 1000).toISOString() : null,
    scope: typeof tokens.scope === 'string' ? tokens.scope : null,
    obtainedAt: now.toISOString(),
  };
}

export function reauthorizeError(code: string, description: string | null): MailError {
  return new MailError('OAUTH_REAUTHORIZE', `${t('en', `oauth.error.${code}`)}${description ? ` (${description})` : ''}`, { kind: 'auth', command: 'OAUTH' });
}

export class OAuthTokenService {
  readonly #ctx: AppContext;
  readonly #now: () => Date;
  readonly #skew: number;
  readonly #leaseMs: number;
  readonly #holder: string;

  constructor(ctx: AppContext, opts: TokenServiceOptions = {}) {
    this.#ctx = ctx;
    this.#now = opts.now ?? (() => new Date());
    this.#skew = opts.skewMs ?? REFRESH_SKEW_MS;
    this.#leaseMs = opts.leaseMs ?? REFRESH_LEASE_MS;
    this.#holder = opts.holder ?? `oauth-${randomUUID()}`;
  }

  /**
   * A valid access token for the account's preset, refreshed (once, across workers) when due.
   * `refused`: a token a mail server just refused although it looked valid (revoked, or the
   * server's clock ahead of ours) — refresh it now, unless another worker already has.
   */
  async accessToken(accountId: string, opts: { refused?: string | undefined } = {}): Promise<AccessToken> {
    const account = await this.#ctx.repos.accounts.getRow(accountId);
    if (!account) throw new MailError('OAUTH_NOT_CONNECTED', `mail account ${accountId} is gone`, { kind: 'config' });
    const server = await this.#ctx.repos.servers.get(account.server_id);
    if (!server?.preset) throw new MailError('AUTH_UNSUPPORTED', `${server?.name ?? 'this mail server'} does not use OAuth 2.0`, { kind: 'config', command: 'OAUTH' });
    const user = account.username || account.address;
    const deadline = Date.now() + this.#leaseMs * 2;
    let firstVersion: number | undefined;
    for (;;) {
      const grant = await this.#ctx.repos.oauth.grant(accountId);
      if (!grant?.tokenEnc) throw new MailError('OAUTH_NOT_CONNECTED', t('en', 'oauth.notConnected'), { kind: 'auth', command: 'OAUTH' });
      if (grant.status === 'reauthorize') throw reauthorizeError(grant.errorCode ?? 'invalid_grant', grant.errorMessage);
      firstVersion ??= grant.version;
      const stored = JSON.parse(this.#ctx.secrets.open(grant.tokenEnc)) as StoredGrant;
      // another worker refreshed while we looked: its token is as fresh as one can get
      const justRefreshed = grant.version !== firstVersion && !this.#expired(stored);
      const refused = stored.accessToken === opts.refused;
      if (!refused && (justRefreshed || this.#fresh(stored))) return { user, accessToken: stored.accessToken, expiresAt: stored.expiresAt };
      if (!stored.refreshToken) {
        await this.#ctx.repos.oauth.flagReauthorize(accountId, grant.version, 'invalid_grant', 'no refresh token');
        throw reauthorizeError('invalid_grant', 'no refresh token');
      }
      const lease = refreshLeaseName(accountId);
      if (await this.#ctx.repos.leases.acquire(lease, this.#holder, this.#leaseMs)) {
        try {
          const now = await this.#ctx.repos.oauth.grant(accountId);
          // refreshed by another worker between our read and our lease: use theirs
          if (now?.version !== grant.version) continue;
          const fresh = await this.#refresh(accountId, server.preset, grant.version, stored);
          if (fresh) return { user, accessToken: fresh.accessToken, expiresAt: fresh.expiresAt };
          continue; // the swap lost (re-authorized meanwhile): read again
        } finally {
          await this.#ctx.repos.leases.release(lease, this.#holder);
        }
      }
      // another worker is refreshing: wait for its result instead of refreshing too
      if (Date.now() > deadline) throw new MailError('OAUTH_PROVIDER', 'timed out waiting for another worker’s token refresh', { kind: 'transient', command: 'OAUTH' });
      await this.#waitForChange(accountId, grant.version, lease);
    }
  }

  /** Not due for a refresh: more than the skew margin left (at most half the token's lifetime). */
  #fresh(g: StoredGrant): boolean {
    if (!g.expiresAt) return true; // the provider gave no lifetime: use it until refused
    const expires = Date.parse(g.expiresAt);
    // a provider issuing tokens shorter-lived than the margin would otherwise see a refresh per use
    const margin = Math.min(this.#skew, (expires - Date.parse(g.obtainedAt)) / 2);
    return expires - this.#now().getTime() > margin;
  }

  #expired(g: StoredGrant): boolean {
    return g.expiresAt !== null && Date.parse(g.expiresAt) <= this.#now().getTime();
  }

  async #refresh(accountId: string, preset: PresetKey, version: number, stored: StoredGrant): Promise<StoredGrant | undefined> {
    const settings = await new OAuthProviderService(this.#ctx).clientSettings(preset).catch((err: unknown) => {
      // not set up: a settings problem; a discovery document that could not be read: try later
      if ((err as { code?: string }).code === 'OAUTH_NOT_CONFIGURED') throw new MailError('OAUTH_PROVIDER', t('en', 'oauth.notConfigured', { provider: preset }), { kind: 'config', command: 'OAUTH' });
      throw new MailError('OAUTH_PROVIDER', `${t('en', 'oauth.providerUnavailable')} (${(err as Error).message})`, { kind: 'transient', command: 'OAUTH', cause: err });
    });
    const log = this.#ctx.log.child({ accountId, event: 'oauth.refresh' });
    let tokens: oidc.TokenEndpointResponse;
    try {
      tokens = await oidc.refreshTokenGrant(clientConfig(settings), stored.refreshToken!);
    } catch (err) {
      const c = classifyProviderError(err);
      if (c.problem) {
        await this.#ctx.repos.oauth.flagReauthorize(accountId, version, c.problem, `${c.error}: ${c.description}`);
        log.warn({ error: c.error, problem: c.problem, description: c.description }, 'oauth.refresh.grant_dead');
        throw reauthorizeError(c.problem, `${c.error}: ${c.description}`);
      }
      log.warn({ error: c.error, description: c.description }, 'oauth.refresh.failed');
      throw new MailError('OAUTH_PROVIDER', `${t('en', 'oauth.providerUnavailable')} (${c.error}: ${c.description})`, { kind: 'transient', command: 'OAUTH', cause: err });
    }
    const next = grantFromTokens(tokens, this.#now(), stored.refreshToken);
    const swapped = await this.#ctx.repos.oauth.swapToken(accountId, version, this.#ctx.secrets.seal(JSON.stringify(next)));
    log.info({ rotated: next.refreshToken !== stored.refreshToken, swapped, expiresAt: next.expiresAt }, 'oauth.refresh.done');
    return swapped ? next : undefined;
  }

  async #waitForChange(accountId: string, version: number, lease: string): Promise<void> {
    const until = Date.now() + this.#leaseMs;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, REFRESH_WAIT_POLL_MS));
      const g = await this.#ctx.repos.oauth.grant(accountId);
      if (g?.version !== version || g.status === 'reauthorize') return;
      const holder = await this.#ctx.repos.leases.holderOf(lease);
      if (!holder || holder.expiresAt < new Date().toISOString()) return; // the holder gave up or died
    }
  }
}
