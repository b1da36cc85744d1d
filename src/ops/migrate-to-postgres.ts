// `yubin migrate-to-postgres URL`: copy every table of the SQLite data folder into an
// empty PostgreSQL database, in one PostgreSQL transaction (a failure leaves it empty),
// then prove the copy: per table, the row count and a content hash computed the same way
// on both sides.
//
// The target is migrated first (a newly created database is fine); it counts as empty when
// no table has rows except the preset mail servers that migration 0001 inserts — those
// are replaced by the source's own. Tables are copied parents first (from SQLite's foreign
// keys) in batches, read by primary key. The hash of a table is the SHA-256 of its rows'
// SHA-256 digests, sorted, so that it does not depend on either engine's collation order;
// a row's digest covers every column with its type (NULL, text, integer, bytes).
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { AppConfig } from '../config/env.ts';
import { AppError } from '../domain/errors.ts';
import { openDatabase, type Db } from '../store/database.ts';
import { migrateToLatest, pendingMigrations } from '../store/migrate.ts';
import type { Database } from '../store/schema.ts';
import { runningProcesses } from './process-registry.ts';

/** Rows per read and per INSERT (PostgreSQL takes at most 65,535 parameters per statement). */
export const COPY_BATCH_ROWS = 500;
/** Tables with bytes (mail chunks of up to 256 KB) go in smaller batches. */
export const COPY_BATCH_ROWS_WITH_BLOBS = 32;

// Kysely's table types cannot name a table chosen at run time
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;
type Row = Record<string, unknown>;

export interface TableInfo {
  name: string;
  columns: string[];
  /** primary key columns, in key order (all columns when there is none) */
  key: string[];
  hasBlobs: boolean;
}

export interface TableCheck {
  table: string;
  sourceRows: number;
  targetRows: number;
  sourceHash: string;
  targetHash: string;
  ok: boolean;
}

export interface CopyProgress {
  phase: 'copying' | 'verifying';
  table: string;
  done: number;
  total: number;
}

const SKIP = new Set(['kysely_migration', 'kysely_migration_lock']);

/** The source's tables, parents before children. */
export async function sqliteTables(db: Kysely<Database>): Promise<TableInfo[]> {
  const names = (await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`.execute(db)).rows
    .map((r) => r.name)
    .filter((n) => !SKIP.has(n));
  const infos = new Map<string, TableInfo & { parents: string[] }>();
  for (const name of names) {
    const cols = (await sql<{ name: string; pk: number; type: string }>`select name, pk, type from pragma_table_info(${name})`.execute(db)).rows;
    const parents = (await sql<{ table: string }>`select "table" from pragma_foreign_key_list(${name})`.execute(db)).rows.map((r) => r.table).filter((p) => p !== name);
    const key = cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    infos.set(name, { name, columns: cols.map((c) => c.name), key: key.length ? key : cols.map((c) => c.name), hasBlobs: cols.some((c) => /blob/i.test(c.type)), parents });
  }
  const ordered: TableInfo[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name) || !infos.has(name)) return;
    seen.add(name);
    const { parents, ...info } = infos.get(name)!;
    for (const p of parents) visit(p);
    ordered.push(info);
  };
  for (const name of names) visit(name);
  return ordered;
}

const id = (name: string) => sql.id(name);

/** Rows of `table` after `after` (by key), in key order: keyset pages, no OFFSET. */
async function page(db: AnyDb, t: TableInfo, after: Row | undefined, limit: number): Promise<Row[]> {
  const keyList = sql.join(t.key.map(id));
  const where = after ? sql`where (${keyList}) > (${sql.join(t.key.map((k) => after[k]))})` : sql``;
  return (await sql<Row>`select ${sql.join(t.columns.map(id))} from ${id(t.name)} ${where} order by ${keyList} limit ${limit}`.execute(db)).rows;
}

async function* rowsOf(db: AnyDb, t: TableInfo): AsyncGenerator<Row[]> {
  const limit = t.hasBlobs ? COPY_BATCH_ROWS_WITH_BLOBS : Math.min(COPY_BATCH_ROWS, Math.floor(30_000 / Math.max(1, t.columns.length)));
  let after: Row | undefined;
  for (;;) {
    const rows = await page(db, t, after, limit);
    if (rows.length === 0) return;
    yield rows;
    after = rows[rows.length - 1];
    if (rows.length < limit) return;
  }
}

/** One row's digest: every column in order, tagged with its kind, so '1' and 1 and NULL differ. */
function rowDigest(t: TableInfo, row: Row): string {
  const h = createHash('sha256');
  for (const c of t.columns) {
    const v = row[c];
    if (v === null || v === undefined) h.update('N;');
    else if (Buffer.isBuffer(v) || v instanceof Uint8Array) h.update(`B${v.length}:`).update(v).update(';');
    else if (typeof v === 'number' || typeof v === 'bigint') h.update(`I${String(v)};`);
    else {
      const s = String(v);
      h.update(`S${Buffer.byteLength(s)}:`).update(s).update(';');
    }
  }
  return h.digest('hex');
}

export async function tableHash(db: AnyDb, t: TableInfo, onRows?: (n: number) => void): Promise<{ rows: number; hash: string }> {
  const digests: string[] = [];
  for await (const rows of rowsOf(db, t)) {
    for (const r of rows) digests.push(rowDigest(t, r));
    onRows?.(rows.length);
  }
  digests.sort();
  return { rows: digests.length, hash: createHash('sha256').update(digests.join('\n')).digest('hex') };
}

async function count(db: AnyDb, table: string): Promise<number> {
  const r = await sql<{ n: number | string }>`select count(*) as n from ${id(table)}`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

/** Tables of the target that hold rows a fresh migration would not have put there. */
async function nonEmptyTables(db: AnyDb, tables: TableInfo[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of tables) {
    if (t.name === 'mail_servers') {
      const r = await sql<{ n: number | string }>`select count(*) as n from mail_servers where preset is null`.execute(db);
      if (Number(r.rows[0]?.n ?? 0) > 0) out.push(t.name);
    } else if ((await count(db, t.name)) > 0) out.push(t.name);
  }
  return out;
}

export async function migrateToPostgres(config: AppConfig, url: string, onProgress?: (p: CopyProgress) => void): Promise<TableCheck[]> {
  if (config.databaseUrl) throw new AppError('CONFLICT', 'ops.sqliteSource');
  // a copy made while serve or a worker writes would mix moments: the data folder must be quiet
  const running = runningProcesses(config.dataDir);
  if (running.length) throw new AppError('CONFLICT', 'ops.restoreRunning', { processes: running.map((p) => `${p.role} (pid ${p.pid})`).join(', ') });
  const source = openDatabase({ dataDir: config.dataDir });
  let target: Db | undefined;
  try {
    const pending = await pendingMigrations(source);
    if (pending.length) throw new AppError('CONFLICT', 'ops.sourcePending', { pending: pending.join(', ') });
    target = openDatabase({ dataDir: config.dataDir, databaseUrl: url });
    await migrateToLatest(target);
    const tables = await sqliteTables(source.kysely);
    const busy = await nonEmptyTables(target.kysely, tables);
    if (busy.length) throw new AppError('CONFLICT', 'ops.targetNotEmpty', { tables: busy.join(', ') });

    const counts = new Map<string, number>();
    for (const t of tables) counts.set(t.name, await count(source.kysely, t.name));
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    let done = 0;
    await target.transaction(async (trx: Transaction<Database>) => {
      // the presets come from the source, with its ids and its settings
      await trx.deleteFrom('mail_servers').execute();
      for (const t of tables) {
        onProgress?.({ phase: 'copying', table: t.name, done, total });
        for await (const rows of rowsOf(source.kysely, t)) {
          await (trx as unknown as AnyDb).insertInto(t.name).values(rows).execute();
          done += rows.length;
          onProgress?.({ phase: 'copying', table: t.name, done, total });
        }
      }
    });

    const checks: TableCheck[] = [];
    done = 0;
    for (const t of tables) {
      const progress = (n: number) => {
        done += n;
        onProgress?.({ phase: 'verifying', table: t.name, done, total: total * 2 });
      };
      const a = await tableHash(source.kysely, t, progress);
      const b = await tableHash(target.kysely, t, progress);
      checks.push({ table: t.name, sourceRows: a.rows, targetRows: b.rows, sourceHash: a.hash, targetHash: b.hash, ok: a.rows === b.rows && a.hash === b.hash });
    }
    return checks;
  } finally {
    await source.close();
    await target?.close();
  }
}
