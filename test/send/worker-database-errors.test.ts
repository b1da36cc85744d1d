// A transient database error on the send path (acquireSlot, a bulk status read) must not
// kill a sender loop and strand the recipients it took ('sending', leases renewed forever).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BulkDeliveryService } from '../../src/send/bulk-service.ts';
import { startSendWorker } from '../../src/send/send-worker.ts';
import { makeContext } from '../support/app-context.ts';
import { startSmtpServer } from '../protocols/smtp/smtp-test-servers.ts';
import { addSendingAccount, cleanups, waitFor } from './send-fixture.ts';

test('one failed acquireSlot (database hiccup) does not strand the rate-limited bulk mail', async (t) => {
  const later = cleanups(t);
  const ctx = (await makeContext('sqlite'))!;
  later(() => ctx.close());
  const smtp = await startSmtpServer();
  later(() => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port, perMinuteLimit: 100 });
  const repo = ctx.repos.deliveries;
  const real = repo.acquireSlot.bind(repo);
  let failures = 1;
  repo.acquireSlot = (async (...args: Parameters<typeof real>) => {
    if (failures-- > 0) throw new Error('SQLITE_BUSY: database is locked (simulated)');
    return real(...args);
  }) as typeof repo.acquireSlot;
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  later(() => process.off('unhandledRejection', onUnhandled));
  const bulk = new BulkDeliveryService(ctx);
  const csv = ['email', ...Array.from({ length: 3 }, (_, i) => `r${i}@example.net`)].join('\n');
  const { id } = await bulk.create('test', { accountId: f.accountId, subject: 's', text: 't', recipientsCsv: csv });
  const w = startSendWorker(ctx, { pollIntervalMs: 50, sessions: 1, leaseMs: 60_000 });
  later(() => w.stop());
  const done = await waitFor('all three sent', async () => {
    const b = await bulk.get(id);
    return b.sent === 3 ? b : undefined;
  }, 8_000).catch(async () => {
    const rows = await bulk.recipients(id, {});
    assert.fail(`not all sent: ${JSON.stringify(rows.items.map((r) => r.status))}; unhandled rejections: ${unhandled.map(String).join('; ')}`);
  });
  assert.equal(done.sent, 3);
  assert.deepEqual(unhandled, []);
});

test('one failed read of a bulk delivery’s status does not crash the worker or strand its mail', async (t) => {
  const later = cleanups(t);
  const ctx = (await makeContext('sqlite'))!;
  later(() => ctx.close());
  const smtp = await startSmtpServer();
  later(() => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port });
  const repo = ctx.repos.deliveries;
  const real = repo.bulkStatuses.bind(repo);
  let failures = 1;
  repo.bulkStatuses = (async (ids: string[]) => {
    if (failures-- > 0) throw new Error('connection terminated unexpectedly (simulated)');
    return real(ids);
  }) as typeof repo.bulkStatuses;
  const bulk = new BulkDeliveryService(ctx);
  const csv = ['email', ...Array.from({ length: 3 }, (_, i) => `s${i}@example.net`)].join('\n');
  const { id } = await bulk.create('test', { accountId: f.accountId, subject: 's', text: 't', recipientsCsv: csv });
  const w = startSendWorker(ctx, { pollIntervalMs: 50, sessions: 1, leaseMs: 60_000 });
  later(() => w.stop());
  const done = await waitFor('all three sent', async () => {
    const b = await bulk.get(id);
    return b.sent === 3 ? b : undefined;
  }, 8_000);
  assert.equal(done.sent, 3);
  assert.equal(smtp.mails.length, 3);
});

test('a failed write while pausing for a settings failure does not crash the worker; the mail is handed back and the delivery paused', async (t) => {
  const later = cleanups(t);
  const ctx = (await makeContext('sqlite'))!;
  later(() => ctx.close());
  // STARTTLS required, not offered: a settings failure (the bulk delivery pauses)
  const smtp = await startSmtpServer({ disabledCommands: ['STARTTLS'] });
  later(() => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port, encryption: 'starttls' });
  const repo = ctx.repos.deliveries;
  const real = repo.pauseBulksOfAccount.bind(repo);
  let failures = 1;
  repo.pauseBulksOfAccount = (async (...a: Parameters<typeof real>) => {
    if (failures-- > 0) throw new Error('connection terminated unexpectedly (simulated)');
    return real(...a);
  }) as typeof repo.pauseBulksOfAccount;
  const bulk = new BulkDeliveryService(ctx);
  const { id } = await bulk.create('test', { accountId: f.accountId, subject: 's', text: 't', recipientsCsv: 'email\nu1@example.net\nu2@example.net\n' });
  const w = startSendWorker(ctx, { pollIntervalMs: 50, sessions: 1, leaseMs: 60_000 });
  later(() => w.stop());
  const b = await waitFor('paused, nothing left sending', async () => {
    const x = await bulk.get(id);
    const sending = (await bulk.recipients(id, { status: 'sending' })).items.length;
    return x.status === 'paused' && sending === 0 ? x : undefined;
  }, 8_000);
  assert.deepEqual([b.sent, b.failed, b.pending], [0, 0, 2]);
});
