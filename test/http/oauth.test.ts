// /api/v1/oauth-providers and the OAuth parts of mail accounts over HTTP: settings saved
// with the secret sealed and write-only, field-named ja/en errors with nothing stored,
// the audit log; preset accounts without passwords; the start and callback routes'
// refusals (no client, a stranger's browser, a forged or replayed state).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, assertError, auditEntries, call, fieldPaths, harness, JAPANESE, listServers, snapshot } from './helpers.ts';
import { startMockProvider } from '../support/oauth-provider.ts';

describe('OAuth provider settings', () => {
  test('saved per preset; the secret is sealed at rest, never returned, kept when omitted; audited by field name', async (t) => {
    const h = await harness(t);
    if (!h) return;
    const empty = await api(h, { url: '/api/v1/oauth-providers' });
    assert.equal(empty.status, 200);
    assert.deepEqual(
      empty.json.items.map((p: { preset: string; configured: boolean }) => [p.preset, p.configured]),
      [
        ['gmail', false],
        ['exchange_online', false],
      ],
    );
    assert.equal(empty.json.redirectUri, 'http://localhost:80/api/oauth/callback', 'from the request (inject says localhost:80)');
    assert.equal(empty.json.items[1].endpoints.token, 'https://login.microsoftonline.com/organizations/oauth2/v2.0/token');

    const put = await api(h, { method: 'PUT', url: '/api/v1/oauth-providers/exchange_online', body: { clientId: ' app-123 ', clientSecret: 's3cr3t-value', tenant: 'contoso.onmicrosoft.com' } });
    assert.equal(put.status, 200, put.raw);
    assert.equal(put.json.clientId, 'app-123');
    assert.equal(put.json.hasClientSecret, true);
    assert.equal(put.json.endpoints.authorization, 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize');
    assert.ok(!put.raw.includes('s3cr3t-value'));
    const row = (await h.ctx.repos.oauth.provider('exchange_online'))!;
    assert.ok(row.client_secret_enc && !row.client_secret_enc.includes('s3cr3t-value'));
    assert.equal(h.ctx.secrets.open(row.client_secret_enc), 's3cr3t-value');

    const again = await api(h, { method: 'PUT', url: '/api/v1/oauth-providers/exchange_online', body: { clientId: 'app-123', tenant: 'contoso.onmicrosoft.com', endpoints: { token: 'http://127.0.0.1:9/token' } } });
    assert.equal(again.status, 200, again.raw);
    assert.equal(again.json.hasClientSecret, true, 'omitted = kept');
    assert.equal(again.json.endpoints.token, 'http://127.0.0.1:9/token');
    const audit = (await auditEntries(h)).filter((e) => e.action === 'oauth_provider.change');
    assert.deepEqual(
      audit.map((e) => e.fields),
      [['endpoints.token'], ['clientId', 'clientSecret', 'tenant']],
    );
    assert.ok(!JSON.stringify(audit).includes('s3cr3t'));
  });

  test('bad input: 400 naming each field in Japanese and English, nothing stored', async (t) => {
    const h = await harness(t);
    if (!h) return;
    const before = await snapshot(h);
    const body = { clientId: '  ', clientSecret: 'a\nb', tenant: 'bad tenant!', endpoints: { token: 'http://example.com/token', authorization: 'not a url' } };
    const ja = await api(h, { method: 'PUT', url: '/api/v1/oauth-providers/exchange_online', body, lang: 'ja' });
    assertError(ja, 400, 'VALIDATION');
    assert.deepEqual(fieldPaths(ja).sort(), ['clientId', 'clientSecret', 'endpoints.authorization', 'endpoints.token', 'tenant']);
    assert.match(ja.json.error.fields.find((f: { path: string }) => f.path === 'endpoints.token').message, /トークンエンドポイント/);
    assert.match(ja.json.error.message, JAPANESE);
    const en = await api(h, { method: 'PUT', url: '/api/v1/oauth-providers/exchange_online', body, lang: 'en' });
    assert.match(en.json.error.fields.find((f: { path: string }) => f.path === 'tenant').message, /Tenant \(Microsoft Entra\)/);
    const gmailTenant = await api(h, { method: 'PUT', url: '/api/v1/oauth-providers/gmail', body: { clientId: 'x', tenant: 'contoso' }, lang: 'en' });
    assert.deepEqual(fieldPaths(gmailTenant), ['tenant']);
    const unknown = await api(h, { method: 'PUT', url: '/api/v1/oauth-providers/yahoo', body: { clientId: 'x' } });
    assertError(unknown, 404, 'NOT_FOUND');
    assert.deepEqual(await snapshot(h), before);
    assert.equal(await h.ctx.repos.oauth.provider('exchange_online'), undefined);
  });
});

describe('mail accounts on the presets', () => {
  test('Gmail needs neither user name nor password, Exchange Online only the account name; other servers still need both', async (t) => {
    const h = await harness(t);
    if (!h) return;
    const servers = await listServers(h);
    const gmail = servers.find((s) => s.preset === 'gmail');
    const exchange = servers.find((s) => s.preset === 'exchange_online');
    const g = await api(h, { method: 'POST', url: '/api/v1/mail-accounts', body: { displayName: 'G', serverId: gmail.id, address: 'shop@gmail.example' } });
    assert.equal(g.status, 201, g.raw);
    assert.equal(g.json.hasPassword, false);
    assert.deepEqual(g.json.oauth, { status: 'not_connected', errorCode: null, errorDescription: null });
    const exNoName = await api(h, { method: 'POST', url: '/api/v1/mail-accounts', body: { displayName: 'E', serverId: exchange.id, address: 'info@contoso.example' }, lang: 'en' });
    assertError(exNoName, 400, 'VALIDATION');
    assert.deepEqual(fieldPaths(exNoName), ['username']);
    const ex = await api(h, { method: 'POST', url: '/api/v1/mail-accounts', body: { displayName: 'E', serverId: exchange.id, address: 'info@contoso.example', username: 'info@contoso.example' } });
    assert.equal(ex.status, 201, ex.raw);
    const other = (await api(h, { method: 'POST', url: '/api/v1/mail-servers', body: { name: 'ISP', incoming: { protocol: 'pop3', host: 'pop.example.com', port: 995, encryption: 'tls' }, outgoing: { host: 'smtp.example.com', port: 587, encryption: 'starttls' } } })).json;
    const plain = await api(h, { method: 'POST', url: '/api/v1/mail-accounts', body: { displayName: 'P', serverId: other.id, address: 'p@example.com' }, lang: 'ja' });
    assertError(plain, 400, 'VALIDATION');
    assert.deepEqual(fieldPaths(plain).sort(), ['password', 'username']);
    // moving the Gmail account to a password server needs both now
    const moved = await api(h, { method: 'PATCH', url: `/api/v1/mail-accounts/${g.json.id}`, body: { serverId: other.id } });
    assert.deepEqual(fieldPaths(moved).sort(), ['password', 'username']);
  });

  test('a discovery URL that cannot be used: connecting answers 502 naming the URL and why, in both languages (not a 500)', async (t) => {
    const h = await harness(t);
    if (!h) return;
    const { createServer } = await import('node:http');
    const web = createServer((req, res) => {
      if (req.url === '/html') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>sign in</html>');
      if (req.url === '/no-token') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"issuer":"https://issuer.example"}');
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    t.after(() => web.close());
    const base = `http://127.0.0.1:${(web.address() as { port: number }).port}`;
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));

    const gmail = (await listServers(h)).find((s) => s.preset === 'gmail');
    const account = (await api(h, { method: 'POST', url: '/api/v1/mail-accounts', body: { displayName: 'G', serverId: gmail.id, address: 'shop@gmail.example' } })).json;
    const cases: [string, RegExp, RegExp][] = [
      [`${base}/html`, /JSON/, /JSON/],
      [`${base}/missing`, /HTTP 404/, /HTTP 404/],
      [`${base}/no-token`, /token_endpoint/, /token_endpoint/],
      [`http://127.0.0.1:${closedPort}/.well-known/openid-configuration`, /could not be reached/, /接続できませんでした/],
    ];
    for (const [url, en, ja] of cases) {
      const put = await api(h, { method: 'PUT', url: '/api/v1/oauth-providers/gmail', body: { clientId: 'cid', endpoints: { discovery: url } } });
      assert.equal(put.status, 200, put.raw);
      for (const lang of ['en', 'ja'] as const) {
        const res = await api(h, { url: `/api/v1/mail-accounts/${account.id}/oauth/start`, lang });
        const err = assertError(res, 502, 'OAUTH_DISCOVERY');
        assert.ok(err.message.includes(url), err.message);
        assert.match(err.message, lang === 'en' ? en : ja);
        if (lang === 'ja') assert.match(err.message, JAPANESE);
      }
    }
    // the UI's button is a link: a browser goes back to the account's page with the reason
    const browser = await h.app.inject({ method: 'GET', url: `/api/v1/mail-accounts/${account.id}/oauth/start`, headers: { ...h.auth, accept: 'text/html,application/xhtml+xml', 'accept-language': 'ja' } });
    assert.equal(browser.statusCode, 302, browser.body);
    const back = new URL(String(browser.headers.location), 'http://x');
    assert.equal(back.pathname, `/settings/general/mail-accounts/${account.id}`);
    assert.equal(back.searchParams.get('problem'), 'start');
    assert.match(back.searchParams.get('detail')!, /接続できませんでした/);
  });

  test('connecting: refused without provider settings, from another browser, or with a forged state; a provider refusal is shown, the account untouched', async (t) => {
    const h = await harness(t);
    if (!h) return;
    const gmail = (await listServers(h)).find((s) => s.preset === 'gmail');
    const account = (await api(h, { method: 'POST', url: '/api/v1/mail-accounts', body: { displayName: 'G', serverId: gmail.id, address: 'shop@gmail.example' } })).json;
    const notConfigured = await api(h, { url: `/api/v1/mail-accounts/${account.id}/oauth/start`, lang: 'en' });
    assertError(notConfigured, 409, 'OAUTH_NOT_CONFIGURED');
    assert.match(notConfigured.json.error.message, /OAuth 2.0 for Gmail is not set up/);
    const other = (await api(h, { method: 'POST', url: '/api/v1/mail-servers', body: { name: 'ISP', incoming: { protocol: 'pop3', host: 'pop.example.com', port: 995, encryption: 'tls' }, outgoing: { host: 'smtp.example.com', port: 587, encryption: 'starttls' } } })).json;
    const plain = (await api(h, { method: 'POST', url: '/api/v1/mail-accounts', body: { displayName: 'P', serverId: other.id, address: 'p@example.com', username: 'p', password: 'pw-123456' } })).json;
    assertError(await api(h, { url: `/api/v1/mail-accounts/${plain.id}/oauth/start` }), 409, 'OAUTH_NOT_PRESET');
    const unauthenticated = await call(h.app, { url: `/api/v1/mail-accounts/${account.id}/oauth/start` });
    assertError(unauthenticated, 401, 'UNAUTHENTICATED');
    // a link on another site (the session cookie is SameSite=Lax over plain http) starts nothing
    for (const site of ['cross-site', 'same-site']) {
      const res = await call(h.app, { url: `/api/v1/mail-accounts/${account.id}/oauth/start`, headers: { ...h.auth, 'sec-fetch-site': site }, lang: 'ja' });
      assertError(res, 403, 'CSRF');
      assert.match(res.json.error.message, /他のサイト/);
    }

    const provider = await startMockProvider(t);
    await api(h, { method: 'PUT', url: '/api/v1/oauth-providers/gmail', body: { clientId: provider.clientId, clientSecret: provider.clientSecret, endpoints: provider.endpoints } });
    const start = async () => {
      const res = await h.app.inject({ method: 'GET', url: `/api/v1/mail-accounts/${account.id}/oauth/start`, headers: h.auth });
      assert.equal(res.statusCode, 302);
      return { url: String(res.headers.location), cookie: res.cookies.find((c) => c.name === 'yubin_oauth')!.value };
    };
    // another browser (no binding cookie, or someone else's)
    const a = await start();
    const back = await provider.authorize(a.url);
    const stranger = await h.app.inject({ method: 'GET', url: back.pathname + back.search, cookies: { yubin_oauth: 'someone-else' } });
    assert.equal(stranger.headers.location, `/settings/general/mail-accounts/${account.id}?oauth=error&problem=session`);
    // a forged state
    const forged = await h.app.inject({ method: 'GET', url: `/api/oauth/callback?code=x&state=forged`, cookies: { yubin_oauth: a.cookie } });
    assert.equal(forged.headers.location, '/settings/general/mail-accounts?oauth=error&problem=state');
    // the provider refuses (the user pressed "cancel", or the tenant needs admin consent)
    const b = await start();
    const state = new URL(b.url).searchParams.get('state')!;
    const denied = await h.app.inject({
      method: 'GET',
      url: `/api/oauth/callback?error=invalid_grant&error_description=${encodeURIComponent('AADSTS90094: The grant requires admin permission.')}&state=${state}`,
      cookies: { yubin_oauth: b.cookie },
    });
    const loc = new URL(String(denied.headers.location), 'http://x');
    assert.equal(loc.searchParams.get('problem'), 'admin_consent_required');
    assert.match(loc.searchParams.get('detail') ?? '', /AADSTS90094/);
    const after = await api(h, { url: `/api/v1/mail-accounts/${account.id}` });
    assert.equal(after.json.oauth.status, 'not_connected');
    assert.deepEqual(provider.tokenCalls, [], 'no code was exchanged');
  });
});
