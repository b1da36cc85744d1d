// Property tests: whatever a client POSTs or PATCHes to /api/v1/mail-accounts — valid,
// nearly valid or nonsense — the answer is never a 5xx, a refusal has the error shape and
// changes nothing, and every stored account satisfies PRODUCT.md §3: a valid address unique
// in any case, names without control characters (the From name goes into a header), the
// password never shown, ranges kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FORBIDDEN_LOCAL_CHARS } from '../../src/domain/mail-account.ts';
import { junk, maybe, mostly as anyOf } from '../support/arbitraries.ts';
import { addServer, api, harness, randomRequests, snapshot, type Harness, type Json } from './helpers.ts';

const CONTROL = /[\u0000-\u001f\u007f]/;

const mostly = <T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>) => anyOf(valid, invalid, 20);

const text = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ maxLength: 30, unit: 'grapheme' }),
  fc.string({ maxLength: 40, unit: 'binary' }),
  fc.constantFrom('サポート窓口', '山田 太郎', 'x\r\nBcc: victim@example.com', '\u0000', ' ', '　', 'a'.repeat(1001), '=?utf-8?B?AAAA?=', '"quoted"'),
);
const validName = fc.tuple(fc.constantFrom('サポート', 'Sales', '営業部', 'Info'), fc.nat(99999)).map(([n, i]) => `${n} ${i}`);
const address = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.stringMatching(/^[a-z0-9][a-z0-9._+-]{0,20}$/), fc.domain()).map(([l, d]) => `${l}@${d}`) },
  { weight: 1, arbitrary: fc.emailAddress() },
  { weight: 2, arbitrary: fc.constantFrom('taro..yamada@docomo.ne.jp', 'taro.@ezweb.ne.jp', ' Support@Example.com ', 'a@b.c', 'user@[127.0.0.1]', 'メール@例え.jp', 'x@xn--eckwd4c7c.xn--zckzah') },
  { weight: 1, arbitrary: fc.constantFrom('no at sign', 'a@', '@b.com', 'a"b@example.com', 'a b@example.com', `${'a'.repeat(65)}@example.com`, 'a@-bad-.com', 'a@b@c.com', 'a\r\n@example.com') },
  { weight: 1, arbitrary: text },
);
const password = mostly(fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom('pw-Secret-4711', 'パスワード', ' spaced ')), fc.oneof(fc.constantFrom('', 'a\r\nb', 'x'.repeat(1025), '\u0000'), junk));
const leave = mostly(
  fc.oneof(fc.constant({ mode: 'delete' }), fc.constant({ mode: 'forever' }), fc.integer({ min: 1, max: 3650 }).map((days) => ({ mode: 'days', days }))),
  fc.oneof(fc.constantFrom({ mode: 'days' }, { mode: 'days', days: 0 }, { mode: 'days', days: 3651 }, { mode: 'keep' }, { mode: 'delete', days: 5 }), junk),
);

/** An account's fields; `separate`: its server wants the account's own SMTP user name and password. */
const accountFields = (serverId: string, separate = false) => ({
  displayName: mostly(validName, fc.oneof(text, junk)),
  serverId: mostly(fc.constant(serverId), fc.oneof(fc.uuid(), junk)),
  address: mostly(address, junk),
  fromName: maybe(mostly(fc.oneof(validName, fc.constant('')), fc.oneof(text, junk))),
  username: mostly(fc.oneof(fc.emailAddress(), fc.constantFrom('support', 'ユーザー')), fc.oneof(text, junk, fc.constant(undefined))),
  password: mostly(password, fc.constant(undefined)),
  smtpUsername: separate ? mostly(fc.constantFrom('smtp-user', '送信用'), fc.oneof(fc.constant(null), fc.constant(undefined), text, junk)) : maybe(mostly(fc.constant(null), fc.oneof(text, junk))),
  smtpPassword: separate ? mostly(password, fc.oneof(fc.constant(null), fc.constant(undefined), junk)) : maybe(mostly(fc.constant(null), fc.oneof(password, junk))),
  leaveOnServer: maybe(leave),
  receiveIntervalMinutes: maybe(mostly(fc.integer({ min: 1, max: 1440 }), fc.oneof(fc.constantFrom(0, 1441, -1, 2.5, '5'), junk))),
  enabled: maybe(mostly(fc.boolean(), fc.constantFrom('true', 1, null))),
});

/** PRODUCT.md §3, for every account the API shows. */
function assertValidAccount(a: Json): void {
  const where = JSON.stringify(a);
  assert.ok(!('password' in a) && !('smtpPassword' in a), `a password came back: ${where}`);
  assert.equal(a.hasPassword, true, where);
  for (const name of [a.displayName, a.fromName, a.username]) {
    assert.equal(typeof name, 'string', where);
    assert.doesNotMatch(name, CONTROL, `control characters: ${where}`);
    assert.equal(name, name.trim(), `not trimmed: ${where}`);
  }
  assert.ok(a.displayName.length > 0 && a.username.length > 0, where);
  assert.equal(a.address, a.address.trim(), where);
  const at = a.address.lastIndexOf('@');
  assert.ok(at > 0 && at <= 64, `address: ${where}`);
  for (const c of a.address.slice(0, at)) assert.ok(!FORBIDDEN_LOCAL_CHARS.includes(c) && !/\s/.test(c), `address local part: ${where}`);
  assert.ok(a.smtpUsername === null || (typeof a.smtpUsername === 'string' && !CONTROL.test(a.smtpUsername)), where);
  assert.ok(['delete', 'days', 'forever'].includes(a.leaveOnServer.mode), where);
  if (a.leaveOnServer.mode === 'days') assert.ok(Number.isInteger(a.leaveOnServer.days) && a.leaveOnServer.days >= 1 && a.leaveOnServer.days <= 3650, where);
  else assert.equal(a.leaveOnServer.days, undefined, where);
  assert.ok(Number.isInteger(a.receiveIntervalMinutes) && a.receiveIntervalMinutes >= 1 && a.receiveIntervalMinutes <= 1440, where);
  assert.equal(typeof a.enabled, 'boolean');
}

async function assertAllValid(h: Harness): Promise<Json[]> {
  const res = await api(h, { url: '/api/v1/mail-accounts' });
  assert.equal(res.status, 200, res.raw);
  for (const a of res.json.items) assertValidAccount(a);
  const keys = res.json.items.map((a: Json) => a.address.toLowerCase());
  assert.equal(new Set(keys).size, keys.length, `an address stored twice: ${keys.join(' ')}`);
  return res.json.items;
}

test('random accounts never give a 5xx; a refusal changes nothing; every stored account is valid and its address unique', async (t) => {
  const h = await harness(t);
  if (!h) return;
  // a server that takes the account's own credentials for SMTP, and one that does not
  const plain = await addServer(h);
  const separate = await addServer(h, { name: 'Separate SMTP login', outgoing: { host: 'smtp.example.com', auth: { mechanism: 'PLAIN', useAccountCredentials: false } } });
  const inputs = fc
    .constantFrom([plain.id, false] as const, [separate.id, true] as const)
    .chain(([id, own]) => fc.oneof({ weight: 8, arbitrary: fc.record(accountFields(id, own), { requiredKeys: ['displayName', 'serverId', 'address'] }) }, { weight: 1, arbitrary: junk }));
  const created = await randomRequests(200, inputs, {
    send: (body) => api(h, { method: 'POST', url: '/api/v1/mail-accounts', body }),
    ok: 201,
    state: () => snapshot(h),
    check: async (res) => {
      assertValidAccount(res.json);
      const again = await api(h, { url: `/api/v1/mail-accounts/${res.json.id}` });
      assert.deepEqual(again.json, res.json);
    },
  });
  await assertAllValid(h);
  t.diagnostic(`${created} of 200 random accounts were stored`);
  assert.ok(created >= 25, `only ${created} of 200 random accounts were valid: the generator must reach the accepting side`);
});

test('random PATCHes never give a 5xx, a refusal changes nothing, and every account stays valid, also when it moves to a server that wants its own SMTP login', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const server = await addServer(h);
  const separate = await addServer(h, { name: 'Separate SMTP login', outgoing: { host: 'smtp.example.com', auth: { mechanism: 'PLAIN', useAccountCredentials: false } } });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await api(h, { method: 'POST', url: '/api/v1/mail-accounts', body: { displayName: `Target ${i}`, serverId: server.id, address: `target${i}@example.com`, username: `t${i}`, password: 'pw' } });
    assert.equal(res.status, 201, res.raw);
    ids.push(res.json.id);
  }
  // a change stays on the account's server (no serverId) or names one of the two: moved to the
  // second without its own SMTP user name and password, the account must be refused
  const patch = fc
    .constantFrom([server.id, false] as const, [server.id, false] as const, [separate.id, true] as const)
    .chain(([id, own]) => fc.record(accountFields(id, own), { requiredKeys: [] }));
  const ownLogin = async (res: { json: Json }) => {
    assertValidAccount(res.json);
    if (res.json.serverId !== separate.id) return;
    assert.ok(res.json.smtpUsername, `on the server that wants its own SMTP login without a user name: ${JSON.stringify(res.json)}`);
    const row = await h.ctx.db.kysely.selectFrom('mail_accounts').select('smtp_password_enc').where('id', '=', res.json.id).executeTakeFirstOrThrow();
    assert.ok(row.smtp_password_enc, 'on the server that wants its own SMTP login without a password');
  };
  const accepted = await randomRequests(150, fc.tuple(fc.constantFrom(...ids), fc.oneof({ weight: 8, arbitrary: patch }, { weight: 1, arbitrary: junk })), {
    send: ([id, body]) => api(h, { method: 'PATCH', url: `/api/v1/mail-accounts/${id}`, body }),
    ok: 200,
    state: () => snapshot(h),
    check: ownLogin,
  });
  const all = await assertAllValid(h);
  for (const a of all) await ownLogin({ json: a });
  const moved = all.filter((a) => a.serverId === separate.id).length;
  t.diagnostic(`${moved} of ${ids.length} accounts ended on the server that wants its own SMTP login`);
  t.diagnostic(`${accepted} of 150 random changes were accepted`);
  assert.ok(accepted >= 20, `only ${accepted} of 150 random changes were accepted`);
});
