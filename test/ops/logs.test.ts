// Structured logs: every line of a receive run carries its runId and accountId (the POP3
// client's protocol lines too), and every line about a send batch its batchId and
// accountId — pino writing JSON into a stream here, as it writes to stdout in production.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino, type Logger } from 'pino';
import { receiveNow } from '../../src/receive/receive-service.ts';
import { DeliveryService } from '../../src/send/delivery-service.ts';
import { startSendWorker } from '../../src/send/send-worker.ts';
import { contextFor } from '../support/app-context.ts';
import { testMailbed } from '../support/mailbed.ts';
import { makeMail, receiveFixture } from '../support/receive-fixture.ts';
import { addSendingAccount, waitFor } from '../send/send-fixture.ts';

type Line = Record<string, unknown>;

function capture(): { lines: Line[]; logger: Logger } {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, stream) };
}

test('a receive run: every line has the run id and the account id; two runs, two run ids', async (t) => {
  const ctx = await contextFor(t, 'sqlite');
  const f = ctx && (await receiveFixture(t, ctx, { protocol: 'pop3' }));
  if (!ctx || !f) return;
  await f.bed.deliver(f.user, makeMail(1));
  const { lines, logger } = capture();
  const first = await receiveNow(ctx, f.accountId, { logger });
  assert.equal(first.received, 1);
  await receiveNow(ctx, f.accountId, { logger });
  assert.ok(lines.length >= 4, `only ${lines.length} lines`);
  for (const l of lines) {
    assert.equal(l.accountId, f.accountId, JSON.stringify(l));
    assert.match(String(l.runId), /^[0-9a-f-]{36}$/, JSON.stringify(l));
  }
  const done = lines.filter((l) => l.msg === 'receive.run.done');
  assert.equal(done.length, 2);
  assert.notEqual(done[0]!.runId, done[1]!.runId);
  assert.ok(
    lines.some((l) => l.runId === done[0]!.runId && l.msg !== 'receive.run.done'),
    'the protocol lines of the run carry its id too',
  );
});

test('a send batch: its lines carry the batch id and the account id', async (t) => {
  const bed = await testMailbed();
  if (!bed) return t.skip('the mailbed is not installed here');
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return;
  const sender = await addSendingAccount(ctx, { port: bed.ports.smtpSink });
  const { lines, logger } = capture();
  const w = startSendWorker(ctx, { pollIntervalMs: 50, logger });
  t.after(() => w.stop());
  const d = await new DeliveryService(ctx).create('test', { accountId: sender.accountId, to: ['someone@example.net'], subject: 'ログ', text: '本文' });
  const sent = await waitFor('the send.sent line', async () => lines.find((l) => l.event === 'send.sent' && l.deliveryId === d.id));
  assert.equal(sent.accountId, sender.accountId);
  assert.match(String(sent.batchId), /^[0-9a-f-]{36}$/);
});
