// End to end: a Gmail (preset) account connected through Yubin's own HTTP routes — start,
// the provider's authorization endpoint (oauth2-mock-server, in-process), the callback —
// then receiving over POP3 and IMAP from a REAL Dovecot whose oauth2 passdb checks every
// token at the provider's introspection endpoint, and sending through smtp-server checking
// XOAUTH2. Then the grant is revoked: the refused login flags the account re-authorize,
// receiving and sending stop without retrying at the provider, and connecting again
// resumes both (the held mail goes out).
//
// The Dovecot here is a private one (mailbed.sh with MAILBED_OAUTH2_INTROSPECTION_URL),
// stopped after the test; the shared mailbed the other tests use is not touched. The
// preset's fixed hosts (pop.gmail.com …) are pointed at it with the test-only server
// override of the provider settings (OAuthProviderService.setServerOverride).
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { receiveNow, runConnectionTest } from '../../src/receive/receive-service.ts';
import { startReceiveScheduler } from '../../src/receive/scheduler.ts';
import { sendDeliveryNow } from '../../src/send/send-worker.ts';
import { OAuthProviderService } from '../../src/services/oauth-providers.ts';
import { call, harness, type Harness } from '../http/helpers.ts';
import { MailbedUnavailableError, mailbedMissing, startMailbed, type Mailbed } from '../support/mailbed.ts';
import { startMockProvider, type MockProvider } from '../support/oauth-provider.ts';

interface Bed {
  h: Harness;
  provider: MockProvider;
  bed: Mailbed;
  smtp: { port: number; mails: { user: string; raw: string }[]; auths: string[] };
  gmailId: string;
  accountId: string;
  user: string;
  /** the administrator's browser: start → provider → callback; returns the callback's redirect */
  connect(): Promise<string>;
}

async function setup(t: TestContext): Promise<Bed | undefined> {
  const missing = mailbedMissing();
  if (missing) {
    if (process.env.CI === 'true' || process.env.CI === '1') throw new MailbedUnavailableError(`CI=true but ${missing}`);
    t.skip(missing);
    return undefined;
  }
  const h = (await harness(t))!;
  const provider = await startMockProvider(t);
  const bed = await startMailbed({ oauth2IntrospectionUrl: provider.endpoints.introspection, submit: false });
  t.after(() => bed.stop());

  const [key, cert] = await Promise.all([readFile(join(bed.dir, 'ssl', 'key.pem')), readFile(join(bed.dir, 'ssl', 'cert.pem'))]);
  const smtp: Bed['smtp'] = { port: 0, mails: [], auths: [] };
  const server = new SMTPServer({
    secure: true,
    key,
    cert,
    authMethods: ['XOAUTH2'],
    onAuth(auth, _session, cb) {
      smtp.auths.push(auth.username ?? '');
      // what Gmail does: the token must be live at the provider and belong to this user
      if (auth.method === 'XOAUTH2' && provider.accepts(auth.username ?? '', auth.accessToken ?? '')) return cb(null, { user: auth.username });
      return cb(null, { data: { status: '401', schemes: 'bearer', scope: 'https://mail.google.com/' } });
    },
    onData(stream, session, cb) {
      let raw = '';
      stream.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      stream.on('end', () => {
        smtp.mails.push({ user: String(session.user), raw });
        cb();
      });
    },
    logger: false,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  smtp.port = (server.server.address() as { port: number }).port;

  // the administrator enters the OAuth client under システム設定 (the mock's endpoints)
  const saved = await call(h.app, {
    method: 'PUT',
    url: '/api/v1/oauth-providers/gmail',
    headers: h.auth,
    body: { clientId: provider.clientId, clientSecret: provider.clientSecret, endpoints: provider.endpoints },
  });
  assert.equal(saved.status, 200, saved.raw);
  assert.equal(saved.json.hasClientSecret, true);
  assert.ok(!saved.raw.includes(provider.clientSecret), 'the secret is write-only');
  // TEST ONLY: where pop.gmail.com, imap.gmail.com and smtp.gmail.com are
  await new OAuthProviderService(h.ctx).setServerOverride('gmail', {
    pop3: { host: '127.0.0.1', port: bed.ports.pop3s, encryption: 'tls' },
    imap4: { host: '127.0.0.1', port: bed.ports.imaps, encryption: 'tls' },
    smtp: { host: '127.0.0.1', port: smtp.port, encryption: 'tls' },
  });

  const user = `g${randomBytes(4).toString('hex')}@example.com`;
  await bed.addUser(user, `unused-${randomBytes(6).toString('hex')}`);
  const gmailId = (await call(h.app, { url: '/api/v1/mail-servers', headers: h.auth })).json.items.find((s: { preset: string }) => s.preset === 'gmail').id;
  // Gmail: no user name, no password — the address is the XOAUTH2 user
  const added = await call(h.app, { method: 'POST', url: '/api/v1/mail-accounts', headers: h.auth, body: { displayName: 'Gmail', serverId: gmailId, address: user } });
  assert.equal(added.status, 201, added.raw);
  assert.equal(added.json.oauth.status, 'not_connected');
  const accountId = added.json.id as string;

  const connect = async () => {
    const start = await h.app.inject({ method: 'GET', url: `/api/v1/mail-accounts/${accountId}/oauth/start`, headers: h.auth });
    assert.equal(start.statusCode, 302, start.body);
    const authorizationUrl = new URL(String(start.headers.location));
    assert.equal(authorizationUrl.origin, provider.issuer);
    assert.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(authorizationUrl.searchParams.get('scope'), 'https://mail.google.com/');
    assert.equal(authorizationUrl.searchParams.get('access_type'), 'offline');
    const cookie = start.cookies.find((c) => c.name === 'yubin_oauth')!;
    assert.equal(cookie.sameSite, 'Lax');
    const back = await provider.authorize(authorizationUrl.href);
    assert.equal(back.pathname, '/api/oauth/callback');
    const done = await h.app.inject({ method: 'GET', url: back.pathname + back.search, cookies: { yubin_oauth: cookie.value } });
    assert.equal(done.statusCode, 302, done.body);
    // the state is single use: the same callback again is refused
    const replay = await h.app.inject({ method: 'GET', url: back.pathname + back.search, cookies: { yubin_oauth: cookie.value } });
    assert.match(String(replay.headers.location), /oauth=error&problem=state/);
    return String(done.headers.location);
  };
  return { h, provider, bed, smtp, gmailId, accountId, user, connect };
}

const mail = (n: number) => `From: a@example.org\r\nTo: b@example.com\r\nSubject: xoauth2 ${n}\r\nMessage-ID: <x${n}.${randomBytes(4).toString('hex')}@example.org>\r\n\r\nbody ${n}\r\n`;

describe('XOAUTH2 end to end (Gmail preset)', () => {
  test('connected through the callback, the account receives over POP3 and IMAP and sends, all with XOAUTH2', async (t) => {
    const b = await setup(t);
    if (!b) return;
    const { h, bed, provider } = b;
    assert.equal(await b.connect(), `/settings/general/mail-accounts/${b.accountId}?oauth=connected`);
    const account = await call(h.app, { url: `/api/v1/mail-accounts/${b.accountId}`, headers: h.auth });
    assert.equal(account.json.oauth.status, 'connected');

    // POP3 (the preset's default): AUTH XOAUTH2 against Dovecot, which introspects the token
    await bed.deliver(b.user, mail(1));
    const introspectionsBefore = provider.introspections;
    const pop3 = await receiveNow(h.ctx, b.accountId, { ca: bed.ca });
    assert.deepEqual(pop3.errors, []);
    assert.equal(pop3.received, 1);
    assert.equal(await bed.count(b.user), 0);
    assert.ok(provider.introspections > introspectionsBefore, 'Dovecot checked the token at the provider');

    // IMAP: the preset's protocol switched by the administrator
    const patched = await call(h.app, { method: 'PATCH', url: `/api/v1/mail-servers/${b.gmailId}`, headers: h.auth, body: { incoming: { protocol: 'imap4' } } });
    assert.equal(patched.status, 200, patched.raw);
    await bed.deliver(b.user, mail(2));
    const imap = await receiveNow(h.ctx, b.accountId, { ca: bed.ca });
    assert.deepEqual(imap.errors, []);
    assert.equal(imap.received, 1);
    assert.equal(await h.ctx.repos.messages.count(b.accountId), 2);

    // SMTP: AUTH XOAUTH2 with the same token
    const created = await call(h.app, { method: 'POST', url: '/api/v1/deliveries', headers: h.auth, body: { accountId: b.accountId, to: ['rcpt@example.org'], subject: 'sent with XOAUTH2', text: 'hello' } });
    assert.equal(created.status, 201, created.raw);
    await sendDeliveryNow(h.ctx, created.json.id, { ca: bed.ca, timeoutMs: 20_000 });
    const sent = await call(h.app, { url: `/api/v1/deliveries/${created.json.id}`, headers: h.auth });
    assert.equal(sent.json.recipients[0].status, 'sent', sent.raw);
    assert.equal(b.smtp.mails.length, 1);
    assert.equal(b.smtp.mails[0]!.user, b.user);
    assert.match(b.smtp.mails[0]!.raw, /Subject: sent with XOAUTH2/);

    // the connection test logs in with the token on both sides
    const diag = await runConnectionTest(h.ctx, b.accountId, 'en', { ca: bed.ca });
    assert.equal(diag.ok, true, JSON.stringify(diag));
    assert.match(diag.incoming.find((s) => s.stage === 'auth')!.message, /IMAP|logged in/i);
    assert.ok(!JSON.stringify(diag).includes((await h.ctx.repos.oauth.grant(b.accountId))!.tokenEnc!.slice(3, 20)));
    assert.deepEqual(provider.tokenCalls, ['authorization_code'], 'one access token did it all');
  });

  test('a revoked grant: the refused login flags re-authorize, receiving and sending stop without retries, re-authorizing resumes both', async (t) => {
    const b = await setup(t);
    if (!b) return;
    const { h, bed, provider } = b;
    await b.connect();
    provider.revoke(b.user); // the user removed Yubin's access in their Google account
    await bed.deliver(b.user, mail(1));

    const run = await receiveNow(h.ctx, b.accountId, { ca: bed.ca });
    assert.equal(run.errors[0]?.code, 'OAUTH_REAUTHORIZE', JSON.stringify(run));
    assert.equal(await bed.count(b.user), 1, 'the mail stays on the server');
    const flagged = await call(h.app, { url: `/api/v1/mail-accounts/${b.accountId}`, headers: h.auth, lang: 'ja' });
    assert.equal(flagged.json.oauth.status, 'reauthorize');
    assert.equal(flagged.json.oauth.errorCode, 'invalid_grant');
    const diag = await runConnectionTest(h.ctx, b.accountId, 'ja', { ca: bed.ca });
    const auth = [...diag.incoming, ...diag.outgoing].filter((s) => s.stage === 'auth');
    assert.ok(auth.length === 2 && auth.every((s) => s.code === 'OAUTH_REAUTHORIZE' && /再認証/.test(s.message)), JSON.stringify(diag));

    const tokenCalls = provider.tokenCalls.length;
    const smtpAuths = b.smtp.auths.length;
    // the scheduler leaves it alone …
    const scheduler = startReceiveScheduler(h.ctx, { pollIntervalMs: 3_600_000, receive: { ca: bed.ca } });
    await scheduler.tick();
    await scheduler.stop();
    // … and a mail to send waits (deferred with the reason), without any SMTP or provider connection
    const created = await call(h.app, { method: 'POST', url: '/api/v1/deliveries', headers: h.auth, body: { accountId: b.accountId, to: ['rcpt@example.org'], subject: 'held', text: 'held' } });
    await sendDeliveryNow(h.ctx, created.json.id, { ca: bed.ca, timeoutMs: 20_000 });
    const held = (await h.ctx.repos.deliveries.recipients(created.json.id))[0]!;
    assert.equal(held.status, 'deferred');
    assert.equal(held.error_code, 'OAUTH_REAUTHORIZE');
    assert.equal(provider.tokenCalls.length, tokenCalls, 'no retry storm at the provider');
    assert.equal(b.smtp.auths.length, smtpAuths, 'no login attempts at the SMTP server');

    // the user consents again; the administrator presses 再認証
    provider.restore(b.user);
    assert.match(await b.connect(), /oauth=connected/);
    await sendDeliveryNow(h.ctx, created.json.id, { ca: bed.ca, timeoutMs: 20_000 });
    assert.equal((await h.ctx.repos.deliveries.recipients(created.json.id))[0]!.status, 'sent', 'the held mail went out at once');
    const again = await receiveNow(h.ctx, b.accountId, { ca: bed.ca });
    assert.deepEqual(again.errors, []);
    assert.equal(again.received, 1);
  });

  test('revoked, noticed first by the SMTP server: one refresh finds the grant dead, the mail waits instead of failing', async (t) => {
    const b = await setup(t);
    if (!b) return;
    const { h, bed, provider } = b;
    await b.connect();
    provider.revoke(b.user);
    const created = await call(h.app, { method: 'POST', url: '/api/v1/deliveries', headers: h.auth, body: { accountId: b.accountId, to: ['rcpt@example.org'], subject: 'after revocation', text: 'x' } });
    await sendDeliveryNow(h.ctx, created.json.id, { ca: bed.ca, timeoutMs: 20_000 });
    const r = (await h.ctx.repos.deliveries.recipients(created.json.id))[0]!;
    assert.equal(b.smtp.auths.length, 1, 'the SMTP server refused the token once');
    assert.deepEqual(provider.tokenCalls, ['authorization_code', 'refresh_token'], 'one refresh, refused');
    assert.equal(r.status, 'deferred', 'waits for re-authorization, not failed as a refused login');
    assert.equal(r.error_code, 'OAUTH_REAUTHORIZE');
    assert.equal((await call(h.app, { url: `/api/v1/mail-accounts/${b.accountId}`, headers: h.auth })).json.oauth.status, 'reauthorize');
    assert.equal((await h.ctx.repos.deliveries.accountSendFlag(b.accountId)).flagged, false, 'not flagged as a wrong password');
  });
});
