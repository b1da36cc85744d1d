// The audit log: every add, change and delete leaves an entry with the actor,
// the action, the target and the changed field names — and never a password.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthService } from '../../src/services/auth.ts';
import { addAccount, addServer, api, auditEntries, call, harness, sessionCookie, type Json } from './helpers.ts';

const PASSWORD = 'audit-Pa55word-c0ffee';
const NEW_PASSWORD = 'rotated-Pa55word-beef42';
const SMTP_PASSWORD = 'smtp-Pa55word-f00d17';
const ADMIN_PASSWORD = 'admin-Pa55word-abc123';

test('adds, changes and deletes are audited with actor, action, target and field names, and no secret', async (t) => {
  const h = await harness(t, 'sqlite', 'provisioner');
  if (!h) return;
  const actor = 'token:provisioner';
  const find = async (action: string, targetId?: string): Promise<Json> => {
    const all = (await auditEntries(h)).filter((e) => e.action === action && (targetId === undefined || e.targetId === targetId));
    assert.equal(all.length, 1, `${action}: ${JSON.stringify(all)}`);
    return all[0];
  };

  const server = await addServer(h, { name: 'Audit ISP', outgoing: { host: 'smtp.example.com', auth: { mechanism: 'PLAIN', useAccountCredentials: false } } });
  const add = await find('mail_server.add', server.id);
  assert.equal(add.actor, actor);
  assert.equal(add.targetType, 'mail_server');
  assert.equal(add.targetName, 'Audit ISP');
  for (const f of ['name', 'incoming.host', 'incoming.port', 'outgoing.host', 'outgoing.auth.useAccountCredentials']) assert.ok(add.fields.includes(f), `${f} not in ${add.fields}`);
  assert.ok(!Number.isNaN(Date.parse(add.at)));

  await api(h, { method: 'PATCH', url: `/api/v1/mail-servers/${server.id}`, body: { name: 'Audit ISP 2', incoming: { port: 1995, host: 'pop.example.com' }, outgoing: { perMinuteLimit: 10 } } });
  const change = await find('mail_server.change', server.id);
  assert.equal(change.actor, actor);
  assert.equal(change.targetName, 'Audit ISP 2');
  // only what really changed (the host was sent unchanged)
  assert.deepEqual([...change.fields].sort(), ['incoming.port', 'name', 'outgoing.perMinuteLimit']);

  const account = await addAccount(h, server.id, { password: PASSWORD, smtpUsername: 'relay', smtpPassword: SMTP_PASSWORD });
  const accAdd = await find('mail_account.add', account.id);
  assert.equal(accAdd.actor, actor);
  assert.equal(accAdd.targetType, 'mail_account');
  assert.equal(accAdd.targetName, 'support@example.com');
  assert.ok(accAdd.fields.includes('password') && accAdd.fields.includes('smtpPassword'), `${accAdd.fields}`);

  await api(h, { method: 'PATCH', url: `/api/v1/mail-accounts/${account.id}`, body: { password: NEW_PASSWORD } });
  assert.deepEqual((await find('mail_account.change', account.id)).fields, ['password']);

  await api(h, { method: 'PATCH', url: `/api/v1/mail-accounts/${account.id}`, body: { displayName: 'Renamed', receiveIntervalMinutes: 10, smtpPassword: NEW_PASSWORD } });
  const changes = (await auditEntries(h)).filter((e) => e.action === 'mail_account.change');
  assert.equal(changes.length, 2);
  assert.ok(
    changes.some((e) => [...e.fields].sort().join() === 'displayName,receiveIntervalMinutes,smtpPassword'),
    JSON.stringify(changes),
  );

  await api(h, { method: 'DELETE', url: `/api/v1/mail-accounts/${account.id}` });
  const accDel = await find('mail_account.delete', account.id);
  assert.equal(accDel.actor, actor);
  assert.equal(accDel.targetName, 'support@example.com');
  await api(h, { method: 'DELETE', url: `/api/v1/mail-servers/${server.id}` });
  const del = await find('mail_server.delete', server.id);
  assert.equal(del.targetName, 'Audit ISP 2');
  assert.deepEqual(del.fields, []);

  // an administrator's session is named by user name
  await new AuthService(h.ctx).createAdmin('hanako', ADMIN_PASSWORD);
  const signIn = await call(h.app, { method: 'POST', url: '/api/auth/sign-in', body: { username: 'hanako', password: ADMIN_PASSWORD } });
  const cookie = sessionCookie(signIn)!.cookie;
  const viaSession = await call(h.app, {
    method: 'POST',
    url: '/api/v1/mail-servers',
    body: { name: 'By Hanako', incoming: { protocol: 'imap4', host: 'imap.example.com' }, outgoing: { host: 'smtp.example.com' } },
    headers: { cookie, 'x-csrf-token': signIn.json.csrfToken },
  });
  assert.equal(viaSession.status, 201, viaSession.raw);
  assert.equal((await find('mail_server.add', viaSession.json.id)).actor, 'admin:hanako');

  // no secret anywhere: not in the API's audit log, not in the table behind it
  const apiText = (await api(h, { url: '/api/v1/audit-log?limit=500' })).raw;
  const rows = JSON.stringify(await h.ctx.db.kysely.selectFrom('audit_log').selectAll().execute());
  for (const secret of [PASSWORD, NEW_PASSWORD, SMTP_PASSWORD, ADMIN_PASSWORD, h.token]) {
    assert.ok(!apiText.includes(secret), `secret in the audit log API: ${secret}`);
    assert.ok(!rows.includes(secret), `secret in the audit_log table: ${secret}`);
  }
});

test('the audit log pages newest first with a cursor', async (t) => {
  const h = await harness(t);
  if (!h) return;
  for (let i = 0; i < 5; i++) await addServer(h, { name: `Server ${i}` });
  const all = await auditEntries(h);
  const seen: Json[] = [];
  let cursor: string | null = null;
  do {
    const res = await api(h, { url: `/api/v1/audit-log?limit=2${cursor ? `&cursor=${cursor}` : ''}` });
    assert.equal(res.status, 200, res.raw);
    assert.ok(res.json.items.length <= 2);
    seen.push(...res.json.items);
    cursor = res.json.nextCursor;
  } while (cursor);
  assert.deepEqual(seen, all);
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].at >= all[i].at, 'not newest first');
  const bad = await api(h, { url: '/api/v1/audit-log?limit=0' });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.fields[0].path, 'limit');
});
