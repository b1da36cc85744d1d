// Who may call the API: every /api/v1 route refuses a request without valid
// credentials; sessions need the CSRF token for writes, survive across app
// instances sharing a database, and end at sign-out; sign-in is rate-limited;
// first-run setup works once with the right token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { SIGN_IN_MAX_ATTEMPTS } from '../../src/http/routes/auth.ts';
import { AuthService } from '../../src/services/auth.ts';
import { AppError } from '../../src/domain/errors.ts';
import { contextFor, makeContext } from '../support/app-context.ts';
import { addServer, api, assertError, auditEntries, call, harness, listServers, registeredRoutes, serverInput, sessionCookie, snapshot, type Harness, type Route } from './helpers.ts';

const ADMIN = 'admin';
const ADMIN_PASSWORD = 'correct horse battery staple';
const FAKE_ID = '00000000-0000-4000-8000-000000000000';

function concrete(path: string): string {
  return path.replace(/:[A-Za-z_]+/g, FAKE_ID).replace(/\*/g, 'x');
}

async function v1Routes(app: FastifyInstance): Promise<Route[]> {
  const routes = registeredRoutes(app).filter((r) => r.path.startsWith('/api/v1/') || r.path === '/api/v1');
  // the parse must agree with the router, and must see at least what the OpenAPI document shows
  for (const r of routes) assert.ok(app.hasRoute({ method: r.method as 'GET', url: r.path }), `parsed a route the router does not have: ${r.method} ${r.path}`);
  const doc = (await app.inject({ url: '/api/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
  for (const [path, ops] of Object.entries(doc.paths)) {
    if (!path.startsWith('/api/v1')) continue;
    for (const method of Object.keys(ops)) {
      const p = path.replace(/\{(\w+)\}/g, ':$1');
      assert.ok(
        routes.some((r) => r.path === p && r.method === method.toUpperCase()),
        `documented ${method.toUpperCase()} ${p} was not found in printRoutes`,
      );
    }
  }
  for (const known of ['GET /api/v1/mail-servers', 'PUT /api/v1/mail-servers/order', 'DELETE /api/v1/mail-accounts/:id', 'GET /api/v1/audit-log']) {
    assert.ok(
      routes.some((r) => `${r.method} ${r.path}` === known),
      `${known} missing from the route walk`,
    );
  }
  return routes;
}

async function signIn(app: FastifyInstance, username = ADMIN, password = ADMIN_PASSWORD): Promise<{ cookie: string; csrf: string }> {
  const res = await call(app, { method: 'POST', url: '/api/auth/sign-in', body: { username, password } });
  assert.equal(res.status, 200, res.raw);
  const c = sessionCookie(res);
  assert.ok(c, `no session cookie: ${JSON.stringify(res.headers['set-cookie'])}`);
  assert.equal(typeof res.json.csrfToken, 'string');
  return { cookie: c.cookie, csrf: res.json.csrfToken };
}

async function withAdmin(t: import('node:test').TestContext): Promise<Harness | undefined> {
  const h = await harness(t);
  if (!h) return undefined;
  await new AuthService(h.ctx).createAdmin(ADMIN, ADMIN_PASSWORD);
  return h;
}

test('every /api/v1 route answers 401 without credentials, with a bogus or revoked token, or a bogus session', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const routes = await v1Routes(h.app);
  const auth = new AuthService(h.ctx);
  const revoked = await auth.createToken('revoked');
  await auth.revokeToken('revoked');
  const credentials: [string, Record<string, string>][] = [
    ['none', {}],
    ['bogus bearer', { authorization: 'Bearer ybn_not-a-real-token' }],
    ['revoked bearer', { authorization: `Bearer ${revoked}` }],
    ['empty bearer', { authorization: 'Bearer ' }],
    ['basic auth', { authorization: `Basic ${Buffer.from('admin:x').toString('base64')}` }],
    ['the token without "Bearer"', { authorization: h.token }],
    ['forged session cookie', { cookie: 'yubin_session=forged.c2lnbmF0dXJl' }],
  ];
  const before = await snapshot(h);
  for (const r of routes) {
    for (const [what, headers] of credentials) {
      const body = ['POST', 'PUT', 'PATCH'].includes(r.method) ? {} : undefined;
      const res = await call(h.app, { method: r.method as 'GET', url: concrete(r.path), headers, body });
      if (r.method === 'HEAD') {
        assert.equal(res.status, 401, `${what}: HEAD ${r.path} → ${res.status}`);
        continue;
      }
      assertError(res, 401, 'UNAUTHENTICATED');
    }
    // and the valid token gets past authentication on the same route
    const ok = await api(h, { method: r.method as 'GET', url: concrete(r.path), body: ['POST', 'PUT', 'PATCH'].includes(r.method) ? {} : undefined });
    assert.notEqual(ok.status, 401, `${r.method} ${r.path} refused a valid token`);
  }
  // a refused request changes nothing (the valid-token probes above only sent empty bodies)
  assert.deepEqual((await snapshot(h)).rows.servers, before.rows.servers);
  assert.deepEqual((await snapshot(h)).rows.accounts, before.rows.accounts);
});

test('a session: sign in, read with the cookie, writes need the CSRF token, sign out ends it', async (t) => {
  const h = await withAdmin(t);
  if (!h) return;
  const { app } = h;
  const res = await call(app, { method: 'POST', url: '/api/auth/sign-in', body: { username: ADMIN, password: ADMIN_PASSWORD } });
  assert.equal(res.status, 200, res.raw);
  assert.deepEqual({ ...res.json, csrfToken: typeof res.json.csrfToken }, { signedIn: true, username: ADMIN, language: null, csrfToken: 'string', needsSetup: false });
  const c = sessionCookie(res);
  assert.ok(c);
  const attrs = c.attributes.map((a) => a.toLowerCase());
  assert.ok(attrs.includes('httponly'), `not HttpOnly: ${c.attributes}`);
  assert.ok(
    attrs.some((a) => a === 'samesite=strict' || a === 'samesite=lax'),
    `no SameSite: ${c.attributes}`,
  );
  const cookie = { cookie: c.cookie };
  const csrf = res.json.csrfToken as string;

  const session = await call(app, { url: '/api/auth/session', headers: cookie });
  assert.equal(session.json.signedIn, true);
  assert.equal(session.json.username, ADMIN);
  assert.equal(typeof session.json.csrfToken, 'string');

  const list = await call(app, { url: '/api/v1/mail-servers', headers: cookie });
  assert.equal(list.status, 200, list.raw);
  assert.equal(list.json.items.length, 2);

  // writes without, or with a wrong, CSRF token are refused and change nothing
  const server = await addServer(h, { name: 'Target' });
  const before = await snapshot(h);
  const writes = [
    { method: 'POST' as const, url: '/api/v1/mail-servers', body: serverInput({ name: 'Via session' }) },
    { method: 'PATCH' as const, url: `/api/v1/mail-servers/${server.id}`, body: { name: 'Renamed' } },
    { method: 'PUT' as const, url: '/api/v1/mail-servers/order', body: { ids: [server.id] } },
    { method: 'DELETE' as const, url: `/api/v1/mail-servers/${server.id}` },
  ];
  for (const w of writes) {
    for (const bad of [{}, { 'x-csrf-token': 'wrong-token' }] as Record<string, string>[]) {
      const r = await call(app, { ...w, headers: { ...cookie, ...bad } });
      assertError(r, 403, 'CSRF');
    }
  }
  assert.deepEqual(await snapshot(h), before);

  // with the token they work, and the audit log names the administrator
  const withToken = { ...cookie, 'x-csrf-token': csrf };
  const added = await call(app, { ...writes[0]!, headers: withToken });
  assert.equal(added.status, 201, added.raw);
  const patched = await call(app, { ...writes[1]!, headers: withToken });
  assert.equal(patched.status, 200, patched.raw);
  const deleted = await call(app, { ...writes[3]!, headers: withToken });
  assert.equal(deleted.status, 204, deleted.raw);
  const mine = (await auditEntries(h)).filter((e) => e.actor === `admin:${ADMIN}`).map((e) => e.action);
  assert.deepEqual(mine.sort(), ['mail_server.add', 'mail_server.change', 'mail_server.delete']);

  // sign out needs the CSRF token (another site must not sign us out); then the cookie no longer works
  assertError(await call(app, { method: 'POST', url: '/api/auth/sign-out', headers: cookie }), 403, 'CSRF');
  const out = await call(app, { method: 'POST', url: '/api/auth/sign-out', headers: withToken });
  assert.ok(out.status === 204 || out.status === 200, out.raw);
  assertError(await call(app, { url: '/api/v1/mail-servers', headers: cookie }), 401, 'UNAUTHENTICATED');
  assertError(await call(app, { ...writes[0]!, headers: withToken }), 401, 'UNAUTHENTICATED');
  const after = await call(app, { url: '/api/auth/session', headers: cookie });
  assert.equal(after.json.signedIn, false);
  assert.equal(after.json.csrfToken, null);
});

test('a CSRF token from one session does not work with another session', async (t) => {
  const h = await withAdmin(t);
  if (!h) return;
  const a = await signIn(h.app);
  const b = await signIn(h.app);
  assert.notEqual(a.cookie, b.cookie);
  const res = await call(h.app, { method: 'POST', url: '/api/v1/mail-servers', body: serverInput(), headers: { cookie: a.cookie, 'x-csrf-token': b.csrf } });
  assertError(res, 403, 'CSRF');
  const ok = await call(h.app, { method: 'POST', url: '/api/v1/mail-servers', body: serverInput(), headers: { cookie: a.cookie, 'x-csrf-token': a.csrf } });
  assert.equal(ok.status, 201, ok.raw);
});

test('a wrong password or an unknown user gets the same 401; the 11th rapid attempt gets 429', async (t) => {
  const h = await withAdmin(t);
  if (!h) return;
  const wrong = await call(h.app, { method: 'POST', url: '/api/auth/sign-in', body: { username: ADMIN, password: 'wrong password' } });
  const err = assertError(wrong, 401, 'UNAUTHENTICATED');
  assert.equal(sessionCookie(wrong), undefined);
  const unknown = await call(h.app, { method: 'POST', url: '/api/auth/sign-in', body: { username: 'nobody', password: 'wrong password' } });
  assert.deepEqual(assertError(unknown, 401, 'UNAUTHENTICATED'), err);
  const en = await call(h.app, { method: 'POST', url: '/api/auth/sign-in', body: { username: ADMIN, password: 'x' }, lang: 'en' });
  assert.match(assertError(en, 401).message, /password/i);

  // 3 attempts so far; go on to the limit
  const statuses: number[] = [wrong.status, unknown.status, en.status];
  for (let i = statuses.length; i < SIGN_IN_MAX_ATTEMPTS + 1; i++) {
    statuses.push((await call(h.app, { method: 'POST', url: '/api/auth/sign-in', body: { username: ADMIN, password: `guess ${i}` } })).status);
  }
  assert.equal(SIGN_IN_MAX_ATTEMPTS, 10);
  assert.deepEqual(statuses, [...Array(10).fill(401), 429]);
  // once limited, even the right password is refused until the window passes
  const limited = await call(h.app, { method: 'POST', url: '/api/auth/sign-in', body: { username: ADMIN, password: ADMIN_PASSWORD } });
  assertError(limited, 429, 'RATE_LIMITED');
  assert.ok(Number(limited.headers['retry-after']) > 0, `retry-after: ${limited.headers['retry-after']}`);
  const limitedEn = await call(h.app, { method: 'POST', url: '/api/auth/sign-in', body: { username: ADMIN, password: ADMIN_PASSWORD }, lang: 'en' });
  assert.match(assertError(limitedEn, 429, 'RATE_LIMITED').message, /too many/i);
});

test('the rate-limit message is fully in the requested language', async (t) => {
  const h = await withAdmin(t);
  if (!h) return;
  let res;
  for (let i = 0; i <= SIGN_IN_MAX_ATTEMPTS; i++) res = await call(h.app, { method: 'POST', url: '/api/auth/sign-in', body: { username: ADMIN, password: 'x' } });
  const message = assertError(res!, 429, 'RATE_LIMITED').message as string;
  // "1 minute後に…" mixes the rate-limit plugin's English duration into Japanese
  assert.doesNotMatch(message, /[A-Za-z]{2,}/, message);
});

test('a session made by one app instance works in another sharing the database', async (t) => {
  const h = await withAdmin(t);
  if (!h) return;
  const other = await buildApp(h.ctx);
  t.after(() => other.close());
  const { cookie, csrf } = await signIn(h.app);
  const list = await call(other, { url: '/api/v1/mail-servers', headers: { cookie } });
  assert.equal(list.status, 200, list.raw);
  const add = await call(other, { method: 'POST', url: '/api/v1/mail-servers', body: serverInput(), headers: { cookie, 'x-csrf-token': csrf } });
  assert.equal(add.status, 201, add.raw);
  assert.equal((await listServers(h)).length, 3);
  // signing out on the second ends it on the first too
  await call(other, { method: 'POST', url: '/api/auth/sign-out', headers: { cookie, 'x-csrf-token': csrf } });
  assertError(await call(h.app, { url: '/api/v1/mail-servers', headers: { cookie } }), 401, 'UNAUTHENTICATED');
});

test('first-run setup: a wrong token is refused, the right one creates the admin and signs in, a second setup is refused', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const { app } = h;
  const auth = new AuthService(h.ctx);
  const initial = await call(app, { url: '/api/auth/session' });
  assert.deepEqual(initial.json, { signedIn: false, username: null, language: null, csrfToken: null, needsSetup: true });
  const token = await auth.issueSetupToken();

  const wrong = await call(app, { method: 'POST', url: '/api/auth/setup', body: { token: 'wrong-token', username: 'root', password: 'long enough password' } });
  assertError(wrong, 403, 'SETUP_TOKEN');
  assert.equal(sessionCookie(wrong), undefined);
  assert.equal(await auth.needsSetup(), true);

  // a bad password is a field error and does not use up the token
  const short = await call(app, { method: 'POST', url: '/api/auth/setup', body: { token, username: 'root', password: 'short' } });
  assertError(short, 400, 'VALIDATION');
  assert.ok(short.json.error.fields.some((f: { path: string }) => f.path === 'password'), short.raw);
  assert.equal(await auth.needsSetup(), true);

  const ok = await call(app, { method: 'POST', url: '/api/auth/setup', body: { token, username: ' root ', password: 'long enough password' } });
  assert.equal(ok.status, 200, ok.raw);
  assert.equal(ok.json.signedIn, true);
  assert.equal(ok.json.username, 'root');
  assert.equal(ok.json.needsSetup, false);
  const c = sessionCookie(ok);
  assert.ok(c);
  assert.ok(c.attributes.map((a) => a.toLowerCase()).includes('httponly'));
  const list = await call(app, { url: '/api/v1/mail-servers', headers: { cookie: c.cookie } });
  assert.equal(list.status, 200, list.raw);
  const write = await call(app, { method: 'POST', url: '/api/v1/mail-servers', body: serverInput(), headers: { cookie: c.cookie, 'x-csrf-token': ok.json.csrfToken } });
  assert.equal(write.status, 201, write.raw);
  assert.equal(await auth.needsSetup(), false);
  assert.ok((await auditEntries(h)).some((e) => e.action === 'admin.create' && e.actor === 'setup' && e.targetName === 'root'));

  // the admin can sign in with that password
  await signIn(app, 'root', 'long enough password');

  const again = await call(app, { method: 'POST', url: '/api/auth/setup', body: { token, username: 'second', password: 'long enough password' } });
  assertError(again, 409, 'SETUP_DONE');
  const fresh = await auth.issueSetupToken();
  const again2 = await call(app, { method: 'POST', url: '/api/auth/setup', body: { token: fresh, username: 'second', password: 'long enough password' } });
  assertError(again2, 409, 'SETUP_DONE');
  assert.equal(await h.ctx.repos.admins.count(), 1);
});

test('an API token works without CSRF and is named in the audit log; a session is not needed', async (t) => {
  const h = await harness(t, 'sqlite', 'ci-script');
  if (!h) return;
  const res = await api(h, { method: 'POST', url: '/api/v1/mail-servers', body: serverInput() });
  assert.equal(res.status, 201, res.raw);
  assert.equal(sessionCookie(res), undefined, 'a bearer request must not start a session');
  const entry = (await auditEntries(h)).find((e) => e.action === 'mail_server.add');
  assert.equal(entry?.actor, 'token:ci-script');
  // lower-case scheme is accepted too (RFC 9110: the scheme is case-insensitive)
  const lower = await call(h.app, { url: '/api/v1/mail-servers', headers: { authorization: `bearer ${h.token}` } });
  assert.equal(lower.status, 200);
});

test("an administrator's UI language is remembered in the database, across sessions and browsers", async (t) => {
  const h = await withAdmin(t);
  if (!h) return;
  const first = await signIn(h.app);
  assert.equal((await call(h.app, { url: '/api/auth/session', headers: { cookie: first.cookie } })).json.language, null);
  assertError(await call(h.app, { method: 'PUT', url: '/api/auth/language', body: { language: 'en' }, headers: { cookie: first.cookie } }), 403, 'CSRF');
  assertError(await call(h.app, { method: 'PUT', url: '/api/auth/language', body: { language: 'fr' }, headers: { cookie: first.cookie, 'x-csrf-token': first.csrf } }), 400, 'VALIDATION');
  assertError(await call(h.app, { method: 'PUT', url: '/api/auth/language', body: { language: 'en' } }), 401, 'UNAUTHENTICATED');
  const set = await call(h.app, { method: 'PUT', url: '/api/auth/language', body: { language: 'en' }, headers: { cookie: first.cookie, 'x-csrf-token': first.csrf } });
  assert.equal(set.status, 204, set.raw);
  // a new sign-in (another browser) gets it back
  const res = await call(h.app, { method: 'POST', url: '/api/auth/sign-in', body: { username: ADMIN, password: ADMIN_PASSWORD } });
  assert.equal(res.json.language, 'en');
});

test('administrator and token refusals name the right rule: password length 8–1024, one-line user and token names, a taken name', async (t) => {
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return;
  const auth = new AuthService(ctx);
  const message = async (fn: () => Promise<unknown>, lang: 'ja' | 'en'): Promise<string> => {
    try {
      await fn();
    } catch (err) {
      assert.ok(err instanceof AppError, String(err));
      return err.localized(lang).message;
    }
    assert.fail('not refused');
  };
  assert.match(await message(() => auth.createAdmin('root', 'short'), 'en'), /Password must be 8 to 1024 characters/);
  assert.match(await message(() => auth.createAdmin('root', 'short'), 'ja'), /パスワードは8〜1024文字/);
  assert.match(await message(() => auth.createAdmin('ro ot', 'long enough password'), 'en'), /User name must be 1 to 100 characters, without spaces/);
  assert.match(await message(() => auth.createAdmin('r'.repeat(101), 'long enough password'), 'en'), /User name must be 1 to 100 characters/);
  await auth.createAdmin('root', 'long enough password');
  assert.match(await message(() => auth.createAdmin('root', 'another long password'), 'en'), /An administrator named root already exists/);
  assert.match(await message(() => auth.createToken(''), 'en'), /Token name is required/);
  assert.match(await message(() => auth.createToken('a\nb'), 'en'), /Token name must be 1 to 100 characters on one line/);
  assert.match(await message(() => auth.createToken('t'.repeat(101)), 'ja'), /トークン名は制御文字を含まない1行/);
});

test('the language and setup-token fields are named in both languages', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const lang = await api(h, { method: 'PUT', url: '/api/auth/language', body: { language: 'fr' }, lang: 'ja' });
  assert.match(assertError(lang, 400, 'VALIDATION').fields[0].message, /^言語/);
  const setup = await call(h.app, { method: 'POST', url: '/api/auth/setup', body: { token: 5, username: 'root', password: 'long enough password' }, lang: 'en' });
  assert.match(assertError(setup, 400, 'VALIDATION').fields[0].message, /^Setup token/);
});

test('YUBIN_TRUST_PROXY: behind a trusted proxy the forwarded client address is rate-limited on its own and https makes the session cookie Secure; without it the headers are ignored', async (t) => {
  const attempts = async (app: FastifyInstance, client: string) => {
    const statuses: number[] = [];
    for (let i = 0; i <= SIGN_IN_MAX_ATTEMPTS; i++) {
      statuses.push((await call(app, { method: 'POST', url: '/api/auth/sign-in', body: { username: ADMIN, password: `guess ${i}` }, headers: { 'x-forwarded-for': client } })).status);
    }
    return statuses;
  };
  const signInOver = (app: FastifyInstance, headers: Record<string, string>) => call(app, { method: 'POST', url: '/api/auth/sign-in', body: { username: ADMIN, password: ADMIN_PASSWORD }, headers });

  for (const trusted of [true, false]) {
    const ctx = await makeContext('sqlite', trusted ? { trustProxy: ['loopback'] } : {});
    assert.ok(ctx);
    t.after(() => ctx.close());
    await new AuthService(ctx).createAdmin(ADMIN, ADMIN_PASSWORD);
    const app = await buildApp(ctx);
    t.after(() => app.close());

    // (inject's requests come from 127.0.0.1: the loopback proxy)
    const secure = sessionCookie(await signInOver(app, { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.7' }));
    assert.equal(secure?.attributes.includes('Secure'), trusted, `${trusted}: ${secure?.attributes.join('; ')}`);
    const plain = sessionCookie(await signInOver(app, { 'x-forwarded-for': '198.51.100.8' }));
    assert.equal(plain?.attributes.includes('Secure'), false);

    // untrusted, the two sign-ins above came from the same address (the proxy's) and count
    const before = trusted ? 0 : 2;
    assert.deepEqual(await attempts(app, '203.0.113.1'), [...Array(10 - before).fill(401), ...Array(1 + before).fill(429)]);
    // another client behind the proxy: its own limit when the proxy is trusted; the same
    // (the proxy's) when it is not
    const other = await signInOver(app, { 'x-forwarded-for': '203.0.113.2' });
    assert.equal(other.status, trusted ? 200 : 429, `${trusted}: ${other.raw.slice(0, 200)}`);
  }
});
