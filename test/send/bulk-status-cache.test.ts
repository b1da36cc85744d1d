// The send worker's cache of bulk-delivery statuses: read once for every caller, refreshed by
// a timer while asked for, forgotten when not, and never overwritten by a read that began
// before the worker set a status itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BulkStatusCache } from '../../src/send/bulk-status-cache.ts';
import type { BulkStatus } from '../../src/store/deliveries.ts';

/** A stand-in for the database: statuses by id, every read recorded; `hold` makes reads wait. */
function database(initial: Record<string, BulkStatus>) {
  const statuses = new Map(Object.entries(initial));
  const reads: string[][] = [];
  let gate: Promise<void> | null = null;
  let fail: Error | null = null;
  return {
    statuses,
    reads,
    hold(): () => void {
      let open!: () => void;
      gate = new Promise((resolve) => (open = resolve));
      return () => {
        gate = null;
        open();
      };
    },
    failNext(err: Error): void {
      fail = err;
    },
    async read(ids: string[]): Promise<Map<string, BulkStatus>> {
      reads.push([...ids]);
      const snapshot = new Map(ids.flatMap((id) => (statuses.has(id) ? [[id, statuses.get(id)!] as const] : [])));
      if (gate) await gate;
      if (fail) {
        const err = fail;
        fail = null;
        throw err;
      }
      return snapshot;
    },
  };
}

function cacheOver(db: ReturnType<typeof database>, intervalMs = 60_000) {
  const errors: unknown[] = [];
  const cache = new BulkStatusCache((ids) => db.read(ids), { intervalMs, onRefreshError: (err) => errors.push(err) });
  return { cache, errors };
}

test('an unknown status is read once for every caller meanwhile, then taken without a read', async (t) => {
  const db = database({ a: 'running' });
  const { cache } = cacheOver(db);
  t.after(() => cache.close());
  assert.equal(cache.get('a'), undefined);
  const [x, y, z] = await Promise.all([cache.load('a'), cache.load('a'), cache.load('a')]);
  assert.deepEqual([x, y, z], ['running', 'running', 'running']);
  assert.equal(db.reads.length, 1);
  assert.equal(cache.get('a'), 'running');
  assert.equal(db.reads.length, 1);
  // a bulk delivery that is gone is null, not unknown
  assert.equal(await cache.load('gone'), null);
  assert.equal(cache.get('gone'), null);
});

test('a refresh reads again what was asked for since the last one and forgets the rest', async (t) => {
  const db = database({ a: 'running', b: 'running' });
  const { cache } = cacheOver(db);
  t.after(() => cache.close());
  await cache.load('a');
  await cache.load('b');
  await cache.refresh(); // both were asked for (loaded) since the start
  db.statuses.set('a', 'paused');
  db.statuses.set('b', 'cancelled');
  assert.equal(cache.get('a'), 'running');
  await cache.refresh();
  assert.deepEqual(db.reads.at(-1), ['a']);
  assert.equal(cache.get('a'), 'paused');
  // b was not asked for during the last period: forgotten, so the next ask reads it fresh
  assert.equal(cache.get('b'), undefined);
  assert.equal(await cache.load('b'), 'cancelled');
});

test('a status the worker sets is not overwritten by a read that began before it', async (t) => {
  const db = database({ a: 'running' });
  const { cache } = cacheOver(db);
  t.after(() => cache.close());
  await cache.load('a');
  cache.get('a');
  // a refresh reads 'running', and before its answer the worker pauses the bulk delivery
  const release = db.hold();
  const refreshing = cache.refresh();
  cache.set(['a'], 'paused');
  release();
  await refreshing;
  assert.equal(cache.get('a'), 'paused');
  // a load under way the same way
  const release2 = db.hold();
  const loading = cache.load('b');
  cache.set(['b'], 'paused');
  release2();
  assert.equal(await loading, 'paused');
  assert.equal(cache.get('b'), 'paused');
});

test('a refresh that cannot read forgets its entries (the send path reads them itself) and reports once', async (t) => {
  const db = database({ a: 'running' });
  const { cache, errors } = cacheOver(db);
  t.after(() => cache.close());
  await cache.load('a');
  db.failNext(new Error('database is locked'));
  await cache.refresh();
  assert.equal(errors.length, 1);
  assert.equal(cache.get('a'), undefined);
  assert.equal(await cache.load('a'), 'running');
});

test('the timer refreshes while the status is asked for, and stops when nothing is', async (t) => {
  const db = database({ a: 'running' });
  const { cache } = cacheOver(db, 20);
  t.after(() => cache.close());
  await cache.load('a');
  db.statuses.set('a', 'paused');
  const seen = await new Promise<BulkStatus | null | undefined>((resolve) => {
    const poll = setInterval(() => {
      const s = cache.get('a');
      if (s === 'paused') {
        clearInterval(poll);
        resolve(s);
      }
    }, 5);
  });
  assert.equal(seen, 'paused');
  // nobody asks any more: after two periods the entry is forgotten and the reads stop
  await new Promise((r) => setTimeout(r, 100));
  const reads = db.reads.length;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(db.reads.length, reads);
});
