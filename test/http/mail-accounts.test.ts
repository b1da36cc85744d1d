// /api/v1/mail-accounts: add, list, show, change, delete. Passwords are
// write-only: sealed in the database, never in a response.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { accountInput, addAccount, addServer, api, assertError, fieldPaths, harness, snapshot, type Harness } from './helpers.ts';

const PASSWORD = 'Pa55-word-日本語-7f3a9c';
const SMTP_PASSWORD = 'smtp-Secret-91bd2e';

async function storedRow(h: Harness, id: string) {
  return h.ctx.db.kysely.selectFrom('mail_accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

test('add, list, show, change and delete an account; the password never comes back', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const server = await addServer(h);
  const res = await api(h, { method: 'POST', url: '/api/v1/mail-accounts', body: accountInput(server.id, { password: PASSWORD, address: ' Support@Example.com ' }) });
  assert.equal(res.status, 201, res.raw);
  assert.ok(!res.raw.includes(PASSWORD), 'the password is in the response');
  const a = res.json;
  assert.equal(a.address, 'Support@Example.com');
  assert.equal(a.displayName, 'Support');
  assert.equal(a.serverId, server.id);
  assert.equal(a.username, 'support');
  assert.equal(a.fromName, '');
  assert.equal(a.hasPassword, true);
  assert.equal(a.hasSmtpPassword, false);
  assert.equal(a.smtpUsername, null);
  assert.deepEqual(a.leaveOnServer, { mode: 'delete' });
  assert.equal(a.receiveIntervalMinutes, 5);
  assert.equal(a.enabled, true);
  assert.ok(!('password' in a) && !('passwordEnc' in a) && !('password_enc' in a));

  const list = await api(h, { url: '/api/v1/mail-accounts' });
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.items, [a]);
  assert.ok(!list.raw.includes(PASSWORD));
  const show = await api(h, { url: `/api/v1/mail-accounts/${a.id}` });
  assert.equal(show.status, 200);
  assert.deepEqual(show.json, a);
  assert.ok(!show.raw.includes(PASSWORD));

  // sealed at rest, opened only by the service for protocol work
  const row = await storedRow(h, a.id);
  assert.equal(typeof row.password_enc, 'string');
  assert.notEqual(row.password_enc, PASSWORD);
  assert.ok(!row.password_enc!.includes(PASSWORD));
  assert.ok(!row.password_enc!.includes(Buffer.from(PASSWORD).toString('base64')));
  const service = new MailAccountService(h.ctx);
  assert.equal((await service.credentials(a.id)).password, PASSWORD);

  // a PATCH without the password keeps it
  const changed = await api(h, {
    method: 'PATCH',
    url: `/api/v1/mail-accounts/${a.id}`,
    body: { displayName: 'Support desk', fromName: 'サポート', leaveOnServer: { mode: 'days', days: 14 }, receiveIntervalMinutes: 15, enabled: false },
  });
  assert.equal(changed.status, 200, changed.raw);
  assert.equal(changed.json.displayName, 'Support desk');
  assert.equal(changed.json.fromName, 'サポート');
  assert.deepEqual(changed.json.leaveOnServer, { mode: 'days', days: 14 });
  assert.equal(changed.json.receiveIntervalMinutes, 15);
  assert.equal(changed.json.enabled, false);
  assert.equal(changed.json.hasPassword, true);
  assert.equal((await storedRow(h, a.id)).password_enc, row.password_enc);
  assert.equal((await service.credentials(a.id)).password, PASSWORD);

  // a new password replaces it, and is not echoed either
  const NEW = 'another-Pa55word';
  const pw = await api(h, { method: 'PATCH', url: `/api/v1/mail-accounts/${a.id}`, body: { password: NEW } });
  assert.equal(pw.status, 200, pw.raw);
  assert.ok(!pw.raw.includes(NEW));
  assert.equal(pw.json.hasPassword, true);
  assert.equal((await service.credentials(a.id)).password, NEW);
  assert.notEqual((await storedRow(h, a.id)).password_enc, row.password_enc);

  const del = await api(h, { method: 'DELETE', url: `/api/v1/mail-accounts/${a.id}` });
  assert.equal(del.status, 204);
  assertError(await api(h, { url: `/api/v1/mail-accounts/${a.id}` }), 404, 'NOT_FOUND');
  assertError(await api(h, { method: 'DELETE', url: `/api/v1/mail-accounts/${a.id}` }), 404, 'NOT_FOUND');
  assertError(await api(h, { method: 'PATCH', url: `/api/v1/mail-accounts/${a.id}`, body: { displayName: 'x' } }), 404, 'NOT_FOUND');
  assert.deepEqual((await api(h, { url: '/api/v1/mail-accounts' })).json.items, []);
});

test('the same password sealed twice gives different ciphertexts', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const server = await addServer(h);
  const a = await addAccount(h, server.id, { address: 'one@example.com', password: PASSWORD });
  const b = await addAccount(h, server.id, { address: 'two@example.com', password: PASSWORD });
  assert.notEqual((await storedRow(h, a.id)).password_enc, (await storedRow(h, b.id)).password_enc);
});

test('a server that does not use the account credentials for SMTP requires smtpUsername and smtpPassword', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const own = await addServer(h, { name: 'Own SMTP login', outgoing: { host: 'smtp.example.com', auth: { mechanism: 'LOGIN', useAccountCredentials: false } } });
  const before = await snapshot(h);
  const missing = await api(h, { method: 'POST', url: '/api/v1/mail-accounts', body: accountInput(own.id) });
  assertError(missing, 400, 'VALIDATION');
  assert.deepEqual(fieldPaths(missing).sort(), ['smtpPassword', 'smtpUsername']);
  const onlyUser = await api(h, { method: 'POST', url: '/api/v1/mail-accounts', body: accountInput(own.id, { smtpUsername: 'relay-user' }) });
  assert.deepEqual(fieldPaths(onlyUser), ['smtpPassword']);
  assert.deepEqual(await snapshot(h), before);

  const res = await api(h, {
    method: 'POST',
    url: '/api/v1/mail-accounts',
    body: accountInput(own.id, { password: PASSWORD, smtpUsername: 'relay-user', smtpPassword: SMTP_PASSWORD }),
  });
  assert.equal(res.status, 201, res.raw);
  assert.ok(!res.raw.includes(SMTP_PASSWORD) && !res.raw.includes(PASSWORD));
  assert.equal(res.json.smtpUsername, 'relay-user');
  assert.equal(res.json.hasSmtpPassword, true);
  const row = await storedRow(h, res.json.id);
  assert.ok(row.smtp_password_enc && !row.smtp_password_enc.includes(SMTP_PASSWORD));
  const creds = await new MailAccountService(h.ctx).credentials(res.json.id);
  assert.deepEqual(creds, { username: 'support', password: PASSWORD, smtpUsername: 'relay-user', smtpPassword: SMTP_PASSWORD });

  // removing them again is refused while the server needs them
  const before2 = await snapshot(h);
  const drop = await api(h, { method: 'PATCH', url: `/api/v1/mail-accounts/${res.json.id}`, body: { smtpPassword: null } });
  assertError(drop, 400, 'VALIDATION');
  assert.deepEqual(fieldPaths(drop), ['smtpPassword']);
  const dropUser = await api(h, { method: 'PATCH', url: `/api/v1/mail-accounts/${res.json.id}`, body: { smtpUsername: null } });
  assert.deepEqual(fieldPaths(dropUser), ['smtpUsername']);
  assert.deepEqual(await snapshot(h), before2);

  // moving an account without SMTP credentials onto that server is refused too
  const plain = await addServer(h, { name: 'Plain' });
  const acc = await addAccount(h, plain.id, { address: 'mover@example.com' });
  const move = await api(h, { method: 'PATCH', url: `/api/v1/mail-accounts/${acc.id}`, body: { serverId: own.id } });
  assertError(move, 400, 'VALIDATION');
  assert.deepEqual(fieldPaths(move).sort(), ['smtpPassword', 'smtpUsername']);

  // no SMTP authentication at all: nothing to require
  const open = await addServer(h, { name: 'No SMTP auth', outgoing: { host: 'smtp.example.com', auth: { mechanism: null, useAccountCredentials: false } } });
  await addAccount(h, open.id, { address: 'open@example.com' });
});

test('addresses: case-insensitive duplicates are refused; carrier addresses with odd dots are accepted', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const server = await addServer(h);
  await addAccount(h, server.id, { address: 'info@example.com' });
  const dup = await api(h, { method: 'POST', url: '/api/v1/mail-accounts', body: accountInput(server.id, { address: 'INFO@Example.COM' }) });
  assertError(dup, 400, 'VALIDATION');
  assert.deepEqual(fieldPaths(dup), ['address']);
  for (const address of ['taro..yamada@docomo.ne.jp', 'taro.@ezweb.ne.jp', 'a+b_c-d=e#f%g&h/i?j`k|l~m@example.jp']) {
    const a = await addAccount(h, server.id, { address });
    assert.equal(a.address, address);
  }
  // the domain is stored as it is checked: a trailing dot is the same address, full-width
  // letters typed with a Japanese IME are the ASCII ones; an IDN stays as typed
  for (const same of ['info@example.com.', 'info@ｅｘａｍｐｌｅ.ｃｏｍ', 'info@exam\u00adple.com']) {
    const again = await api(h, { method: 'POST', url: '/api/v1/mail-accounts', body: accountInput(server.id, { address: same }) });
    assertError(again, 400, 'VALIDATION');
    assert.deepEqual(fieldPaths(again), ['address'], again.raw);
  }
  assert.equal((await addAccount(h, server.id, { address: 'sales@ｅｘａｍｐｌｅ.jp' })).address, 'sales@example.jp');
  assert.equal((await addAccount(h, server.id, { address: 'Office@Example.jp.' })).address, 'Office@example.jp');
  assert.equal((await addAccount(h, server.id, { address: 'info@例え.jp' })).address, 'info@例え.jp');
});

test('ranges: leave-on-server days 1 and 3650, interval 1 and 1440, password of 1 and 1024 characters are accepted', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const server = await addServer(h);
  const a = await addAccount(h, server.id, { address: 'low@example.com', password: 'x', leaveOnServer: { mode: 'days', days: 1 }, receiveIntervalMinutes: 1 });
  assert.deepEqual(a.leaveOnServer, { mode: 'days', days: 1 });
  assert.equal(a.receiveIntervalMinutes, 1);
  const long = 'p'.repeat(1024);
  const b = await addAccount(h, server.id, { address: 'high@example.com', password: long, leaveOnServer: { mode: 'days', days: 3650 }, receiveIntervalMinutes: 1440 });
  assert.deepEqual(b.leaveOnServer, { mode: 'days', days: 3650 });
  assert.equal(b.receiveIntervalMinutes, 1440);
  assert.equal((await new MailAccountService(h.ctx).credentials(b.id)).password, long);
  const forever = await addAccount(h, server.id, { address: 'forever@example.com', leaveOnServer: { mode: 'forever' } });
  assert.deepEqual(forever.leaveOnServer, { mode: 'forever' });
  const tooLong = await api(h, { method: 'POST', url: '/api/v1/mail-accounts', body: accountInput(server.id, { address: 'x@example.com', password: 'p'.repeat(1025) }) });
  assertError(tooLong, 400, 'VALIDATION');
  assert.deepEqual(fieldPaths(tooLong), ['password']);
});

test('a no-op PATCH changes nothing and writes no audit entry', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const server = await addServer(h);
  const a = await addAccount(h, server.id);
  const before = await snapshot(h);
  const res = await api(h, { method: 'PATCH', url: `/api/v1/mail-accounts/${a.id}`, body: { displayName: a.displayName, serverId: server.id } });
  assert.equal(res.status, 200, res.raw);
  assert.deepEqual(res.json, a);
  assert.deepEqual(await snapshot(h), before);
});
