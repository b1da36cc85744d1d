// WAL checkpoints in a background thread (src/store/sqlite-checkpointer.ts): with the option
// on, the main connection leaves checkpoints to the thread, which keeps the WAL from
// growing while the main connection writes, and stops with the database.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, SQLITE_FILE_NAME } from '../../src/store/database.ts';
import { SAFETY_NET_AUTOCHECKPOINT } from '../../src/store/sqlite-checkpointer.ts';

async function walFrames(db: ReturnType<typeof openDatabase>): Promise<{ log: number; checkpointed: number }> {
  // a PASSIVE checkpoint from the main connection reports the WAL's frames and how many are already in the database file
  const r = await sql<{ busy: number; log: number; checkpointed: number }>`pragma wal_checkpoint(PASSIVE)`.execute(db.kysely);
  return r.rows[0]!;
}

it('a background thread checkpoints the WAL while the main connection writes, and stops with the database', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'yubin-ckpt-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const errors: string[] = [];
  const db = openDatabase({ dataDir, backgroundCheckpoint: true, onCheckpointError: (m) => errors.push(m) });
  let closed = false;
  t.after(async () => {
    if (!closed) await db.close();
  });
  const auto = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(db.kysely);
  assert.equal(auto.rows[0]!.wal_autocheckpoint, SAFETY_NET_AUTOCHECKPOINT, 'the main connection keeps only the safety net');

  await sql`create table blobs (id integer primary key, data blob not null)`.execute(db.kysely);
  const blob = Buffer.alloc(12_000, 7);
  // ~5 MB in 20 transactions: without the thread every frame would still be in the WAL
  for (let i = 0; i < 20; i++) {
    await db.transaction(async (trx) => {
      for (let j = 0; j < 20; j++) await sql`insert into blobs (data) values (${blob})`.execute(trx);
    });
  }
  const deadline = Date.now() + 10_000;
  let seen = await walFrames(db);
  // the next write after a complete checkpoint starts the WAL over; until then its frames are all in the file
  while (Date.now() < deadline && !(seen.log === 0 || seen.checkpointed === seen.log)) {
    await new Promise((r) => setTimeout(r, 50));
    seen = await walFrames(db);
  }
  assert.ok(seen.log === 0 || seen.checkpointed === seen.log, `WAL not checkpointed in the background: ${JSON.stringify(seen)}`);
  assert.deepEqual(errors, []);

  // a write after the checkpoint restarts the WAL from its beginning: it stays small
  const before = statSync(join(dataDir, `${SQLITE_FILE_NAME}-wal`)).size;
  for (let i = 0; i < 20; i++) {
    await db.transaction(async (trx) => {
      for (let j = 0; j < 20; j++) await sql`insert into blobs (data) values (${blob})`.execute(trx);
    });
    await new Promise((r) => setTimeout(r, 30));
  }
  const after = statSync(join(dataDir, `${SQLITE_FILE_NAME}-wal`)).size;
  assert.ok(after <= before + 1_000_000, `the WAL kept growing: ${before} → ${after} bytes`);
  const count = await sql<{ n: number }>`select count(*) as n from blobs`.execute(db.kysely);
  assert.equal(Number(count.rows[0]!.n), 800);

  // close() stops the thread (the test process would otherwise keep a live worker)
  await db.close();
  closed = true;
});
