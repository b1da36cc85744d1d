// The browser UI: web/dist (the Vite build that `npm run build` makes) served at /.
// Hashed files under /assets/ are cached for a year; index.html never is. Every
// other browser navigation that is not /api — the UI's own routes such as
// /settings/general/mail-servers or the first-run /setup?token=… that `yubin serve`
// prints — gets index.html, and the UI's router takes it from there.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';

/** web/dist beside src/ (and beside dist/ once compiled: both are one level below the root). */
export const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));
const ASSET_MAX_AGE = 365 * 24 * 60 * 60;

export interface WebUi {
  /** false when web/dist has no index.html (the UI was not built) */
  built: boolean;
  /** For the not-found handler: whether this request is a browser navigation to a UI route. */
  isUiRoute(req: FastifyRequest): boolean;
  /** index.html, or a plain explanation when the UI was not built. */
  sendIndex(reply: FastifyReply): FastifyReply;
}

export async function registerWebUi(app: FastifyInstance, root: string = WEB_DIST): Promise<WebUi> {
  const built = existsSync(join(root, 'index.html'));
  if (built) {
    await app.register(fastifyStatic, {
      root,
      prefix: '/',
      index: false,
      cacheControl: false,
      setHeaders: (res, path) => {
        const hashed = path.startsWith(join(root, 'assets'));
        res.setHeader('cache-control', hashed ? `public, max-age=${ASSET_MAX_AGE}, immutable` : 'no-cache');
      },
    });
  }
  const ui: WebUi = {
    built,
    isUiRoute(req) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      const path = req.url.split('?')[0] ?? '';
      if (path === '/api' || path.startsWith('/api/')) return false;
      // a missing script or image is a 404, not the UI page
      return (req.headers.accept ?? '').includes('text/html');
    },
    sendIndex(reply) {
      if (!built) {
        return reply.status(503).type('text/plain; charset=utf-8').send('The web UI is not built: run `npm run build` (web/dist/index.html is missing).\n');
      }
      return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').sendFile('index.html');
    },
  };
  // "/" is the static root folder, which @fastify/static refuses to list: it is the UI too
  app.get('/', { schema: { hide: true } }, async (_req, reply) => ui.sendIndex(reply));
  return ui;
}
