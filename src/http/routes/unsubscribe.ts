// The page behind bulk mail's unsubscribe links (src/send/unsubscribe.ts), public: no
// session, no API token, no CSRF token (the link itself is the credential).
//
//   GET  /unsubscribe/TOKEN   a page naming the address, with a button; a GET changes
//                             nothing, since mail scanners and link previews open links
//   POST /unsubscribe/TOKEN   the address goes on the suppression list: the page's button,
//                             or a mailbox provider's one-click POST (RFC 8058 §3.2, body
//                             "List-Unsubscribe=One-Click", form-encoded or multipart)
//
// An unknown token, or none, is a 404 page and changes nothing.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { t, type Lang } from '../../i18n/index.ts';
import { escapeHtml } from '../../mail/template.ts';
import type { AppContext } from '../../services/context.ts';
import { UNSUBSCRIBE_PATH, unsubscribe, unsubscribeAddress } from '../../send/unsubscribe.ts';
import { requestLang } from '../lang.ts';

/** A one-click POST is a few dozen bytes. */
const BODY_LIMIT = 4096;

interface TokenRoute {
  Params: { token: string };
}

export function unsubscribeRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    // whatever a provider posts (form-encoded, multipart, none): only the token counts
    app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body));
    // generous: a mailbox provider posts its users' one-clicks from a few addresses
    const config = { rateLimit: { max: 300, timeWindow: '1 minute' } };
    const schema = { hide: true };

    // the address with its token cut off: the same page as a broken link, not the web UI
    for (const method of ['GET', 'POST'] as const) {
      // bodyLimit on the route too: the 413 then names the limit that refused the body (the
      // route's, which is also what a JSON body is held to), not the API's 1 MiB
      app.route({ method, url: UNSUBSCRIBE_PATH, config, schema, bodyLimit: BODY_LIMIT, handler: async (req, reply) => invalid(reply, requestLang(req)) });
    }

    app.get<TokenRoute>(`${UNSUBSCRIBE_PATH}/:token`, { config, schema }, async (req, reply) => {
      const lang = requestLang(req);
      const address = unsubscribeAddress(ctx.secretKey, req.params.token);
      if (!address) return invalid(reply, lang);
      const body = `<p>${escapeHtml(t(lang, 'unsubscribe.confirm', { address }))}</p>
<form method="post"><button type="submit" id="unsubscribe">${escapeHtml(t(lang, 'unsubscribe.button'))}</button></form>`;
      return page(reply, lang, 200, body);
    });

    app.post<TokenRoute>(`${UNSUBSCRIBE_PATH}/:token`, { config, schema, bodyLimit: BODY_LIMIT }, async (req: FastifyRequest<TokenRoute>, reply) => {
      const lang = requestLang(req);
      const oneClick = typeof req.body === 'string' && req.body.includes('List-Unsubscribe=One-Click');
      const address = await unsubscribe(ctx, req.params.token, oneClick ? 'one-click' : 'page');
      if (!address) return invalid(reply, lang);
      req.log.info({ event: 'unsubscribe', how: oneClick ? 'one-click' : 'page' }, 'a recipient unsubscribed from bulk mail');
      return page(reply, lang, 200, `<p id="done">${escapeHtml(t(lang, 'unsubscribe.done', { address }))}</p>`);
    });
  };
}

function invalid(reply: FastifyReply, lang: Lang): FastifyReply {
  return page(reply, lang, 404, `<p id="invalid">${escapeHtml(t(lang, 'unsubscribe.invalid'))}</p>`);
}

function page(reply: FastifyReply, lang: Lang, status: number, body: string): FastifyReply {
  const title = escapeHtml(t(lang, 'unsubscribe.title'));
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .type('text/html; charset=utf-8')
    .send(
      `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.6;color:#222}button{font-size:1rem;padding:.5rem 1.25rem;cursor:pointer}</style></head>
<body><h1>${title}</h1>
${body}
</body></html>
`,
    );
}
