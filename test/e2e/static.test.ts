// Serving the built UI (src/http/static.ts) without a browser: index.html for the UI's
// routes (including the first-run /setup?token=…), long-cached hashed assets, 404s
// that stay 404s for /api and for missing files, and a CSP that works over plain HTTP.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildApp } from '../../src/http/app.ts';
import { WEB_DIST } from '../../src/http/static.ts';
import { contextFor } from '../support/app-context.ts';
import { ensureWebBuilt } from './harness.ts';

const html = { accept: 'text/html,application/xhtml+xml' };

test('the web UI is served at / with an index.html fallback for its routes', async (t) => {
  ensureWebBuilt();
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return;
  const app = await buildApp(ctx);
  t.after(() => app.close());

  for (const url of ['/', '/setup?token=abc', '/settings/general/mail-servers', '/mail/0192-abc']) {
    const res = await app.inject({ method: 'GET', url, headers: html });
    assert.equal(res.statusCode, 200, url);
    assert.match(res.headers['content-type'] as string, /^text\/html/, url);
    assert.match(res.body, /<div id="root"><\/div>/, url);
    assert.equal(res.headers['cache-control'], 'no-cache', url);
    const csp = res.headers['content-security-policy'] as string;
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /upgrade-insecure-requests/, 'plain HTTP on a LAN must keep working');
  }

  const asset = readdirSync(join(WEB_DIST, 'assets')).find((f) => f.endsWith('.js'))!;
  const js = await app.inject({ method: 'GET', url: `/assets/${asset}` });
  assert.equal(js.statusCode, 200);
  assert.match(js.headers['content-type'] as string, /javascript/);
  assert.match(js.headers['cache-control'] as string, /immutable/);

  const missing = await app.inject({ method: 'GET', url: '/assets/missing-0000.js', headers: { accept: '*/*' } });
  assert.equal(missing.statusCode, 404);

  const api = await app.inject({ method: 'GET', url: '/api/v1/no-such-route', headers: html });
  assert.equal(api.statusCode, 404);
  assert.equal(api.json().error.code, 'NOT_FOUND');

  const oldScript = await app.inject({ method: 'GET', url: '/setup.js' });
  assert.equal(oldScript.statusCode, 404, 'the stop-gap setup page is gone');
});
