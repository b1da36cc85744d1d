// A transient database error while reading a queued mail's stored bytes must not fail
// the mail for good (it is not the mail's fault, and the recipient never gets it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeliveryService } from '../../src/send/delivery-service.ts';
import { startSendWorker } from '../../src/send/send-worker.ts';
import { makeContext } from '../support/app-context.ts';
import { startSmtpServer } from '../protocols/smtp/smtp-test-servers.ts';
import { addSendingAccount, cleanups, waitFor } from './send-fixture.ts';

test('a database hiccup reading the stored mail does not fail the single send permanently', async (t) => {
  const later = cleanups(t);
  const ctx = (await makeContext('sqlite'))!;
  later(() => ctx.close());
  const smtp = await startSmtpServer();
  later(() => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port });
  const repo = ctx.repos.deliveries;
  const real = repo.raw.bind(repo);
  let failures = 1;
  repo.raw = (async (id: string) => {
    if (failures-- > 0) throw new Error('connection terminated unexpectedly (simulated)');
    return real(id);
  }) as typeof repo.raw;
  const service = new DeliveryService(ctx);
  const created = await service.create('test', { accountId: f.accountId, to: ['a@example.net'], subject: 's', text: 't' });
  const w = startSendWorker(ctx, { pollIntervalMs: 50, sessions: 1 });
  later(() => w.stop());
  // the read failed once: the recipient is back in the queue (or already sent), never failed
  const d = await waitFor('the attempt', async () => {
    if (failures > 0) return undefined;
    const x = await service.get(created.id);
    return x.recipients.every((r) => r.status !== 'sending') ? x : undefined;
  });
  const r = d.recipients[0]!;
  assert.notEqual(r.status, 'failed', `failed for good: ${JSON.stringify(r)}`);
  assert.deepEqual([r.status, r.attempts], ['queued', 0], 'handed back unattempted, for later');
  assert.equal(smtp.mails.length, 0);
});
