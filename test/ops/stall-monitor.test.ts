// Stalled accounts (README "Stalled accounts"): a real Dovecot account whose password is
// wrong fails five runs in a row → stalled in its status and in /metrics, and the
// administrators get ONE notification mail through the configured account, which the
// mailbed's submission sink receives; two monitors racing (two database connections, like
// two processes) still queue exactly one mail; once the password is right again and a run
// succeeds, the stall clears itself and one recovery mail goes out. A notification that
// cannot be queued is tried on every pass and its error logged once.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { renderMetrics } from '../../src/ops/metrics.ts';
import { setNotificationSettings } from '../../src/ops/notification-settings.ts';
import { startStallMonitor } from '../../src/ops/stall-monitor.ts';
import { STALL_FAILURES, stallOf } from '../../src/ops/stall-rules.ts';
import { receiveNow, receiveStatus } from '../../src/receive/receive-service.ts';
import { startSendWorker } from '../../src/send/send-worker.ts';
import type { AppContext } from '../../src/services/context.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { ENGINES } from '../support/app-context.ts';
import { testMailbed, type Mailbed } from '../support/mailbed.ts';
import { makeMail, receiveFixture } from '../support/receive-fixture.ts';
import { addSendingAccount, twoContexts, waitFor } from '../send/send-fixture.ts';

const silent = pino({ level: 'silent' });

async function deliveriesOf(ctx: AppContext, accountId: string): Promise<{ id: string; subject: string | null }[]> {
  return ctx.db.kysely.selectFrom('deliveries').select(['id', 'subject']).where('account_id', '=', accountId).orderBy('created_at').execute();
}

/** The submission sink's messages whose bytes contain `needle`. */
async function sunk(m: Mailbed, needle: string): Promise<{ eml: string; rcpt: string[] }[]> {
  const out: { eml: string; rcpt: string[] }[] = [];
  for (const name of (await readdir(m.submitDir).catch(() => [] as string[])).filter((n) => n.endsWith('.eml'))) {
    const eml = await readFile(join(m.submitDir, name), 'utf8');
    if (!eml.includes(needle)) continue;
    const meta = JSON.parse(await readFile(join(m.submitDir, name.replace(/\.eml$/, '.json')), 'utf8')) as { rcpt_tos: string[] };
    out.push({ eml, rcpt: meta.rcpt_tos });
  }
  return out;
}

describe('stall rules', () => {
  const base = { enabled: 1, receive_interval_minutes: 5, last_success_at: null, last_run_at: null, consecutive_failures: 0, created_at: '2026-12-01T00:00:00.000Z' };
  test('three intervals without success, or five failures in a row; never a disabled account', () => {
    const ok = { ...base, last_success_at: '2026-12-01T10:00:00.000Z', last_run_at: '2026-12-01T10:00:00.000Z' };
    assert.equal(stallOf(ok, new Date('2026-12-01T10:14:59.000Z')), null);
    assert.deepEqual(stallOf(ok, new Date('2026-12-01T10:15:00.000Z')), { since: '2026-12-01T10:15:00.000Z', reason: 'no_success' });
    assert.deepEqual(stallOf(base, new Date('2026-12-01T00:15:00.000Z')), { since: '2026-12-01T00:15:00.000Z', reason: 'no_success' }, 'never received: counted from creation');
    const failing = { ...ok, consecutive_failures: STALL_FAILURES, last_run_at: '2026-12-01T10:05:00.000Z' };
    assert.deepEqual(stallOf(failing, new Date('2026-12-01T10:06:00.000Z')), { since: '2026-12-01T10:05:00.000Z', reason: 'failures' });
    assert.equal(stallOf({ ...failing, consecutive_failures: STALL_FAILURES - 1 }, new Date('2026-12-01T10:06:00.000Z')), null);
    assert.equal(stallOf({ ...failing, enabled: 0 }, new Date('2026-12-02T00:00:00.000Z')), null);
  });
});

test('a Dovecot account with a wrong password stalls: one notification through the submission sink, then recovery', async (t: TestContext) => {
  const m = await testMailbed();
  if (!m) return t.skip('the mailbed is not installed here');
  const pair = await twoContexts(t, 'sqlite');
  if (!pair) return;
  const [a, b] = pair;
  const f = await receiveFixture(t, a, { protocol: 'pop3' });
  if (!f) return;
  const senderUser = `ops${f.user}`;
  await m.addUser(senderUser, 'Pa55-word');
  const sender = await addSendingAccount(a, { port: m.ports.submit, encryption: 'starttls', mechanism: 'PLAIN', username: senderUser, password: 'Pa55-word', address: `${senderUser}@example.jp` });
  await setNotificationSettings(a, 'test', { accountId: sender.accountId, recipients: ['ops@example.net', 'admin2@example.net'] });

  const accounts = new MailAccountService(a);
  await accounts.change('test', f.accountId, { password: 'wrong-password' });
  for (let i = 0; i < STALL_FAILURES; i++) {
    const s = await receiveNow(a, f.accountId);
    assert.equal(s.errors[0]?.code, 'AUTH_FAILED', JSON.stringify(s.errors));
  }
  assert.equal((await receiveStatus(a, f.accountId)).stalled, null, 'not stalled before a monitor looked');

  // two monitors on two connections, each ticking twice at the same time
  const m1 = startStallMonitor(a, { intervalMs: 3_600_000, logger: silent });
  const m2 = startStallMonitor(b, { intervalMs: 3_600_000, logger: silent });
  t.after(() => Promise.all([m1.stop(), m2.stop()]));
  await Promise.all([m1.tick(), m2.tick(), m1.tick(), m2.tick()]);
  const status = await receiveStatus(a, f.accountId);
  assert.equal(status.stalled?.reason, 'failures');
  assert.ok(status.stalled?.since);
  let sent = await deliveriesOf(a, sender.accountId);
  assert.equal(sent.length, 1, 'exactly one notification');
  assert.match(sent[0]!.subject ?? '', new RegExp(f.user));
  await Promise.all([m1.tick(), m2.tick()]);
  assert.equal((await deliveriesOf(a, sender.accountId)).length, 1, 'still one after more passes');
  const metrics = await renderMetrics(a);
  assert.match(metrics, new RegExp(`yubin_account_stalled\\{account="${f.user}@example.com",server="bed-${f.user}"\\} 1`));
  assert.match(metrics, /yubin_accounts_stalled 1/);

  // the worker sends it like any mail; the sink has it, addressed to both administrators
  const w = startSendWorker(a, { pollIntervalMs: 50, ca: m.ca, logger: silent });
  t.after(() => w.stop());
  const got = await waitFor('the notification in the submission sink', async () => {
    const found = await sunk(m, `${f.user}@example.com`);
    return found.length ? found : undefined;
  });
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]!.rcpt.sort(), ['admin2@example.net', 'ops@example.net']);

  // recovery: the right password, one good run, and the stall clears itself with one recovery mail
  await accounts.change('test', f.accountId, { password: f.password });
  await m.deliver(f.user, makeMail(1));
  const ok = await receiveNow(a, f.accountId);
  assert.deepEqual(ok.errors, []);
  await Promise.all([m1.tick(), m2.tick()]);
  assert.equal((await receiveStatus(a, f.accountId)).stalled, null);
  sent = await deliveriesOf(a, sender.accountId);
  assert.equal(sent.length, 2, 'one recovery mail');
  assert.match(await renderMetrics(a), /yubin_accounts_stalled 0/);
  await waitFor('the recovery mail in the submission sink', async () => ((await sunk(m, `${f.user}@example.com`)).length === 2 ? true : undefined));
});

for (const engine of ENGINES) {
  test(`${engine}: monitors racing on one database queue one notification per stall; no settings, no mail until they are made`, async (t) => {
    const pair = await twoContexts(t, engine);
    if (!pair) return;
    const [a, b] = pair;
    const target = await addSendingAccount(a, { port: 1 });
    const sender = await addSendingAccount(a, { port: 1 });
    await a.db.kysely.updateTable('mail_accounts').set({ consecutive_failures: STALL_FAILURES, last_run_at: new Date().toISOString() }).where('id', '=', target.accountId).execute();
    const monitors = Array.from({ length: 4 }, (_, i) => startStallMonitor(i % 2 ? b : a, { intervalMs: 3_600_000, logger: silent }));
    t.after(() => Promise.all(monitors.map((x) => x.stop())));

    await Promise.all(monitors.map((x) => x.tick()));
    assert.equal((await receiveStatus(b, target.accountId)).stalled?.reason, 'failures');
    assert.equal((await deliveriesOf(a, sender.accountId)).length, 0, 'nowhere to send yet');

    await setNotificationSettings(b, 'test', { accountId: sender.accountId, recipients: ['ops@example.net'] });
    await Promise.all([...monitors, ...monitors].map((x) => x.tick()));
    assert.equal((await deliveriesOf(a, sender.accountId)).length, 1);

    // recovery, raced the same way: one recovery mail
    await a.db.kysely.updateTable('mail_accounts').set({ consecutive_failures: 0, last_success_at: new Date().toISOString() }).where('id', '=', target.accountId).execute();
    await Promise.all([...monitors, ...monitors].map((x) => x.tick()));
    assert.equal((await receiveStatus(a, target.accountId)).stalled, null);
    assert.equal((await deliveriesOf(a, sender.accountId)).length, 2);
  });
}

test('a notification that cannot be queued is tried on every pass, its error logged once until it changes', async (t) => {
  const pair = await twoContexts(t, 'sqlite');
  if (!pair) return;
  const [ctx] = pair;
  const target = await addSendingAccount(ctx, { port: 1 });
  const sender = await addSendingAccount(ctx, { port: 1, maxMessageBytes: 1000 });
  await setNotificationSettings(ctx, 'test', { accountId: sender.accountId, recipients: ['ops@example.net'] });
  await ctx.db.kysely.updateTable('mail_accounts').set({ consecutive_failures: STALL_FAILURES, last_run_at: new Date().toISOString() }).where('id', '=', target.accountId).execute();
  // the notification account's server takes mails of at most 1,000 bytes: the notification is refused
  const lines: { level: number; event?: string; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const monitor = startStallMonitor(ctx, { intervalMs: 3_600_000, logger });
  t.after(() => monitor.stop());
  for (let i = 0; i < 3; i++) await monitor.tick();
  const failed = lines.filter((l) => l.event === 'stall.notify_failed');
  assert.equal(failed.length, 3, 'tried on every pass');
  assert.deepEqual(
    failed.map((l) => l.level),
    [50, 20, 20],
    'an error once, then debug',
  );
  assert.equal((await deliveriesOf(ctx, sender.accountId)).length, 0);
  // the limit raised: the next pass queues it
  await ctx.db.kysely.updateTable('mail_servers').set({ outgoing_max_bytes: null }).where('id', '=', sender.serverId).execute();
  await monitor.tick();
  assert.equal((await deliveriesOf(ctx, sender.accountId)).length, 1);
});
