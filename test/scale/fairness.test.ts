// Fairness (issue 6): a slow server does not hold a worker — the run is stopped at the
// per-account run timeout (TIMEOUT in its status) while the other account is received — and
// an account whose server keeps failing backs off, visible as backoffUntil in its status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { receiveStatus } from '../../src/receive/receive-service.ts';
import { startReceiveScheduler } from '../../src/receive/scheduler.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { waitFor } from '../send/send-fixture.ts';
import { contextFor } from '../support/app-context.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { makeMail, receiveFixture } from '../support/receive-fixture.ts';

test('a slow server is stopped at the run timeout without holding up the others; repeated failures back off', async (t) => {
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return;
  const healthy = await receiveFixture(t, ctx, { protocol: 'pop3' });
  if (!healthy) return;
  for (let i = 0; i < 3; i++) await healthy.bed.deliver(healthy.user, makeMail(i));

  // the slow one: every chunk from Dovecot held 3 s, far past the 1 s run timeout
  const slowProxy = await startFaultProxy({ host: '127.0.0.1', port: healthy.bed.ports.pop3 }, { delayMs: 3_000 });
  t.after(() => slowProxy.close());
  const user = `slow${Math.random().toString(36).slice(2, 8)}`;
  await healthy.bed.addUser(user, 'pw-slow');
  await healthy.bed.deliver(user, makeMail(99));
  const server = await new MailServerService(ctx).add('test', {
    name: 'slow',
    incoming: { protocol: 'pop3', host: slowProxy.host, port: slowProxy.port, encryption: 'none' },
    outgoing: { host: '127.0.0.1', port: healthy.bed.ports.smtpSink, auth: { mechanism: null } },
  });
  const slow = await new MailAccountService(ctx).add('test', { displayName: user, serverId: server.id, address: `${user}@example.com`, username: user, password: 'pw-slow' });
  // the slow account is due first (oldest), and the worker has one slot
  await ctx.db.kysely.updateTable('mail_accounts').set({ next_run_at: '2000-01-01T00:00:00.000Z' }).where('id', '=', slow.id).execute();
  await ctx.db.kysely.updateTable('mail_accounts').set({ next_run_at: '2000-01-02T00:00:00.000Z' }).where('id', '=', healthy.accountId).execute();

  const scheduler = startReceiveScheduler(ctx, { holder: 'w', concurrency: 1, pollIntervalMs: 100, runTimeoutMs: 1_000 });
  t.after(() => scheduler.stop());
  await waitFor('the healthy account received', async () => ((await ctx.repos.messages.count(healthy.accountId)) === 3 ? true : undefined), 30_000);
  const first = await receiveStatus(ctx, slow.id);
  assert.equal(first.lastError?.code, 'TIMEOUT');
  assert.equal(first.consecutiveFailures, 1);
  assert.equal(first.backoffUntil, null, 'one failure waits one interval, no backoff yet');
  assert.equal(await healthy.bed.count(user), 1, 'the slow mailbox keeps its mail');

  // a second failure: the wait doubles, and the status says so
  await scheduler.idle();
  await ctx.db.kysely.updateTable('mail_accounts').set({ next_run_at: null }).where('id', '=', slow.id).execute();
  await waitFor('the second failure', async () => ((await receiveStatus(ctx, slow.id)).consecutiveFailures === 2 ? true : undefined), 30_000);
  await scheduler.idle();
  const second = await receiveStatus(ctx, slow.id);
  assert.equal(second.lastError?.code, 'TIMEOUT');
  assert.ok(second.backoffUntil, 'backoffUntil after two failures in a row');
  const waitMs = Date.parse(second.backoffUntil) - Date.parse(second.lastRunAt!);
  const interval = (await new MailAccountService(ctx).get(slow.id)).receiveIntervalMinutes * 60_000;
  assert.ok(waitMs >= 2 * interval - 1_000, `waits ${waitMs} ms, two intervals are ${2 * interval} ms`);
});
