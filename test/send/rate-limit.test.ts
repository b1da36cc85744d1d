// The per-minute limit (1分間の送信件数の制限) with a short window: two workers on two
// connections to one database (SQLite file, PostgreSQL) send one bulk delivery; the SMTP
// server must never see more than the limit of mails start (MAIL FROM) in any window, and
// the slots in the database say the same. Single sends are not held back by it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BulkDeliveryService } from '../../src/send/bulk-service.ts';
import { DeliveryService } from '../../src/send/delivery-service.ts';
import { startSendWorker } from '../../src/send/send-worker.ts';
import { ENGINES } from '../support/app-context.ts';
import { startSmtpServer, type RunningSmtpServer } from '../protocols/smtp/smtp-test-servers.ts';
import { addSendingAccount, busiestWindow, cleanups, twoContexts, waitFor } from './send-fixture.ts';

const WINDOW_MS = 1_500;
const MARGIN_MS = 150;
const LIMIT = 4;
const MAILS = 14;

async function timedServer(push: (fn: () => unknown) => void): Promise<{ smtp: RunningSmtpServer; starts: number[]; order: string[] }> {
  const starts: number[] = [];
  const order: string[] = [];
  const smtp = await startSmtpServer({
    onMailFrom(_address, _session, cb) {
      starts.push(Date.now());
      cb();
    },
    onRcptTo(address, _session, cb) {
      order.push(address.address);
      cb();
    },
  });
  push(() => smtp.close());
  return { smtp, starts, order };
}

for (const engine of ENGINES) {
  describe(`per-minute limit on ${engine}`, () => {
    it('two workers on one bulk delivery never start more than the limit in any window', async (t) => {
      // registered first, so it runs first: workers stop before their databases close
      const push = cleanups(t);
      const pair = await twoContexts(t, engine);
      if (!pair) return;
      const [a, b] = pair;
      const { smtp, starts } = await timedServer(push);
      const f = await addSendingAccount(a, { port: smtp.port, perMinuteLimit: LIMIT });
      const csv = ['email,name', ...Array.from({ length: MAILS }, (_, i) => `r${i}@example.net,R${i}`)].join('\n');
      const { id } = await new BulkDeliveryService(a).create('test', { accountId: f.accountId, subject: '{{name}}', text: 'x', recipientsCsv: csv });
      const opts = { pollIntervalMs: 50, rateWindowMs: WINDOW_MS, rateMarginMs: MARGIN_MS };
      // worker-b starts once worker-a has taken a slot: started together, one of them could
      // claim every recipient before the other's first poll, and the test would not show two
      // workers sharing the limit. It has three sessions to worker-a's one: the workers race
      // for each freed slot, and a worker that started second on a loaded host once lost
      // every race (CI, SQLite: worker-a took all 14 slots)
      const workers = [startSendWorker(a, { ...opts, sessions: 1, holder: 'worker-a' })];
      push(() => Promise.all(workers.map((w) => w.stop())));
      await waitFor('worker-a’s first slot', async () => ((await a.repos.deliveries.slotTimes(f.serverId)).some((s) => s.holder === 'worker-a') ? true : undefined), 20_000);
      workers.push(startSendWorker(b, { ...opts, sessions: 3, holder: 'worker-b' }));

      const done = await waitFor('the bulk delivery', async () => {
        const s = await new BulkDeliveryService(b).get(id);
        return s.status === 'done' ? s : undefined;
      }, 60_000);
      assert.deepEqual([done.sent, done.failed], [MAILS, 0]);
      assert.equal(smtp.mails.length, MAILS);
      assert.equal(new Set(smtp.mails.map((m) => m.to[0])).size, MAILS, 'a recipient got the mail twice');
      // what the SMTP server saw
      assert.ok(busiestWindow(starts, WINDOW_MS) <= LIMIT, `more than ${LIMIT} MAIL FROMs in a ${WINDOW_MS} ms window: ${starts.map((s) => s - starts[0]!).join(', ')}`);
      // what the database recorded: one slot per mail, taken by both workers
      const slots = await a.repos.deliveries.slotTimes(f.serverId);
      assert.equal(slots.length, MAILS);
      assert.ok(busiestWindow(slots.map((s) => Date.parse(s.startedAt)), WINDOW_MS + MARGIN_MS) <= LIMIT);
      assert.deepEqual([...new Set(slots.map((s) => s.holder))].sort(), ['worker-a', 'worker-b'], slots.map((s) => `${s.holder} ${s.startedAt}`).join(', '));
    });
  });
}

it('a single send is not held back while a bulk delivery of the same server waits for its window', async (t) => {
  const push = cleanups(t);
  const pair = await twoContexts(t, 'sqlite');
  if (!pair) return;
  const [ctx] = pair;
  const { smtp, order } = await timedServer(push);
  const f = await addSendingAccount(ctx, { port: smtp.port, perMinuteLimit: 1 });
  const bulk = new BulkDeliveryService(ctx);
  const { id } = await bulk.create('test', { accountId: f.accountId, subject: 's', text: 'x', recipientsCsv: 'email\nb1@example.net\nb2@example.net\nb3@example.net\n' });
  const w = startSendWorker(ctx, { pollIntervalMs: 50, sessions: 2, rateWindowMs: WINDOW_MS, rateMarginMs: MARGIN_MS });
  push(() => w.stop());
  await waitFor('the first bulk mail', async () => ((await bulk.get(id)).sent >= 1 ? true : undefined));
  const single = await new DeliveryService(ctx).create('test', { accountId: f.accountId, to: ['single@example.net'], subject: 's', text: 'now' });
  await waitFor('the single send', async () => ((await new DeliveryService(ctx).get(single.id)).status === 'sent' ? true : undefined));
  // the bulk delivery still waits for its next windows; the single send went out meanwhile
  const progress = await bulk.get(id);
  assert.ok(progress.pending >= 1, `the bulk delivery was already done (${JSON.stringify(progress)})`);
  assert.equal(order.indexOf('single@example.net') < order.indexOf('b3@example.net') || !order.includes('b3@example.net'), true, order.join(' '));
  // and it used no slot: only bulk mail counts against the limit
  assert.equal((await ctx.repos.deliveries.slotTimes(f.serverId)).length, progress.sent);
  await waitFor('the bulk delivery', async () => ((await bulk.get(id)).status === 'done' ? true : undefined), 30_000);
});

it('a stall between taking a slot and sending its mail does not put more than the limit into a window the server sees', async (t) => {
  const push = cleanups(t);
  const pair = await twoContexts(t, 'sqlite');
  if (!pair) return;
  const [ctx] = pair;
  const { smtp, starts } = await timedServer(push);
  const f = await addSendingAccount(ctx, { port: smtp.port, perMinuteLimit: LIMIT });
  const n = LIMIT + 2;
  const csv = ['email', ...Array.from({ length: n }, (_, i) => `s${i}@example.net`)].join('\n');
  const { id } = await new BulkDeliveryService(ctx).create('test', { accountId: f.accountId, subject: 's', text: 'x', recipientsCsv: csv });
  // the first slot's mail goes out STALL ms after the slot was taken (a slow commit, a busy
  // process: longer than the margin, shorter than the window); the next three right away. Counted
  // from when it was taken, the fifth slot would be free while the first mail's MAIL FROM is
  // still inside the server's window with the other four.
  const STALL = 600;
  const deliveries = ctx.repos.deliveries;
  const acquire = deliveries.acquireSlot.bind(deliveries);
  let stalled = false;
  deliveries.acquireSlot = async (...args) => {
    const d = await acquire(...args);
    if (d.ok && !stalled) {
      stalled = true;
      await new Promise((r) => setTimeout(r, STALL));
    }
    return d;
  };
  const w = startSendWorker(ctx, { pollIntervalMs: 50, sessions: 1, rateWindowMs: WINDOW_MS, rateMarginMs: MARGIN_MS });
  push(() => w.stop());
  await waitFor('the bulk delivery', async () => ((await new BulkDeliveryService(ctx).get(id)).status === 'done' ? true : undefined), 30_000);
  assert.equal(starts.length, n);
  assert.ok(busiestWindow(starts, WINDOW_MS) <= LIMIT, `more than ${LIMIT} MAIL FROMs in a ${WINDOW_MS} ms window: ${starts.map((s) => s - starts[0]!).join(', ')}`);
  // the slots say when each mail started
  const slots = (await deliveries.slotTimes(f.serverId)).map((s) => Date.parse(s.startedAt));
  assert.equal(slots.length, n);
  assert.ok(busiestWindow(slots, WINDOW_MS + MARGIN_MS) <= LIMIT);
});
