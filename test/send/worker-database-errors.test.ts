// A transient database error on the send path must neither kill a sender loop (an unhandled
// rejection ends serve/worker) nor strand the recipients it took ('sending', leases renewed
// for ever), nor fail a mail for good: a slot, a bulk status, a pause, the stored mail.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { BulkDeliveryService } from '../../src/send/bulk-service.ts';
import { DeliveryService } from '../../src/send/delivery-service.ts';
import { startSendWorker } from '../../src/send/send-worker.ts';
import { makeContext } from '../support/app-context.ts';
import { startSmtpServer } from '../protocols/smtp/smtp-test-servers.ts';
import { addSendingAccount, cleanups, waitFor } from './send-fixture.ts';

type Method = 'acquireSlot' | 'bulkStatuses' | 'pauseBulksOfAccount' | 'raw';

/** A context, an SMTP server and a sending account on it, with `method` failing its first call. */
async function setup(t: TestContext, method: Method, account: Omit<Parameters<typeof addSendingAccount>[1], 'port'> = {}, smtpOptions: Parameters<typeof startSmtpServer>[0] = {}) {
  const later = cleanups(t);
  const ctx = (await makeContext('sqlite'))!;
  later(() => ctx.close());
  const smtp = await startSmtpServer(smtpOptions);
  later(() => smtp.close());
  const f = await addSendingAccount(ctx, { ...account, port: smtp.port });
  const repo = ctx.repos.deliveries as unknown as Record<Method, (...a: unknown[]) => Promise<unknown>>;
  const real = repo[method].bind(ctx.repos.deliveries);
  const state = { failures: 1 };
  repo[method] = async (...a: unknown[]) => {
    if (state.failures-- > 0) throw new Error('connection terminated unexpectedly (simulated)');
    return real(...a);
  };
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  later(() => process.off('unhandledRejection', onUnhandled));
  const work = () => {
    const w = startSendWorker(ctx, { pollIntervalMs: 50, sessions: 1, leaseMs: 60_000 });
    later(() => w.stop());
  };
  return { ctx, smtp, f, state, unhandled, work, bulk: new BulkDeliveryService(ctx) };
}

const csvOf = (n: number, prefix: string) => ['email', ...Array.from({ length: n }, (_, i) => `${prefix}${i}@example.net`)].join('\n');

test('one failed acquireSlot does not strand the rate-limited bulk mail', async (t) => {
  const s = await setup(t, 'acquireSlot', { perMinuteLimit: 100 });
  const { id } = await s.bulk.create('test', { accountId: s.f.accountId, subject: 's', text: 't', recipientsCsv: csvOf(3, 'r') });
  s.work();
  const done = await waitFor('all three sent', async () => {
    const b = await s.bulk.get(id);
    return b.sent === 3 ? b : undefined;
  }, 8_000).catch(async () => {
    const rows = await s.bulk.recipients(id, {});
    assert.fail(`not all sent: ${JSON.stringify(rows.items.map((r) => r.status))}; unhandled rejections: ${s.unhandled.map(String).join('; ')}`);
  });
  assert.equal(done.sent, 3);
  assert.deepEqual(s.unhandled, []);
});

test('one failed read of a bulk delivery’s status does not crash the worker or strand its mail', async (t) => {
  const s = await setup(t, 'bulkStatuses');
  const { id } = await s.bulk.create('test', { accountId: s.f.accountId, subject: 's', text: 't', recipientsCsv: csvOf(3, 's') });
  s.work();
  const done = await waitFor('all three sent', async () => {
    const b = await s.bulk.get(id);
    return b.sent === 3 ? b : undefined;
  }, 8_000);
  assert.equal(done.sent, 3);
  assert.equal(s.smtp.mails.length, 3);
  assert.deepEqual(s.unhandled, []);
});

test('a failed write while pausing for a settings failure does not crash the worker; the mail is handed back and the delivery paused', async (t) => {
  // STARTTLS required, not offered: a settings failure (the bulk delivery pauses)
  const s = await setup(t, 'pauseBulksOfAccount', { encryption: 'starttls' }, { disabledCommands: ['STARTTLS'] });
  const { id } = await s.bulk.create('test', { accountId: s.f.accountId, subject: 's', text: 't', recipientsCsv: csvOf(2, 'u') });
  s.work();
  const b = await waitFor('paused, nothing left sending', async () => {
    const x = await s.bulk.get(id);
    const sending = (await s.bulk.recipients(id, { status: 'sending' })).items.length;
    return x.status === 'paused' && sending === 0 ? x : undefined;
  }, 8_000);
  assert.deepEqual([b.sent, b.failed, b.pending], [0, 0, 2]);
  assert.deepEqual(s.unhandled, []);
});

test('a failed read of the stored mail does not fail the single send for good: it is handed back unattempted', async (t) => {
  const s = await setup(t, 'raw');
  const service = new DeliveryService(s.ctx);
  const created = await service.create('test', { accountId: s.f.accountId, to: ['a@example.net'], subject: 's', text: 't' });
  s.work();
  const d = await waitFor('the attempt', async () => {
    if (s.state.failures > 0) return undefined;
    const x = await service.get(created.id);
    return x.recipients.every((r) => r.status !== 'sending') ? x : undefined;
  });
  const r = d.recipients[0]!;
  assert.notEqual(r.status, 'failed', `failed for good: ${JSON.stringify(r)}`);
  assert.deepEqual([r.status, r.attempts], ['queued', 0], 'handed back for later');
  assert.equal(s.smtp.mails.length, 0);
});
