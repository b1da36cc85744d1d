// OAuth 2.0 for the presets: provider settings (/api/v1/oauth-providers, secret write-only),
// starting an account's authorization (/api/v1/mail-accounts/:id/oauth/start → 302 to the
// provider) and the provider's redirect back (/api/oauth/callback → 302 to the account's
// page in the UI).
//
// The callback arrives as a cross-site navigation from accounts.google.com or
// login.microsoftonline.com, which does not carry the SameSite=Strict session cookie; so
// `start` binds the flow to the administrator's browser with its own short-lived
// SameSite=Lax cookie holding a random value whose hash is stored with the state.
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AppError } from '../../domain/errors.ts';
import { OAuthProvider, OAuthProviderInput } from '../../domain/oauth-provider.ts';
import { finishAuthorization, startAuthorization, STATE_TTL_MS } from '../../oauth/authorization.ts';
import type { AppContext } from '../../services/context.ts';
import type { OAuthProviderService } from '../../services/oauth-providers.ts';
import { requestLang } from '../lang.ts';
import { errorResponses, IdParams } from '../schemas.ts';

const tags = ['oauth'];
export const OAUTH_CALLBACK_PATH = '/api/oauth/callback';
export const OAUTH_BINDING_COOKIE = 'yubin_oauth';
const PresetParams = Type.Object({ preset: Type.String({ maxLength: 100 }) });

/** Where the provider sends the browser back: register exactly this URL with Google / Microsoft. */
export function redirectUri(ctx: AppContext, req: FastifyRequest): string {
  const base = ctx.config.publicUrl ?? `${req.protocol}://${req.host}`;
  return `${base}${OAUTH_CALLBACK_PATH}`;
}

export function oauthProviderRoutes(ctx: AppContext, service: OAuthProviderService): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.get(
      '/oauth-providers',
      { schema: { tags, summary: 'OAuth 2.0 settings of Gmail and Exchange Online (and the redirect URI to register)', response: { 200: Type.Object({ items: Type.Array(OAuthProvider), redirectUri: Type.String() }), ...errorResponses } } },
      async (req) => ({ items: await service.list(), redirectUri: redirectUri(ctx, req) }),
    );
    app.get('/oauth-providers/:preset', { schema: { tags, summary: 'Show', params: PresetParams, response: { 200: OAuthProvider, ...errorResponses } } }, async (req) => service.get(req.params.preset));
    app.put(
      '/oauth-providers/:preset',
      { schema: { tags, summary: 'Save (the client secret is kept unless given; null removes it)', params: PresetParams, body: OAuthProviderInput, response: { 200: OAuthProvider, ...errorResponses } } },
      async (req) => service.save(req.actor, req.params.preset, req.body),
    );
    app.get(
      '/mail-accounts/:id/oauth/start',
      { schema: { tags, summary: 'Connect (or re-authorize) the account: 302 to the provider’s sign-in page', params: IdParams, response: { 302: Type.Null(), ...errorResponses } } },
      async (req, reply) => {
        // a GET that starts a flow: over plain http the session cookie is SameSite=Lax
        // (@fastify/session's secure 'auto'), so a link on another site would carry it; a
        // browser says where the navigation came from, and only Yubin's own page may start one
        const site = req.headers['sec-fetch-site'];
        if (site === 'cross-site' || site === 'same-site') throw new AppError('CSRF', 'error.crossSiteStart');
        const binding = randomBytes(24).toString('base64url');
        let url: string;
        try {
          url = await startAuthorization(ctx, { accountId: req.params.id, actor: req.actor, binding, redirectUri: redirectUri(ctx, req) });
        } catch (err) {
          // the UI's 接続 button is a plain link: a browser is sent back to the account's page
          // with the reason, as the callback does, instead of being shown a JSON error
          if (!(err instanceof AppError) || !(req.headers.accept ?? '').includes('text/html')) throw err;
          const detail = err.localized(requestLang(req)).message;
          return reply.redirect(`/settings/general/mail-accounts/${encodeURIComponent(req.params.id)}?oauth=error&problem=start&detail=${encodeURIComponent(detail)}`, 302);
        }
        reply.setCookie(OAUTH_BINDING_COOKIE, binding, {
          httpOnly: true,
          sameSite: 'lax',
          secure: 'auto',
          path: OAUTH_CALLBACK_PATH,
          maxAge: STATE_TTL_MS / 1000,
        });
        return reply.redirect(url, 302);
      },
    );
  };
}

/** The provider's redirect back; no session needed (see the top of this file). */
export function oauthCallbackRoute(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get(OAUTH_CALLBACK_PATH, { schema: { hide: true } }, async (req: FastifyRequest, reply: FastifyReply) => {
      const url = new URL(req.url, redirectUri(ctx, req));
      const binding = req.cookies[OAUTH_BINDING_COOKIE];
      reply.clearCookie(OAUTH_BINDING_COOKIE, { path: OAUTH_CALLBACK_PATH });
      try {
        const { accountId } = await finishAuthorization(ctx, { callbackUrl: url, binding });
        return reply.redirect(`/settings/general/mail-accounts/${encodeURIComponent(accountId)}?oauth=connected`, 302);
      } catch (err) {
        if (!(err instanceof AppError) || err.code !== 'OAUTH_CALLBACK') throw err;
        const accountId = err.details.accountId as string | undefined;
        const q = new URLSearchParams({ oauth: 'error', problem: String(err.details.problem ?? 'state') });
        if (err.params.error) q.set('detail', String(err.params.error).slice(0, 500));
        const page = accountId ? `/settings/general/mail-accounts/${encodeURIComponent(accountId)}` : '/settings/general/mail-accounts';
        return reply.redirect(`${page}?${q}`, 302);
      }
    });
  };
}
