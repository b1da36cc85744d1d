// WAL checkpoints in a background thread (src/store/sqlite-checkpointer.ts): the thread's
// checkpoints let the WAL start over, so it stays small while the main connection writes;
// with the option on, the database leaves checkpoints to the thread and stops it on close.
//
// The test waits for the thread's reports, never for a fixed time: CI once ran the writes
// faster than the thread's 250 ms ticks on a loaded machine. Nothing here checkpoints from
// the main connection (a `pragma wal_checkpoint` would do the thread's work itself).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, SQLITE_FILE_NAME } from '../../src/store/database.ts';
import { SAFETY_NET_AUTOCHECKPOINT, startCheckpointer } from '../../src/store/sqlite-checkpointer.ts';

it('the thread checkpoints what the main connection wrote, so that the WAL starts over instead of growing', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'yubin-ckpt-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  // no checkpoints but the thread's: the main connection's own come only after 8000 pages (128 MB)
  const db = openDatabase({ dataDir });
  t.after(() => db.close());
  const file = join(dataDir, SQLITE_FILE_NAME);
  const errors: string[] = [];
  let waiter: ((r: { log: number; checkpointed: number }) => void) | undefined;
  const thread = startCheckpointer(file, { onError: (m) => errors.push(m), onCheckpoint: (r) => waiter?.(r) });
  t.after(() => thread.stop());
  /** The thread's next report that every frame of the WAL is in the database file. */
  const complete = () =>
    new Promise<{ log: number; checkpointed: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no complete checkpoint in 20 s (errors: ${errors.join('; ')})`)), 20_000);
      waiter = (r) => {
        if (r.checkpointed < r.log) return;
        clearTimeout(timer);
        waiter = undefined;
        resolve(r);
      };
    });
  const blob = Buffer.alloc(12_000, 7);
  const write = () =>
    db.transaction(async (trx) => {
      for (let j = 0; j < 20; j++) await sql`insert into blobs (data) values (${blob})`.execute(trx);
    });
  await sql`create table blobs (id integer primary key, data blob not null)`.execute(db.kysely);

  // ~5 MB in 20 transactions, all checkpointed by the thread
  for (let i = 0; i < 20; i++) await write();
  const first = await complete();
  assert.ok(first.log >= 20 * 20, `the thread checkpointed the writes: ${JSON.stringify(first)}`);

  // each write after a complete checkpoint starts the WAL over from its beginning: 20 more
  // transactions (~5 MB) leave it no longer than it was
  const before = statSync(`${file}-wal`).size;
  for (let i = 0; i < 20; i++) {
    await write();
    await complete();
  }
  const after = statSync(`${file}-wal`).size;
  assert.ok(after <= before, `the WAL kept growing: ${before} → ${after} bytes`);
  assert.deepEqual(errors, []);
  const count = await sql<{ n: number }>`select count(*) as n from blobs`.execute(db.kysely);
  assert.equal(Number(count.rows[0]!.n), 800);
});

it('backgroundCheckpoint: the main connection keeps only the safety net, and close() stops the thread', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'yubin-ckpt-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const db = openDatabase({ dataDir, backgroundCheckpoint: true });
  const auto = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(db.kysely);
  assert.equal(auto.rows[0]!.wal_autocheckpoint, SAFETY_NET_AUTOCHECKPOINT);
  const plain = openDatabase({ dataDir: mkdtempSync(join(tmpdir(), 'yubin-ckpt-')) });
  const plainAuto = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(plain.kysely);
  assert.equal(plainAuto.rows[0]!.wal_autocheckpoint, 8000);
  await plain.close();
  // resolves only once the thread has exited (its stop() waits for that)
  await db.close();
});
