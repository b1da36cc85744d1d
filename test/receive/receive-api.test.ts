// Receiving through the HTTP API and the CLI, the account lease, and the scheduler.
import net from 'node:net';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { buildApp } from '../../src/http/app.ts';
import { defaultOpener, type ReceiveOptions } from '../../src/receive/receive-run.ts';
import { receiveNow, receiveLeaseName } from '../../src/receive/receive-service.ts';
import { startReceiveScheduler } from '../../src/receive/scheduler.ts';
import { AuthService } from '../../src/services/auth.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { contextFor, ENGINES } from '../support/app-context.ts';
import { makeMail, receiveFixture } from '../support/receive-fixture.ts';

for (const engine of ENGINES) {
  test(`${engine}: one run per account at a time (lease)`, async (t) => {
    const ctx = await contextFor(t, engine);
    if (!ctx) return;
    const leases = ctx.repos.leases;
    assert.equal(await leases.acquire('x', 'a', 60_000), true);
    assert.equal(await leases.acquire('x', 'b', 60_000), false);
    assert.equal(await leases.acquire('x', 'a', 60_000), true, 'the holder may re-take its own lease');
    assert.equal(await leases.renew('x', 'b', 60_000), false);
    // an expired lease (crashed holder) is taken over
    assert.equal(await leases.acquire('y', 'a', 1, new Date(Date.now() - 10_000)), true);
    assert.equal(await leases.acquire('y', 'b', 60_000), true);
    assert.equal((await leases.holderOf('y'))?.holder, 'b');
    await leases.release('y', 'b');
    assert.equal(await leases.holderOf('y'), undefined);
  });
}

test('a lease that cannot be renewed (database unreachable) and may run out stops the run before any deletion', async (t) => {
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return;
  const f = await receiveFixture(t, ctx, { protocol: 'pop3' });
  if (!f) return;
  await f.bed.deliver(f.user, makeMail(1, 'a'));
  await f.bed.deliver(f.user, makeMail(2, 'b'));
  // the fault: every renewal fails, as while PostgreSQL is down (another worker may take the
  // account once the lease runs out, so this run must not delete side by side with it)
  const leases = ctx.repos.leases;
  const renew = leases.renew.bind(leases);
  leases.renew = async () => {
    throw new Error('database unreachable');
  };
  t.after(() => (leases.renew = renew));
  // listing takes longer than the lease: the renewals fail meanwhile
  const openMailbox: ReceiveOptions['openMailbox'] = async (incoming, creds, o) => {
    const session = await defaultOpener(incoming, creds, o);
    return {
      ...session,
      protocol: session.protocol,
      list: async () => {
        await new Promise((r) => setTimeout(r, 600));
        return session.list();
      },
    };
  };
  const lines: { msg: string; runId?: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const summary = await receiveNow(ctx, f.accountId, { openMailbox, leaseTtlMs: 200, logger });
  assert.equal(summary.deletedFromServer, 0);
  // the failed renewals are logged with the run's id, like the run's own lines
  const renewals = lines.filter((l) => l.msg === 'receive.lease.renew_failed');
  assert.ok(renewals.length > 0);
  const runIds = new Set(lines.map((l) => l.runId));
  assert.equal(runIds.size, 1, 'one run id on every line');
  assert.match(String([...runIds][0]), /^[0-9a-f-]{36}$/);
  assert.equal(summary.hasMore, true, 'the stopped run hands the account back for the next run');
  assert.equal(await f.bed.count(f.user), 2, 'mail deleted from the server by a run that may have lost its lease');
});

test('POST /receive, GET /status, /messages, /messages/:id/raw, /deletions', async (t) => {
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return;
  const f = await receiveFixture(t, ctx, { protocol: 'pop3', maxMessageBytes: 3000 });
  if (!f) return;
  const app = await buildApp(ctx);
  t.after(() => app.close());
  const h = { authorization: `Bearer ${await new AuthService(ctx).createToken('t')}` };
  const subject = '=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?='; // テスト
  const raw = `From: =?UTF-8?B?5bGx55Sw?= <yamada@example.jp>\r\nTo: a@example.com\r\nSubject: ${subject}\r\nMessage-ID: <x1@example.jp>\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\n\x1b$B$3$s$K$A$O\x1b(B\r\n`;
  await f.bed.deliver(f.user, raw);
  await f.bed.deliver(f.user, makeMail(2, 'y'.repeat(4000)));

  // the CA of the test bed is not trusted by default: the run reports the TLS error…
  // (plain POP3 here, so it works without a CA)
  const r = await app.inject({ method: 'POST', url: `/api/v1/mail-accounts/${f.accountId}/receive`, headers: h });
  assert.equal(r.statusCode, 200, r.body);
  const summary = r.json();
  assert.equal(summary.received, 1);
  assert.equal(summary.skippedOversize, 1);
  assert.equal(summary.deletedFromServer, 1);
  assert.equal(summary.remainingOnServer, 1);

  const status = (await app.inject({ method: 'GET', url: `/api/v1/mail-accounts/${f.accountId}/status`, headers: h })).json();
  assert.equal(status.messagesStored, 1);
  assert.equal(status.notices.length, 1);
  assert.equal(status.notices[0].subject, 'test 2');
  assert.equal(status.lastError, null);
  assert.equal(status.onServer, 1);

  const list = (await app.inject({ method: 'GET', url: `/api/v1/messages?accountId=${f.accountId}`, headers: h })).json();
  assert.equal(list.items.length, 1);
  assert.equal(list.items[0].subject, 'テスト');
  assert.equal(list.items[0].from.name, '山田');
  const found = (await app.inject({ method: 'GET', url: `/api/v1/messages?q=${encodeURIComponent('テス')}`, headers: h })).json();
  assert.equal(found.items.length, 1);
  const none = (await app.inject({ method: 'GET', url: `/api/v1/messages?q=nothing-like-this`, headers: h })).json();
  assert.equal(none.items.length, 0);

  const id = list.items[0].id;
  const one = (await app.inject({ method: 'GET', url: `/api/v1/messages/${id}`, headers: h })).json();
  assert.equal(one.decoded.text.trim(), 'こんにちは');
  const rawRes = await app.inject({ method: 'GET', url: `/api/v1/messages/${id}/raw`, headers: h });
  assert.equal(rawRes.headers['content-type'], 'message/rfc822');
  assert.deepEqual(rawRes.rawPayload, Buffer.from(raw, 'latin1'));

  const del = (await app.inject({ method: 'GET', url: `/api/v1/mail-accounts/${f.accountId}/deletions`, headers: h })).json();
  assert.equal(del.items.length, 1);
  assert.equal(del.items[0].messageId, id);
  assert.equal(del.items[0].policy, 'delete');
  assert.equal(del.items[0].status, 'done');

  // raising the limit receives the mail and the notice goes away
  await app.inject({ method: 'PATCH', url: `/api/v1/mail-servers/${f.serverId}`, headers: h, payload: { incoming: { maxMessageBytes: null } } });
  const second = (await app.inject({ method: 'POST', url: `/api/v1/mail-accounts/${f.accountId}/receive`, headers: h })).json();
  assert.equal(second.received, 1);
  const status2 = (await app.inject({ method: 'GET', url: `/api/v1/mail-accounts/${f.accountId}/status`, headers: h })).json();
  assert.equal(status2.notices.length, 0);
  assert.equal(await f.bed.count(f.user), 0);

  // a wrong password is reported in the summary and the status, not as a 500
  await app.inject({ method: 'PATCH', url: `/api/v1/mail-accounts/${f.accountId}`, headers: h, payload: { password: 'wrong-password' } });
  const bad = (await app.inject({ method: 'POST', url: `/api/v1/mail-accounts/${f.accountId}/receive`, headers: h })).json();
  assert.equal(bad.errors[0].code, 'AUTH_FAILED');
  const status3 = (await app.inject({ method: 'GET', url: `/api/v1/mail-accounts/${f.accountId}/status`, headers: h })).json();
  assert.equal(status3.lastError.code, 'AUTH_FAILED');
  assert.equal(status3.consecutiveFailures, 1);
  assert.ok(!JSON.stringify(status3).includes(f.password));

  // a second concurrent run is refused while the lease is held
  await ctx.repos.leases.acquire(receiveLeaseName(f.accountId), 'someone-else', 60_000);
  const busy = await app.inject({ method: 'POST', url: `/api/v1/mail-accounts/${f.accountId}/receive`, headers: h });
  assert.equal(busy.statusCode, 409);
  assert.equal(busy.json().error.code, 'RECEIVE_BUSY');
});

test('a failed run is told in the reader’s language, with the error’s own text as detail (POST /receive, GET /status)', async (t) => {
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return;
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const server = await new MailServerService(ctx).add('t', { name: 's', incoming: { protocol: 'pop3', host: '127.0.0.1', port, encryption: 'none' }, outgoing: { host: 'smtp.example.com' } });
  const account = await new MailAccountService(ctx).add('t', { displayName: 'a', serverId: server.id, address: 'a@example.com', username: 'a', password: 'pw' });
  const app = await buildApp(ctx);
  t.after(() => app.close());
  const h = { authorization: `Bearer ${await new AuthService(ctx).createToken('t')}` };
  const run = await app.inject({ method: 'POST', url: `/api/v1/mail-accounts/${account.id}/receive`, headers: { ...h, 'accept-language': 'ja' } });
  assert.equal(run.statusCode, 200, run.body);
  const [error] = run.json().errors;
  assert.equal(error.code, 'CONNECT_FAILED');
  assert.equal(error.message, '受信できませんでした: 接続を拒否されました。ポートが閉じています');
  assert.match(error.detail, /ECONNREFUSED/, 'the error’s own text is kept');
  for (const [lang, expected] of [
    ['ja', '受信できませんでした: 接続を拒否されました。ポートが閉じています'],
    ['en', 'Receiving failed: connection refused: the port is closed'],
  ] as const) {
    const status = (await app.inject({ method: 'GET', url: `/api/v1/mail-accounts/${account.id}/status`, headers: { ...h, 'accept-language': lang } })).json();
    assert.equal(status.lastError.code, 'CONNECT_FAILED');
    assert.equal(status.lastError.message, expected);
    assert.equal(status.lastSummary.errors[0].message, expected);
  }
});

test('the scheduler receives due accounts once, never two runs of one account at once', async (t) => {
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return;
  const f = await receiveFixture(t, ctx, { protocol: 'imap4' });
  if (!f) return;
  for (let i = 0; i < 5; i++) await f.bed.deliver(f.user, makeMail(i));
  // two schedulers (as two processes would) racing for the same account
  const a = startReceiveScheduler(ctx, { holder: 'A', pollIntervalMs: 3_600_000 });
  const b = startReceiveScheduler(ctx, { holder: 'B', pollIntervalMs: 3_600_000 });
  await Promise.all([a.tick(), b.tick()]);
  await Promise.all([a.idle(), b.idle()]);
  await Promise.all([a.stop(), b.stop()]);
  assert.equal(await ctx.repos.messages.count(f.accountId), 5);
  assert.equal(await f.bed.count(f.user), 0);
  const row = await ctx.repos.accounts.getRow(f.accountId);
  assert.ok(row?.next_run_at && Date.parse(row.next_run_at) > Date.now() + 4 * 60_000, 'next run one interval later');
  // not due yet: a new tick does nothing
  await f.bed.deliver(f.user, makeMail(9));
  const c = startReceiveScheduler(ctx, { holder: 'C', pollIntervalMs: 3_600_000 });
  await c.tick();
  await c.stop();
  assert.equal(await ctx.repos.messages.count(f.accountId), 5);
  // receiveNow straight away works and takes the one new mail
  const s = await receiveNow(ctx, f.accountId);
  assert.equal(s.received, 1);
});

test('a scheduled run that fails before it can record its end (our database went away) is due again in 30 s, not a whole interval later', async (t) => {
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return;
  const f = await receiveFixture(t, ctx, { protocol: 'pop3' });
  if (!f) return;
  await f.bed.deliver(f.user, makeMail(1));
  // the run's first write (its lease) fails as a database connection that went away would
  const leases = ctx.repos.leases;
  const acquire = leases.acquire.bind(leases);
  let failed = false;
  leases.acquire = async (...args) => {
    if (!failed) {
      failed = true;
      throw new Error('Connection terminated unexpectedly');
    }
    return acquire(...args);
  };
  const s = startReceiveScheduler(ctx, { holder: 'A', pollIntervalMs: 3_600_000 });
  const before = Date.now();
  await s.tick();
  await s.idle();
  await s.stop();
  assert.ok(failed);
  assert.equal(await ctx.repos.messages.count(f.accountId), 0);
  const row = await ctx.repos.accounts.getRow(f.accountId);
  const next = Date.parse(row!.next_run_at!);
  assert.ok(next >= before + 25_000 && next <= Date.now() + 30_000, `next run at +${next - before} ms`);
  // a run that ends and records it (here: a success) keeps the account's interval
  await ctx.db.kysely.updateTable('mail_accounts').set({ next_run_at: null }).where('id', '=', f.accountId).execute();
  const s2 = startReceiveScheduler(ctx, { holder: 'B', pollIntervalMs: 3_600_000 });
  await s2.tick();
  await s2.idle();
  await s2.stop();
  assert.equal(await ctx.repos.messages.count(f.accountId), 1);
  const after = await ctx.repos.accounts.getRow(f.accountId);
  assert.ok(Date.parse(after!.next_run_at!) > Date.now() + 4 * 60_000, 'next run one interval later');
});
