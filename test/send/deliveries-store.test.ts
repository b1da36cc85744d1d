// The sending store on SQLite and PostgreSQL, with two contexts on one database as two
// worker processes would have: a recipient is claimed by one worker only, a dead worker's
// recipients are claimed again once its lease runs out, a committed 'sent' is final, and
// the per-minute slots never exceed the limit however many take them at once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AppContext } from '../../src/services/context.ts';
import { BulkDeliveryService } from '../../src/send/bulk-service.ts';
import { DeliveryService } from '../../src/send/delivery-service.ts';
import type { ClaimedRecipient } from '../../src/store/deliveries.ts';
import { contextFor, ENGINES } from '../support/app-context.ts';
import { addSendingAccount, twoContexts } from './send-fixture.ts';

async function queueBulk(ctx: AppContext, n: number, perMinuteLimit: number | null = null): Promise<{ bulkId: string; serverId: string }> {
  const f = await addSendingAccount(ctx, { port: 2525, perMinuteLimit });
  const csv = ['email,name', ...Array.from({ length: n }, (_, i) => `r${i}@example.net,R${i}`)].join('\n');
  const { id } = await new BulkDeliveryService(ctx).create('test', { accountId: f.accountId, subject: 'Hi {{name}}', text: 'x', recipientsCsv: csv });
  return { bulkId: id, serverId: f.serverId };
}

for (const engine of ENGINES) {
  describe(`sending store on ${engine}`, () => {
    it('two workers claiming at once never get the same recipient', async (t) => {
      const pair = await twoContexts(t, engine);
      if (!pair) return;
      const [a, b] = pair;
      await queueBulk(a, 120);
      const claimAll = async (ctx: AppContext, holder: string): Promise<ClaimedRecipient[]> => {
        const got: ClaimedRecipient[] = [];
        for (;;) {
          const batch = await ctx.repos.deliveries.claim({ holder, now: new Date(), leaseMs: 60_000, limit: 7 });
          if (batch.length === 0) return got;
          got.push(...batch);
        }
      };
      const [fromA, fromB] = await Promise.all([claimAll(a, 'A'), claimAll(b, 'B')]);
      const ids = [...fromA, ...fromB].map((r) => r.id);
      assert.equal(ids.length, 120);
      assert.equal(new Set(ids).size, 120, 'a recipient was claimed twice');
    });

    it('a dead worker’s recipients are claimed again after its lease; a committed sent is never claimed again', async (t) => {
      const pair = await twoContexts(t, engine);
      if (!pair) return;
      const [a, b] = pair;
      await queueBulk(a, 3);
      const t0 = new Date();
      const dead = await a.repos.deliveries.claim({ holder: 'dead', now: t0, leaseMs: 1_000, limit: 10 });
      assert.equal(dead.length, 3);
      // while the lease holds, nobody else gets them
      assert.deepEqual(await b.repos.deliveries.claim({ holder: 'B', now: new Date(t0.getTime() + 500), leaseMs: 60_000, limit: 10 }), []);
      const later = new Date(t0.getTime() + 1_500);
      const again = await b.repos.deliveries.claim({ holder: 'B', now: later, leaseMs: 60_000, limit: 10 });
      assert.deepEqual(again.map((r) => r.id).sort(), dead.map((r) => r.id).sort());

      const [first, second, third] = again;
      // B sends the first; the dead worker's late 'deferred' for the second is ignored (not its lease any more)
      await b.repos.deliveries.applyResults('B', [{ id: first!.id, deliveryId: first!.deliveryId, bulkId: first!.bulkId, status: 'sent', attempted: true, code: 250, reply: '250 ok' }], later);
      await a.repos.deliveries.applyResults('dead', [{ id: second!.id, deliveryId: second!.deliveryId, bulkId: second!.bulkId, status: 'deferred', attempted: true, nextAttemptAt: later.toISOString() }], later);
      const rows = new Map((await b.db.kysely.selectFrom('delivery_recipients').selectAll().execute()).map((r) => [r.id, r]));
      assert.equal(rows.get(first!.id)!.status, 'sent');
      assert.equal(rows.get(first!.id)!.attempts, 1);
      assert.equal(rows.get(second!.id)!.status, 'sending');
      assert.equal(rows.get(second!.id)!.lease_holder, 'B');
      // B dies too: the two unfinished ones come back, the sent one never does
      const muchLater = new Date(later.getTime() + 120_000);
      const third2 = await a.repos.deliveries.claim({ holder: 'C', now: muchLater, leaseMs: 60_000, limit: 10 });
      assert.deepEqual(third2.map((r) => r.id).sort(), [second!.id, third!.id].sort());
    });

    it('stale: false leaves run-out recipients alone and still takes what is due; each claimed recipient carries its claim time', async (t) => {
      const ctx = await contextFor(t, engine);
      if (!ctx) return;
      await queueBulk(ctx, 3);
      const t0 = new Date();
      const first = await ctx.repos.deliveries.claim({ holder: 'A', now: t0, leaseMs: 1_000, limit: 2 });
      assert.deepEqual(first.map((r) => r.claimedAt), [t0.getTime(), t0.getTime()]);
      const later = new Date(t0.getTime() + 1_500); // A's two leases ran out; one recipient was never claimed
      const fresh = await ctx.repos.deliveries.claim({ holder: 'B', now: later, leaseMs: 60_000, limit: 10, stale: false });
      assert.equal(fresh.length, 1);
      assert.ok(!first.some((r) => r.id === fresh[0]!.id));
      const stale = await ctx.repos.deliveries.claim({ holder: 'B', now: later, leaseMs: 60_000, limit: 10 });
      assert.deepEqual(stale.map((r) => r.id).sort(), first.map((r) => r.id).sort());
    });

    it('renewed leases hold past their first expiry, for single sends and bulk mail alike; another holder’s run out', async (t) => {
      const ctx = await contextFor(t, engine);
      if (!ctx) return;
      await queueBulk(ctx, 2);
      const f = await addSendingAccount(ctx, { port: 2525 });
      await new DeliveryService(ctx).create('test', { accountId: f.accountId, to: ['one@example.org'], subject: 's', text: 'x' });
      const t0 = new Date();
      const mine = await ctx.repos.deliveries.claim({ holder: 'A', now: t0, leaseMs: 1_000, limit: 2 });
      const theirs = await ctx.repos.deliveries.claim({ holder: 'B', now: t0, leaseMs: 1_000, limit: 10 });
      assert.deepEqual([mine.map((r) => r.bulkId === null), theirs.length], [[true, false], 1]);
      // A renews at +0.8 s for another 60 s; B does not
      assert.equal(await ctx.repos.deliveries.renewLeases('A', new Date(t0.getTime() + 800), 60_000), 2);
      const after = await ctx.repos.deliveries.claim({ holder: 'C', now: new Date(t0.getTime() + 1_500), leaseMs: 60_000, limit: 10 });
      assert.deepEqual(
        after.map((r) => r.id),
        theirs.map((r) => r.id),
      );
    });

    it('concurrent slot requests from two workers grant exactly the limit within the window', async (t) => {
      const pair = await twoContexts(t, engine);
      if (!pair) return;
      const [a, b] = pair;
      const { serverId } = await queueBulk(a, 1, 7);
      const spanMs = 60_000;
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).repos.deliveries.acquireSlot(serverId, 7, spanMs, i % 2 ? 'A' : 'B')));
      const granted = results.filter((r) => r.ok);
      assert.equal(granted.length, 7);
      const slots = await a.repos.deliveries.slotTimes(serverId);
      assert.equal(slots.length, 7);
      // slot times never go backwards, and a refusal names when the oldest slot leaves the window
      const times = slots.map((s) => Date.parse(s.startedAt));
      assert.deepEqual([...times].sort((x, y) => x - y), times);
      // (in the asking worker's clock: on PostgreSQL the database's, less the offset measured)
      for (const r of results) if (!r.ok) assert.ok(Math.abs(r.retryAt - (times[0]! + spanMs + 1)) <= (engine === 'sqlite' ? 0 : 100), `${r.retryAt} vs ${times[0]! + spanMs + 1}`);
    });

    it('workers whose clocks differ share one window: slots are stamped in the database clock', async (t) => {
      // SQLite: every worker is on one host, with one clock
      if (engine === 'sqlite') return;
      const pair = await twoContexts(t, engine);
      if (!pair) return;
      const [a, b] = pair;
      const { serverId } = await queueBulk(a, 1, 1);
      const behind = () => Date.now() - 3_000; // worker A's clock, NTP not running
      const first = await a.repos.deliveries.acquireSlot(serverId, 1, 60_000, 'A', behind);
      assert.ok(first.ok);
      const second = await b.repos.deliveries.acquireSlot(serverId, 1, 60_000, 'B');
      assert.equal(second.ok, false);
      // the window ends 60 s after the first slot by the database's clock, not 57 s (A's stamp)
      if (!second.ok) assert.ok(second.retryAt >= Date.now() + 59_000, `the window ends ${second.retryAt - Date.now()} ms from now`);
      // and A is told that moment in its own clock
      const again = await a.repos.deliveries.acquireSlot(serverId, 1, 60_000, 'A', behind);
      if (!again.ok) assert.ok(again.retryAt >= behind() + 59_000, `A's window ends ${again.retryAt - behind()} ms from its now`);
      else assert.fail('a second slot for A');
    });

    it('claims capped to one rate-limited recipient each, made at the same moment by two workers, each get one', async (t) => {
      const pair = await twoContexts(t, engine);
      if (!pair) return;
      const [a, b] = pair;
      await queueBulk(a, 40, 10);
      // on PostgreSQL a claim that locked every waiting row to take one would leave the other
      // worker's claim (SKIP LOCKED) with nothing
      for (let round = 0; round < 15; round++) {
        const now = new Date();
        const [x, y] = await Promise.all([
          a.repos.deliveries.claim({ holder: 'A', now, leaseMs: 60_000, limit: 256, maxThrottled: 1 }),
          b.repos.deliveries.claim({ holder: 'B', now, leaseMs: 60_000, limit: 256, maxThrottled: 1 }),
        ]);
        assert.deepEqual([x.length, y.length], [1, 1], `round ${round}`);
        assert.notEqual(x[0]!.id, y[0]!.id);
      }
    });

    it('a claim takes single sends first, then running bulk deliveries oldest first: at most the cap of rate-limited mail, none of a paused one or a full server', async (t) => {
      const ctx = await contextFor(t, engine);
      if (!ctx) return;
      const bulks = new BulkDeliveryService(ctx);
      const tick = () => new Promise((r) => setTimeout(r, 5));
      const paused = await queueBulk(ctx, 5);
      await bulks.pause('test', paused.bulkId);
      await tick();
      const limited = await queueBulk(ctx, 5, 10);
      await tick();
      const older = await queueBulk(ctx, 3);
      await tick();
      const newer = await queueBulk(ctx, 3);
      const f = await addSendingAccount(ctx, { port: 2525 });
      const single = await new DeliveryService(ctx).create('test', { accountId: f.accountId, to: ['one@example.org'], subject: 's', text: 'x' });
      const source = (r: ClaimedRecipient) =>
        r.bulkId === null ? 'single' : ({ [paused.bulkId]: 'paused', [limited.bulkId]: 'limited', [older.bulkId]: 'older', [newer.bulkId]: 'newer' } as Record<string, string>)[r.bulkId];

      const first = await ctx.repos.deliveries.claim({ holder: 'A', now: new Date(), leaseMs: 60_000, limit: 6, maxThrottled: 1 });
      assert.deepEqual(first.map(source), ['single', 'limited', 'older', 'older', 'older', 'newer']);
      assert.equal(first[0]!.deliveryId, single.id);
      // the rate-limited server's window is full: its mail is left alone
      const second = await ctx.repos.deliveries.claim({ holder: 'A', now: new Date(), leaseMs: 60_000, limit: 10, maxThrottled: 1, skipThrottledServers: [limited.serverId] });
      assert.deepEqual(second.map(source), ['newer', 'newer']);
      // single sends only
      await new DeliveryService(ctx).create('test', { accountId: f.accountId, to: ['two@example.org'], subject: 's', text: 'x' });
      const singles = await ctx.repos.deliveries.claim({ holder: 'A', now: new Date(), leaseMs: 60_000, limit: 10, singlesOnly: true });
      assert.deepEqual(singles.map(source), ['single']);
      // resumed, the paused bulk delivery is taken like the others (without a cap, rate-limited
      // mail still comes first: its slots are what is scarce)
      await bulks.resume('test', paused.bulkId);
      const rest = await ctx.repos.deliveries.claim({ holder: 'A', now: new Date(), leaseMs: 60_000, limit: 100 });
      assert.deepEqual(rest.map(source), ['limited', 'limited', 'limited', 'limited', 'paused', 'paused', 'paused', 'paused', 'paused']);
    });

    it('bulk deliveries list newest first, page by page, ties in time by id, with none left out or twice', async (t) => {
      const ctx = await contextFor(t, engine);
      if (!ctx) return;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await queueBulk(ctx, 1)).bulkId);
      // two of them at the same moment: the id orders them
      await ctx.db.kysely.updateTable('bulk_deliveries').set({ created_at: '2026-12-01T00:00:00.000Z' }).where('id', 'in', [ids[1]!, ids[2]!]).execute();
      const rows = await ctx.db.kysely.selectFrom('bulk_deliveries').select(['id', 'created_at']).execute();
      const expected = rows.sort((a, b) => (a.created_at === b.created_at ? (a.id < b.id ? 1 : -1) : a.created_at < b.created_at ? 1 : -1)).map((r) => r.id);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await ctx.repos.deliveries.listBulks({ limit: 2, before: cursor });
        seen.push(...page.ids);
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      // the same set, in the engine's order: newest first, and the tied pair by id either way the collation sorts
      assert.deepEqual([...seen].sort(), [...ids].sort());
      assert.deepEqual(seen.filter((id) => id !== ids[1] && id !== ids[2]), expected.filter((id) => id !== ids[1] && id !== ids[2]));
      assert.deepEqual(seen.slice(-2).sort(), [ids[1]!, ids[2]!].sort(), 'the two oldest come last');
    });

    it('a recipient handed back after its bulk delivery was cancelled is cancelled, not left queued', async (t) => {
      const ctx = await contextFor(t, engine);
      if (!ctx) return;
      const { bulkId } = await queueBulk(ctx, 3);
      const claimed = await ctx.repos.deliveries.claim({ holder: 'A', now: new Date(), leaseMs: 60_000, limit: 2 });
      assert.equal(claimed.length, 2);
      await new BulkDeliveryService(ctx).cancel('test', bulkId);
      // the worker hands one back unsent and defers the other (as after a refused slot or a 4xx)
      await ctx.repos.deliveries.applyResults(
        'A',
        [
          { id: claimed[0]!.id, deliveryId: claimed[0]!.deliveryId, bulkId, status: 'queued', attempted: false },
          { id: claimed[1]!.id, deliveryId: claimed[1]!.deliveryId, bulkId, status: 'deferred', attempted: true, nextAttemptAt: new Date().toISOString(), code: 451, reply: '451 later' },
        ],
        new Date(),
      );
      const counts = await ctx.repos.deliveries.bulkCounts(bulkId);
      assert.deepEqual([counts.queued, counts.deferred, counts.sending, counts.cancelled], [0, 0, 0, 3]);
      assert.equal(await ctx.repos.deliveries.hasPending(bulkId), false);
    });
  });
}
