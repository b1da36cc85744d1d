// Backup and restore of the SQLite default, and the move to PostgreSQL, through the real
// CLI: `yubin backup` while another process writes (the copy is one consistent moment),
// `yubin restore` (refused under a running process, refused for a file that is not a
// backup or that another secret key sealed; --force; the old database kept), the round
// trip, and `yubin migrate-to-postgres` into a fresh PostgreSQL database with 8-bit and
// binary mail, Japanese text and NULLs — counts and hashes equal, content readable there.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import SQLite from 'better-sqlite3';
import { pino } from 'pino';
import type { AppConfig } from '../../src/config/env.ts';
import { AppError } from '../../src/domain/errors.ts';
import { extractMetadata } from '../../src/mail/metadata.ts';
import { backupDatabase, restoreDatabase } from '../../src/ops/backup.ts';
import { registerProcess } from '../../src/ops/process-registry.ts';
import { COPY_BATCH_ROWS_WITH_BLOBS, sqliteTables, tableHash } from '../../src/ops/migrate-to-postgres.ts';
import { BulkDeliveryService } from '../../src/send/bulk-service.ts';
import { compileBulkMail } from '../../src/send/compose-delivery.ts';
import { DeliveryService } from '../../src/send/delivery-service.ts';
import { openContext, type AppContext } from '../../src/services/context.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { openDatabase } from '../../src/store/database.ts';
import { runCli } from '../support/cli.ts';
import { testDatabaseUrl } from '../support/postgres.ts';
import { addSendingAccount } from '../send/send-fixture.ts';

const silent = pino({ level: 'silent' });

function dataFolder(t: TestContext): { dir: string; config: AppConfig; env: Record<string, string | undefined> } {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-backup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // the key file in the data folder, as on a default installation
  return { dir, config: { dataDir: join(dir, 'data'), databaseUrl: undefined, secretKey: undefined, host: '127.0.0.1', port: 0 }, env: { YUBIN_DATA_DIR: join(dir, 'data'), YUBIN_DATABASE_URL: '', YUBIN_SECRET_KEY: '', YUBIN_LANG: 'en' } };
}

/** Two audit rows per transaction, with the same target: a torn copy would show an odd one. */
async function writePair(ctx: AppContext, n: number): Promise<void> {
  await ctx.db.transaction(async (trx) => {
    for (const half of ['a', 'b']) await ctx.repos.audit.append(trx, { actor: 'writer', action: `pair.${half}`, targetType: 'pair', targetId: `pair-${n}`, targetName: null, fields: [] });
  });
}

const RAW_8BIT = Buffer.concat([
  Buffer.from(`From: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <yamada@example.jp>\r\nTo: a@example.com\r\nSubject: =?UTF-8?B?${Buffer.from('8bit テスト ①').toString('base64')}?=\r\nContent-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: 8bit\r\n\r\n`, 'utf8'),
  Buffer.from([0x82, 0xa0, 0x82, 0xa2, 0x0d, 0x0a, 0x00, 0xff, 0xfe, 0x80, 0x0d, 0x0a]),
  randomBytes(3000),
]);
const RAW_NO_SUBJECT = Buffer.from('From: x@example.org\r\nTo: a@example.com\r\n\r\nno subject, no date\r\n');

async function seed(ctx: AppContext): Promise<{ accountId: string; messageIds: string[] }> {
  const f = await addSendingAccount(ctx, { port: 1, fromName: '送信 太郎', password: 'パスワード-secret' });
  const stored = await ctx.repos.messages.storeBatch(
    f.accountId,
    [RAW_8BIT, RAW_NO_SUBJECT].map((raw, i) => ({ uid: `uid-${i}`, chunks: [raw], meta: extractMetadata(raw) })),
    new Date().toISOString(),
  );
  await new DeliveryService(ctx).create('test', { accountId: f.accountId, to: ['宛先@example.jp'.replace('宛先', 'atesaki')], subject: '件名 ㈱', text: '本文です。' });
  return { accountId: f.accountId, messageIds: stored.map((s) => s.messageId) };
}

test('yubin backup while another process writes: one consistent moment, the key is not in it; restore and round trip', async (t) => {
  const { dir, config, env } = dataFolder(t);
  let ctx = await openContext(config, { log: silent });
  const { accountId, messageIds } = await seed(ctx);
  let n = 0;
  for (; n < 20; n++) await writePair(ctx, n);
  let writing = true;
  const writer = (async () => {
    while (writing) {
      await writePair(ctx, n++);
      // better-sqlite3 answers synchronously: let the child process's events in
      await new Promise((r) => setImmediate(r));
    }
  })();
  const file = join(dir, 'yubin-backup.sqlite');
  const r = await runCli(['backup', file, '--json'], { env });
  writing = false;
  await writer;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /secret key is NOT in the backup/);
  assert.equal(JSON.parse(r.stdout).secretKeyIncluded, false);
  assert.ok(!existsSync(`${file}.partial`));

  const copy = new SQLite(file, { readonly: true });
  assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
  const pairs = copy.prepare(`select target_id, count(*) as n from audit_log where target_type = 'pair' group by target_id`).all() as { target_id: string; n: number }[];
  copy.close();
  assert.ok(pairs.length >= 20, `${pairs.length} pairs`);
  assert.ok(pairs.every((p) => p.n === 2), 'a transaction was torn in the backup');
  assert.ok(pairs.length <= n);

  // the database moves on after the backup: an account deleted, more rows
  await new MailAccountService(ctx).delete('test', accountId);
  const before = await ctx.db.kysely.selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();

  // refused while a serve process uses the data folder (this test process stands in for it)
  const unregister = registerProcess(config.dataDir, 'serve');
  const busy = await runCli(['restore', file], { env });
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, new RegExp(`serve \\(pid ${process.pid}\\)`));
  unregister();
  await ctx.close();

  const restored = await runCli(['restore', file, '--json'], { env });
  assert.equal(restored.code, 0, restored.stderr);
  const result = JSON.parse(restored.stdout) as { previous: string };
  assert.ok(existsSync(result.previous), 'the replaced database is kept');
  ctx = await openContext(config, { log: silent });
  t.after(() => ctx.close());
  const account = await new MailAccountService(ctx).get(accountId);
  assert.equal(account.fromName, '送信 太郎');
  assert.equal((await new MailAccountService(ctx).credentials(accountId)).password, 'パスワード-secret', 'the key file still opens the restored passwords');
  assert.ok((await ctx.repos.messages.rawBuffer(messageIds[0]!)).equals(RAW_8BIT));
  const after = await ctx.db.kysely.selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  assert.ok(Number(after.n) < Number(before.n));
  // the kept database is the one from before the restore: the deleted account is missing there
  const old = new SQLite(result.previous, { readonly: true });
  assert.equal((old.prepare('select count(*) as n from mail_accounts where id = ?').get(accountId) as { n: number }).n, 0);
  old.close();
});

test('yubin restore refuses what is not a good backup, or one another key sealed (unless --force); backup refuses PostgreSQL', async (t) => {
  const { dir, config, env } = dataFolder(t);
  const ctx = await openContext(config, { log: silent });
  await seed(ctx);
  await ctx.close();
  const file = join(dir, 'good.sqlite');
  await backupDatabase(config, file);

  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'not a database\n'.repeat(100));
  const notBackup = await runCli(['restore', text], { env });
  assert.equal(notBackup.code, 2, notBackup.stderr);
  assert.match(notBackup.stderr, /not a Yubin backup/);
  const refusal = (fn: () => unknown): AppError => {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof AppError, String(err));
      return err;
    }
    assert.fail('not refused');
  };
  assert.match(refusal(() => restoreDatabase(config, text)).localized('ja').message, /バックアップ（SQLiteデータベース）ではありません/);

  const cut = join(dir, 'cut.sqlite');
  writeFileSync(cut, readFileSync(file));
  truncateSync(cut, 16_384 * 2);
  assert.equal(refusal(() => restoreDatabase(config, cut)).code, 'VALIDATION');

  const otherKey = { ...config, secretKey: randomBytes(32) };
  assert.equal(refusal(() => restoreDatabase(otherKey, file)).key, 'ops.restoreKey');
  restoreDatabase(otherKey, file, { force: true });
  assert.equal(readdirSync(config.dataDir).filter((n) => n.includes('before-restore')).length, 1);

  await assert.rejects(backupDatabase({ ...config, databaseUrl: 'postgres://u@127.0.0.1:1/db' }, join(dir, 'x.sqlite')), (err: AppError) => /pg_dump/.test(err.localized('en').message));

  // targets a backup cannot go to: the live database (renamed over it, before), a folder, a folder that does not exist
  const live = join(config.dataDir, 'yubin.sqlite');
  const before = readFileSync(live);
  for (const [target, words] of [
    [live, /is the live database itself/],
    [`${config.dataDir}/./yubin.sqlite-wal`, /is the live database itself/],
    [dir, /is a folder/],
    [join(dir, 'no-such-folder', 'x.sqlite'), /does not exist/],
  ] as const) {
    const r = await runCli(['backup', target], { env: { ...env, YUBIN_LANG: 'en' } });
    assert.equal(r.code, 2, `${target}: ${r.stderr}`);
    assert.match(r.stderr, words);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.ok(readFileSync(live).equals(before), 'the live database is untouched');
});

test('yubin migrate-to-postgres: every table into a fresh database, counts and hashes equal; a second run is refused', async (t) => {
  const url = await testDatabaseUrl();
  if (!url) return t.skip('PostgreSQL is not installed here');
  const { config, env } = dataFolder(t);
  const sqliteCtx = await openContext(config, { log: silent });
  const { accountId, messageIds } = await seed(sqliteCtx);
  for (let n = 0; n < 3; n++) await writePair(sqliteCtx, n);
  // more chunk rows than one copy batch: the keyset paging runs on both engines
  const extra = Array.from({ length: 40 }, (_, i) => Buffer.from(`Subject: ${i}\r\n\r\nbody ${i} ${'\u00e9'.repeat(i)}\r\n`, 'latin1'));
  await sqliteCtx.repos.messages.storeBatch(accountId, extra.map((raw, i) => ({ uid: `extra-${i}`, chunks: [raw], meta: extractMetadata(raw) })), new Date().toISOString());
  // a sent bulk mail stored as a recipe over its bulk delivery's shared text (migration 0007)
  const bulk = await new BulkDeliveryService(sqliteCtx).create('test', { accountId, subject: 'Hi {{name}}', text: `Dear {{name}},\n${'plain text line\n'.repeat(50)}`, recipientsCsv: 'email,name\na@example.net,A\n' });
  const [item] = (await new BulkDeliveryService(sqliteCtx).recipients(bulk.id, {})).items;
  const composer = await compileBulkMail({ subject: 'Hi {{name}}', text: `Dear {{name}},\n${'plain text line\n'.repeat(50)}`, html: null, charset: 'utf-8' }, { fromName: 'x', address: 'x@example.com' });
  const mail = await composer.compose('a@example.net', { name: 'A' }, item!.deliveryId);
  const [recipient] = await sqliteCtx.repos.deliveries.recipients(item!.deliveryId);
  assert.ok(mail.parts, 'the mail is made of shared segments');
  await sqliteCtx.repos.deliveries.applyResults(
    'test',
    [{ id: recipient!.id, deliveryId: item!.deliveryId, bulkId: bulk.id, status: 'sent', attempted: true, mail: { subject: mail.subject, messageId: mail.messageId, size: mail.raw.length, charsetFallback: null, raw: mail.raw, parts: mail.parts } }],
    new Date(),
  );
  await sqliteCtx.close();

  const r = await runCli(['migrate-to-postgres', url, '--json'], { env });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const report = JSON.parse(r.stdout) as { ok: boolean; tables: { table: string; sourceRows: number; targetRows: number; sourceHash: string; targetHash: string; ok: boolean }[] };
  assert.equal(report.ok, true);
  const byName = new Map(report.tables.map((x) => [x.table, x]));
  for (const name of ['mail_servers', 'mail_accounts', 'messages', 'message_chunks', 'message_uids', 'deliveries', 'delivery_recipients', 'delivery_chunks', 'delivery_bases', 'delivery_recipes', 'audit_log', 'account_stalls']) {
    assert.ok(byName.has(name), `${name} not copied`);
  }
  assert.equal(byName.get('messages')!.targetRows, 42);
  assert.ok(byName.get('message_chunks')!.targetRows > COPY_BATCH_ROWS_WITH_BLOBS);
  assert.ok(report.tables.every((x) => x.ok && x.sourceHash === x.targetHash && x.sourceRows === x.targetRows));
  const human = await runCli(['migrate-to-postgres', url], { env });
  assert.equal(human.code, 1, 'the database is no longer empty');
  assert.match(human.stderr, /not empty \(.*mail_accounts/);

  // Yubin on PostgreSQL with the same key reads the same mail, text and passwords
  const key = readFileSync(join(config.dataDir, 'secret.key'), 'utf8').trim();
  const pgCtx = await openContext({ ...config, databaseUrl: url, secretKey: Buffer.from(key, 'base64') }, { log: silent });
  t.after(() => pgCtx.close());
  assert.ok((await pgCtx.repos.messages.rawBuffer(messageIds[0]!)).equals(RAW_8BIT), 'binary/8-bit raw bytes differ');
  assert.equal(byName.get('delivery_recipes')!.targetRows, 1);
  assert.ok((await pgCtx.repos.deliveries.raw(item!.deliveryId))?.equals(mail.raw), 'the stored bulk mail reads back differently');
  const rows = await pgCtx.db.kysely.selectFrom('messages').select(['subject', 'date']).where('id', 'in', messageIds).orderBy('size', 'desc').execute();
  assert.equal(rows[0]!.subject, '8bit テスト ①');
  assert.equal(rows[1]!.subject, null);
  assert.equal(rows[1]!.date, null);
  assert.equal((await new MailAccountService(pgCtx).credentials(accountId)).password, 'パスワード-secret');
  assert.equal((await new MailAccountService(pgCtx).get(accountId)).fromName, '送信 太郎');
  assert.equal((await pgCtx.db.kysely.selectFrom('deliveries').select('subject').where('bulk_id', 'is', null).executeTakeFirstOrThrow()).subject, '件名 ㈱');

  // the hash sees one changed byte
  const source = openDatabase({ dataDir: config.dataDir });
  t.after(() => source.close());
  const chunks = (await sqliteTables(source.kysely)).find((x) => x.name === 'message_chunks')!;
  const first = await pgCtx.db.kysely.selectFrom('message_chunks').selectAll().where('message_id', '=', messageIds[0]!).executeTakeFirstOrThrow();
  const changed = Buffer.from(first.data);
  changed.writeUInt8(changed.readUInt8(changed.length - 1) ^ 1, changed.length - 1);
  await pgCtx.db.kysely.updateTable('message_chunks').set({ data: changed }).where('message_id', '=', first.message_id).where('seq', '=', first.seq).execute();
  assert.notEqual((await tableHash(source.kysely, chunks)).hash, (await tableHash(pgCtx.db.kysely, chunks)).hash);
});
