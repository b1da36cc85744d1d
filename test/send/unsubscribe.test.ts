// Unsubscribe links in bulk mail (src/send/unsubscribe.ts, src/http/routes/unsubscribe.ts):
// with YUBIN_UNSUBSCRIBE_URL set, each bulk mail that reaches the SMTP server carries its
// recipient's List-Unsubscribe link; opening it changes nothing, a one-click POST (no session,
// no token, no CSRF) puts exactly that address on the suppression list, and the next bulk
// delivery skips it. A link that was changed in any way is refused and stores nothing.
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { buildApp } from '../../src/http/app.ts';
import { AuthService } from '../../src/services/auth.ts';
import type { AppContext } from '../../src/services/context.ts';
import { BulkDeliveryService } from '../../src/send/bulk-service.ts';
import { startSendWorker } from '../../src/send/send-worker.ts';
import { normalizeRecipient, recipientKey } from '../../src/send/address.ts';
import { SuppressionService } from '../../src/send/suppression-service.ts';
import { unsubscribeAddress, unsubscribeToken } from '../../src/send/unsubscribe.ts';
import { ENGINES, makeContext, type Engine } from '../support/app-context.ts';
import { startSmtpServer } from '../protocols/smtp/smtp-test-servers.ts';
import { addSendingAccount, cleanups, waitFor } from './send-fixture.ts';

const BASE = 'https://news.example.com/unsubscribe';

test('a token names its address and is refused when anything in it is changed, or made with another key', () => {
  const key = randomBytes(32);
  const token = unsubscribeToken(key, 'Taro.Yamada@example.jp');
  assert.equal(unsubscribeAddress(key, token), 'Taro.Yamada@example.jp');
  assert.equal(unsubscribeAddress(randomBytes(32), token), null);
  const [address, mac] = token.split('.') as [string, string];
  // another address with this one's MAC
  assert.equal(unsubscribeAddress(key, `${Buffer.from('someone@example.jp').toString('base64url')}.${mac}`), null);
  // one character changed anywhere
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '.') continue;
    const changed = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
    assert.equal(unsubscribeAddress(key, changed), null, `changed at ${i}: ${changed}`);
  }
  for (const bad of ['', '.', address, `${address}.`, `${token}x`, `${address}.${mac.slice(1)}`, '../../etc/passwd', `${token}/`]) {
    assert.equal(unsubscribeAddress(key, bad), null, bad);
  }
  // made for something that is no recipient address: refused all the same
  assert.equal(unsubscribeAddress(key, unsubscribeToken(key, 'not an address')), null);
});

async function setup(t: TestContext, engine: Engine, unsubscribeUrl: string | undefined) {
  const ctx = await makeContext(engine, unsubscribeUrl ? { unsubscribeUrl } : {});
  if (!ctx) {
    t.skip(`${engine} is not installed here`);
    return undefined;
  }
  const later = cleanups(t);
  later(() => ctx.close());
  const smtp = await startSmtpServer();
  later(() => smtp.close());
  const app = await buildApp(ctx);
  later(() => app.close());
  const f = await addSendingAccount(ctx, { port: smtp.port });
  const worker = startSendWorker(ctx, { pollIntervalMs: 50, sessions: 2 });
  later(() => worker.stop());
  return { ctx, smtp, app, accountId: f.accountId };
}

async function sendBulk(ctx: AppContext, accountId: string, csv: string) {
  const bulk = new BulkDeliveryService(ctx);
  const created = await bulk.create('test', { accountId, subject: 'News for {{name}}', text: 'Dear {{name}},\nour news.\n', recipientsCsv: csv });
  await waitFor(`bulk delivery ${created.id}`, async () => ((await bulk.get(created.id)).status === 'done' ? true : undefined));
  return created;
}

for (const engine of ENGINES) {
  test(`${engine}: every bulk mail carries its recipient's one-click link; a GET changes nothing, the POST suppresses that address only`, async (t) => {
    const s = await setup(t, engine, BASE);
    if (!s) return;
    const created = await sendBulk(s.ctx, s.accountId, 'email,name\nhanako@example.jp,Hanako\nTaro@Example.NET,Taro\n');
    assert.equal(s.smtp.mails.length, 2);
    const links = new Map<string, string>();
    for (const mail of s.smtp.mails) {
      const parsed = await simpleParser(mail.raw);
      const lines = parsed.headerLines.filter((h) => h.key.startsWith('list-unsubscribe')).map((h) => h.line);
      assert.equal(lines.length, 2, `${mail.to[0]}: ${lines.join(' | ')}`);
      const m = /^List-Unsubscribe: <(https:\/\/news\.example\.com\/unsubscribe\/([A-Za-z0-9_.-]+))>$/.exec(lines[0]!);
      assert.ok(m, lines[0]);
      assert.equal(lines[1], 'List-Unsubscribe-Post: List-Unsubscribe=One-Click');
      links.set(mail.to[0]!, m[2]!);
    }
    assert.notEqual(links.get('hanako@example.jp'), links.get('Taro@example.net'));
    const token = links.get('Taro@example.net')!;
    // the stored copy of each sent mail is the mail that went out, link and all
    for (const r of (await new BulkDeliveryService(s.ctx).recipients(created.id, {})).items) {
      const stored = await s.ctx.repos.deliveries.raw(r.deliveryId);
      assert.ok(stored?.equals(s.smtp.mails.find((m) => m.to[0] === r.address)!.raw), `the stored mail to ${r.address} is not the one sent`);
    }

    const suppressed = async () => (await new SuppressionService(s.ctx).list()).items.map((x) => x.address);
    // what a mail scanner or a link preview does: nothing changes
    const page = await s.app.inject({ method: 'GET', url: `/unsubscribe/${token}`, headers: { 'accept-language': 'ja' } });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.ok(page.body.includes('Taro@example.net への一斉配信を停止します'), page.body);
    assert.ok(page.body.includes('<form method="post">'));
    assert.deepEqual(await suppressed(), []);

    // the mailbox provider's one-click POST (RFC 8058): no cookie, no API token, no CSRF token
    const click = await s.app.inject({ method: 'POST', url: `/unsubscribe/${token}`, headers: { 'content-type': 'application/x-www-form-urlencoded', 'accept-language': 'en' }, payload: 'List-Unsubscribe=One-Click' });
    assert.equal(click.statusCode, 200, click.body);
    assert.ok(click.body.includes('Taro@example.net has been added to the suppression list'), click.body);
    assert.deepEqual(await suppressed(), ['Taro@example.net']);
    const list = (await new SuppressionService(s.ctx).list()).items[0]!;
    assert.equal(list.reason, 'List-Unsubscribe (one-click)');
    const audit = await s.ctx.repos.audit.list({ limit: 5 });
    assert.ok(audit.items.some((e) => e.action === 'suppression.add' && e.actor === 'recipient' && e.targetName === 'Taro@example.net'));
    // again (a second click, the page's button as multipart): still one entry
    const again = await s.app.inject({ method: 'POST', url: `/unsubscribe/${token}`, headers: { 'content-type': 'multipart/form-data; boundary=x' }, payload: '--x\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--x--\r\n' });
    assert.equal(again.statusCode, 200);
    const button = await s.app.inject({ method: 'POST', url: `/unsubscribe/${token}` });
    assert.equal(button.statusCode, 200);
    assert.deepEqual(await suppressed(), ['Taro@example.net']);
    // the second and third clicks are not logged again
    assert.equal((await s.ctx.repos.audit.list({ limit: 50 })).items.filter((e) => e.actor === 'recipient').length, 1);

    // the next bulk delivery skips the address, reported as suppressed
    const next = await sendBulk(s.ctx, s.accountId, 'email,name\ntaro@example.net,Taro\nhanako@example.jp,Hanako\n');
    assert.deepEqual(
      next.skipped.map((r) => [r.address, r.reason]),
      [['taro@example.net', 'suppressed']],
    );
    assert.deepEqual(
      s.smtp.mails.slice(2).map((m) => m.to[0]),
      ['hanako@example.jp'],
    );
  });
}

test('a changed or unknown link is a 404 page in the reader’s language and stores nothing', async (t) => {
  const s = await setup(t, 'sqlite', BASE);
  if (!s) return;
  const token = unsubscribeToken(s.ctx.secretKey, 'hanako@example.jp');
  const forged = unsubscribeToken(randomBytes(32), 'hanako@example.jp');
  for (const [method, url, lang, text] of [
    ['POST', `/unsubscribe/${forged}`, 'en', 'This link is not valid'],
    ['GET', `/unsubscribe/${forged}`, 'ja', 'このリンクは無効です'],
    ['POST', `/unsubscribe/${token.slice(0, -1)}`, 'ja', 'このリンクは無効です'],
    ['POST', `/unsubscribe/${'A'.repeat(800)}.${'B'.repeat(22)}`, 'en', 'This link is not valid'],
    ['GET', '/unsubscribe/', 'ja', 'このリンクは無効です'],
    ['GET', '/unsubscribe', 'en', 'This link is not valid'],
    ['POST', '/unsubscribe/', 'en', 'This link is not valid'],
  ] as const) {
    const res: { statusCode: number; body: string } = await s.app.inject({ method, url, headers: { 'accept-language': lang, 'content-type': 'application/x-www-form-urlencoded' }, payload: method === 'POST' ? 'List-Unsubscribe=One-Click' : undefined });
    assert.equal(res.statusCode, 404, `${method} ${url.slice(0, 60)}: ${res.statusCode}`);
    assert.ok(res.body.includes(text), res.body);
  }
  // the longest address a recipient can have (254 octets) makes a link that works
  const longest = `${'l'.repeat(64)}@${'d'.repeat(60)}.${'e'.repeat(60)}.${'f'.repeat(56)}.example.jp`;
  assert.equal(longest.length, 254);
  const page = await s.app.inject({ method: 'GET', url: `/unsubscribe/${unsubscribeToken(s.ctx.secretKey, longest)}` });
  assert.equal(page.statusCode, 200);
  assert.ok(page.body.includes(longest));
  // a body larger than any one-click: refused, nothing stored
  const big = await s.app.inject({ method: 'POST', url: `/unsubscribe/${token}`, headers: { 'content-type': 'text/plain' }, payload: 'x'.repeat(10_000) });
  assert.equal(big.statusCode, 413);
  assert.match(big.body, /4096/, 'the 413 names the limit that refused it');
  assert.deepEqual((await new SuppressionService(s.ctx).list()).items, []);
});

test('without YUBIN_UNSUBSCRIBE_URL bulk mail carries no unsubscribe link', async (t) => {
  const s = await setup(t, 'sqlite', undefined);
  if (!s) return;
  await sendBulk(s.ctx, s.accountId, 'email,name\nhanako@example.jp,Hanako\n');
  assert.equal(s.smtp.mails.length, 1);
  assert.ok(!/^List-Unsubscribe/im.test(s.smtp.mails[0]!.raw.toString('latin1')));
});

test('{{unsubscribe_url}} puts the recipient’s link into the body (a CSV column of that name is not used), the same link as the header', async (t) => {
  const s = await setup(t, 'sqlite', BASE);
  if (!s) return;
  const bulk = new BulkDeliveryService(s.ctx);
  const created = await bulk.create('test', {
    accountId: s.accountId,
    subject: 'News for {{name}}',
    text: '{{name}}様\n配信停止はこちら: {{unsubscribe_url}}\n',
    html: '<p><a href="{{unsubscribe_url}}">配信停止</a></p>',
    recipientsCsv: 'email,name,unsubscribe_url\nhanako@example.jp,花子,https://evil.example/\n',
  });
  await waitFor('the bulk delivery', async () => ((await bulk.get(created.id)).status === 'done' ? true : undefined));
  const parsed = await simpleParser(s.smtp.mails[0]!.raw);
  const header = /<([^>]+)>/.exec(parsed.headerLines.find((h) => h.key === 'list-unsubscribe')!.line)![1]!;
  assert.equal(header, `${BASE}/${unsubscribeToken(s.ctx.secretKey, 'hanako@example.jp')}`);
  assert.equal(parsed.text, `花子様\n配信停止はこちら: ${header}\n`);
  assert.ok(parsed.html && parsed.html.includes(`<a href="${header}">`), String(parsed.html));
  assert.ok(!s.smtp.mails[0]!.raw.includes('evil.example'));
  // the link in the body works
  const click = await s.app.inject({ method: 'POST', url: new URL(header).pathname, payload: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(click.statusCode, 200);
  assert.deepEqual((await new SuppressionService(s.ctx).list()).items.map((x) => x.address), ['hanako@example.jp']);
});

test('without YUBIN_UNSUBSCRIBE_URL, {{unsubscribe_url}} is a field error in Japanese and English naming the setting, and nothing is queued', async (t) => {
  const s = await setup(t, 'sqlite', undefined);
  if (!s) return;
  const token = await new AuthService(s.ctx).createToken('tests');
  for (const [lang, text] of [
    ['ja', '本文の {{unsubscribe_url}}（配信停止リンク）は使えません。YUBIN_UNSUBSCRIBE_URL が設定されていないためです'],
    ['en', 'uses {{unsubscribe_url}}, the unsubscribe link, but this Yubin makes none: set YUBIN_UNSUBSCRIBE_URL'],
  ] as const) {
    const res: { statusCode: number; body: string; json: () => unknown } = await s.app.inject({
      method: 'POST',
      url: '/api/v1/bulk-deliveries',
      headers: { authorization: `Bearer ${token}`, 'accept-language': lang },
      payload: { accountId: s.accountId, subject: 'x', text: 'stop: {{unsubscribe_url}} {{nope}}', recipientsCsv: 'email\nhanako@example.jp\n' },
    });
    assert.equal(res.statusCode, 400, res.body);
    const fields = (res.json() as { error: { fields: { path: string; message: string }[] } }).error.fields;
    assert.deepEqual(
      fields.map((f) => f.path),
      ['text', 'text'],
    );
    assert.ok(fields[0]!.message.includes('{{nope}}'), fields[0]!.message);
    assert.ok(fields[1]!.message.includes(text), fields[1]!.message);
  }
  assert.equal((await s.ctx.db.kysely.selectFrom('bulk_deliveries').select('id').execute()).length, 0);
  assert.equal(s.smtp.mails.length, 0);
});

test('any path after /unsubscribe/ is a 404 page or 414, never a 5xx, and stores nothing; any recipient address round-trips, escaped on the page (property)', async (t) => {
  const s = await setup(t, 'sqlite', BASE);
  if (!s) return;
  const junk = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: fc.constantFrom('A', 'z', '0', '-', '_', '.', '/', '%', '?', '#', '\u0000', '<'), maxLength: 900 }));
  await fc.assert(
    fc.asyncProperty(junk, fc.constantFrom('GET', 'POST') as fc.Arbitrary<'GET' | 'POST'>, async (token, method) => {
      const res = await s.app.inject({ method, url: `/unsubscribe/${encodeURIComponent(token)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: method === 'POST' ? 'List-Unsubscribe=One-Click' : undefined });
      assert.ok(res.statusCode === 404 || res.statusCode === 414, `${method} ${JSON.stringify(token)}: ${res.statusCode} ${res.body.slice(0, 200)}`);
    }),
    { numRuns: 150 },
  );
  assert.deepEqual((await new SuppressionService(s.ctx).list()).items, []);

  // local parts with every character a recipient address may hold, & ' and friends included
  const local = fc.string({ unit: fc.constantFrom(...'abcXYZ019!#$%&\'*+-/=?^_`{|}~.'.split('')), minLength: 1, maxLength: 30 });
  await fc.assert(
    fc.asyncProperty(local, fc.constantFrom('example.jp', 'xn--r8jz45g.jp', 'mail.example.com'), async (l, domain) => {
      const address = normalizeRecipient(`${l}@${domain}`);
      if (!address) return;
      const token = unsubscribeToken(s.ctx.secretKey, address);
      const page = await s.app.inject({ method: 'GET', url: `/unsubscribe/${token}` });
      assert.equal(page.statusCode, 200);
      assert.ok(page.body.includes(address.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)), page.body);
      const click = await s.app.inject({ method: 'POST', url: `/unsubscribe/${token}`, payload: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(click.statusCode, 200);
      assert.ok((await s.ctx.repos.deliveries.suppressedKeys([recipientKey(address)])).has(recipientKey(address)), address);
    }),
    { numRuns: 60 },
  );
});
