// The SQLite connection keeps statement journals in memory (src/store/database.ts). SQLite
// journals the pages a multi-row write changes inside a transaction, so that the statement
// alone can be undone; by default that journal moves to a temp file once it passes 64 KiB
// (four of our 16 KiB pages), and the send worker's claims and results then wrote a 16 KiB
// page to it for about every mail sent.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../src/store/database.ts';

/** SQLite temp files this process has open (deleted on open, still listed under /proc). */
function openTempFiles(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.includes('etilqs_')) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

it('a multi-row update of many pages inside a transaction opens no temp file', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'yubin-sqlite-conn-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const db = openDatabase({ dataDir });
  t.after(() => db.close());
  const temp = (await sql<{ temp_store: number }>`pragma temp_store`.execute(db.kysely)).rows[0]!.temp_store;
  assert.equal(temp, 2, 'temp_store = MEMORY');

  // a unique column: an UPDATE of several rows may fail half-way, so it is journalled
  await sql`create table blobs (id integer primary key, tag text unique, data blob not null)`.execute(db.kysely);
  const blob = Buffer.alloc(12_000, 7);
  for (let i = 0; i < 50; i++) await sql`insert into blobs (tag, data) values (${`t${i}`}, ${blob})`.execute(db.kysely);
  let during: string[] = [];
  await db.transaction(async (trx) => {
    await sql`update blobs set tag = 'a' || id`.execute(trx);
    // 50 pages of 16 KiB: 800 KiB of statement journal
    await sql`update blobs set tag = 'b' || id, data = zeroblob(12000)`.execute(trx);
    during = openTempFiles();
  });
  assert.deepEqual(during, [], 'the statement journal went to a temp file');
  const rows = await sql<{ n: number }>`select count(*) as n from blobs where tag like 'b%'`.execute(db.kysely);
  assert.equal(rows.rows[0]!.n, 50);
});
