// How a send worker claims: one batch for all its sessions (each session takes a share of
// it), the next batch while this one is sent, and what is claimed but not sent goes back
// when the worker stops.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BulkDeliveryService } from '../../src/send/bulk-service.ts';
import { ACCOUNT_CACHE_MS, BULK_STATUS_CACHE_MS, startSendWorker } from '../../src/send/send-worker.ts';
import { contextFor } from '../support/app-context.ts';
import { startSmtpServer } from '../protocols/smtp/smtp-test-servers.ts';
import { addSendingAccount, cleanups, waitFor } from './send-fixture.ts';

const csvOf = (n: number): string => ['email,name', ...Array.from({ length: n }, (_, i) => `r${i}@example.net,N${i}`)].join('\n');

test('a bulk delivery smaller than one claim is spread over every session of the worker', async (t) => {
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return;
  const later = cleanups(t);
  // each MAIL FROM takes a while, so that one session alone would be seen working alone
  const smtp = await startSmtpServer({ onMailFrom: (_address, _session, cb) => void setTimeout(() => cb(), 15) });
  later(() => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port });
  const bulk = new BulkDeliveryService(ctx);
  const { id } = await bulk.create('test', { accountId: f.accountId, subject: 'Hi {{name}}', text: 'Dear {{name}}\n', recipientsCsv: csvOf(120) });
  const w = startSendWorker(ctx, { sessions: 4, pollIntervalMs: 50 });
  later(() => w.stop());
  await waitFor('every mail sent', async () => ((await bulk.get(id)).sent === 120 ? true : undefined));
  // one claim of 256 took all 120; sessions took 32 each
  assert.equal(smtp.connections, 4, `${smtp.connections} connections sent the bulk delivery`);
  assert.equal(smtp.mails.length, 120);
});

test('sessions that start together share one read of the account, the bulk delivery and its status', async (t) => {
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return;
  const later = cleanups(t);
  const smtp = await startSmtpServer({});
  later(() => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port });
  const bulk = new BulkDeliveryService(ctx);
  const { id } = await bulk.create('test', { accountId: f.accountId, subject: 'Hi {{name}}', text: 'Dear {{name}}\n', recipientsCsv: csvOf(256) });
  // count the worker's reads (each session asks for all three before its first mail)
  const reads = { account: 0, bulk: 0, status: 0 };
  const { accounts, deliveries } = ctx.repos;
  const getRow = accounts.getRow.bind(accounts);
  const getBulk = deliveries.getBulk.bind(deliveries);
  const bulkStatuses = deliveries.bulkStatuses.bind(deliveries);
  accounts.getRow = (accountId) => ((reads.account += accountId === f.accountId ? 1 : 0), getRow(accountId));
  deliveries.getBulk = (bulkId) => ((reads.bulk += bulkId === id ? 1 : 0), getBulk(bulkId));
  deliveries.bulkStatuses = (ids) => ((reads.status += ids.includes(id) ? 1 : 0), bulkStatuses(ids));
  const started = Date.now();
  const w = startSendWorker(ctx, { sessions: 8, pollIntervalMs: 50 });
  later(() => w.stop());
  // (the server's count: the test's own bulk.get would read the bulk delivery too)
  await waitFor('every mail at the server', async () => (smtp.mails.length === 256 ? true : undefined));
  const counted = { ...reads };
  const elapsed = Date.now() - started;
  assert.equal(smtp.connections, 8, 'every session sent');
  // one read of the account's context (which reads its row three times: the row, the
  // account, its login), not one per session (8 × 3), and again only after ACCOUNT_CACHE_MS;
  // the status once, then by the refresh timer at most once per BULK_STATUS_CACHE_MS. The
  // bounds follow the time the sending took (a loaded CI host once took long enough for a
  // third refresh), so a read per session shows whenever the sending takes under ~3 s.
  t.diagnostic(`in ${elapsed} ms: account row read ${counted.account} times, status ${counted.status}`);
  const accountReads = 3 * (1 + Math.floor(elapsed / ACCOUNT_CACHE_MS));
  const statusReads = 1 + Math.ceil(elapsed / BULK_STATUS_CACHE_MS);
  assert.ok(counted.account <= accountReads, `the account's row was read ${counted.account} times in ${elapsed} ms`);
  assert.equal(counted.bulk, 1, `the bulk delivery was read ${counted.bulk} times`);
  assert.ok(counted.status <= statusReads, `its status was read ${counted.status} times in ${elapsed} ms`);
  await waitFor('every result committed', async () => ((await bulk.get(id)).sent === 256 ? true : undefined));
});

test('stopping hands back at once what the worker claimed and did not send; the next worker sends each of those exactly once', async (t) => {
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return;
  const later = cleanups(t);
  const smtp = await startSmtpServer({ onMailFrom: (_address, _session, cb) => void setTimeout(() => cb(), 10) });
  later(() => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port });
  const bulk = new BulkDeliveryService(ctx);
  const { id } = await bulk.create('test', { accountId: f.accountId, subject: 'Hi {{name}}', text: 'Dear {{name}}\n', recipientsCsv: csvOf(300) });
  const first = startSendWorker(ctx, { sessions: 1, pollIntervalMs: 50 });
  await waitFor('a few mails sent', async () => (smtp.mails.length >= 5 ? true : undefined));
  await first.stop();
  const afterStop = (await bulk.recipients(id, { limit: 1000 })).items;
  assert.equal(afterStop.filter((r) => r.status === 'sending').length, 0, 'recipients left claimed after stop');
  const sent = afterStop.filter((r) => r.status === 'sent').length;
  assert.ok(sent < 300, 'the first worker was not stopped early enough to test anything');
  assert.equal(afterStop.filter((r) => r.status === 'queued').length, 300 - sent);

  const second = startSendWorker(ctx, { sessions: 2, pollIntervalMs: 50 });
  later(() => second.stop());
  await waitFor('the rest sent', async () => ((await bulk.get(id)).sent === 300 ? true : undefined));
  const addresses = smtp.mails.map((m) => m.to.join(','));
  assert.equal(addresses.length, 300, 'a mail was sent twice or not at all');
  assert.equal(new Set(addresses).size, 300);
});
