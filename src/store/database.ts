// Opens the database: SQLite (better-sqlite3, WAL) in the data folder by default,
// PostgreSQL (pg) when YUBIN_DATABASE_URL is set. Both behind one Kysely<Database>:
// the rest of the code never asks which engine it runs on, except where a query
// needs engine-specific locking (see `dialect`).
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase, type Transaction } from 'kysely';
import { createRequire } from 'node:module';
import type { Database } from './schema.ts';
import { ensureDataDir } from '../config/data-dir.ts';
import { SAFETY_NET_AUTOCHECKPOINT, startCheckpointer } from './sqlite-checkpointer.ts';

export type DialectName = 'sqlite' | 'postgres';

export interface Db {
  kysely: Kysely<Database>;
  dialect: DialectName;
  /** Run `fn` in a transaction; on SQLite, retried when another writer holds the lock. */
  transaction<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T>;
  /**
   * SQLite only: a raw statement straight on the connection, synchronously — for the hot
   * paths of a write transaction that holds the connection (Kysely's per-query layers of
   * promises cost more there than the statements, and V8 compiled them again into every
   * caller). Never outside such a transaction: it would run in another caller's.
   */
  sqliteQuery?: (<R>(sql: string, params: readonly unknown[]) => { rows: R[] }) | undefined;
  close(): Promise<void>;
}

/** How often a SQLite write transaction is retried after SQLITE_BUSY. */
export const SQLITE_BUSY_RETRIES = 100;

function isBusy(err: unknown): boolean {
  return typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('SQLITE_BUSY');
}

/**
 * SQLite refuses a read→write upgrade at once (SQLITE_BUSY, no busy-timeout wait)
 * when another connection is writing: the whole transaction is run again after a
 * short random pause. BEGIN IMMEDIATE would wait inside better-sqlite3 and block
 * the event loop instead.
 */
async function sqliteTransaction<T>(kysely: Kysely<Database>, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await kysely.transaction().execute(fn);
    } catch (err) {
      if (!isBusy(err) || attempt >= SQLITE_BUSY_RETRIES) throw err;
      await new Promise((r) => setTimeout(r, 2 + Math.random() * Math.min(100, 5 * (attempt + 1))));
    }
  }
}

export const SQLITE_FILE_NAME = 'yubin.sqlite';
/** How long SQLite waits for another process's write lock before SQLITE_BUSY. */
export const SQLITE_BUSY_TIMEOUT = 10_000;

/** Prepared SQLite statements kept for reuse (most recently used). */
export const SQLITE_STATEMENT_CACHE = 200;

/**
 * Kysely prepares every query anew; parsing and planning the same SQL again costs more than
 * running it on a hot path (the send worker's claim and status queries, thousands a second).
 * better-sqlite3 statements are reusable, and nothing here iterates one while running it
 * again (no `.stream()`), so identical SQL gets the same statement.
 */
function withStatementCache(sqlite: SQLite.Database): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(source: string) {
      let stmt = cache.get(source);
      if (stmt) {
        cache.delete(source);
      } else {
        stmt = sqlite.prepare(source);
        if (cache.size >= SQLITE_STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
      }
      cache.set(source, stmt);
      return stmt;
    },
  };
}

/** PostgreSQL: how long a new connection may take (also a wait for a free pooled one). */
export const PG_CONNECT_TIMEOUT_MS = 20_000;

export interface OpenDatabaseOptions {
  databaseUrl?: string | undefined;
  dataDir: string;
  /** SQLite: WAL checkpoints in a background thread (long-running processes: serve, worker), see sqlite-checkpointer.ts */
  backgroundCheckpoint?: boolean | undefined;
  /** where the background checkpointer reports an error */
  onCheckpointError?: ((message: string) => void) | undefined;
}

export function openDatabase(opts: OpenDatabaseOptions): Db {
  if (opts.databaseUrl) {
    // loaded only when PostgreSQL is configured: the SQLite default stays lighter
    const pg = createRequire(import.meta.url)('pg') as typeof import('pg');
    // a server that accepts the connection but never answers: an error after PG_CONNECT_TIMEOUT_MS, not a hang
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS });
    // A client's error (server restart, dropped connection) must not crash the process:
    // the pool reports idle clients' errors, and every client gets its own listener for
    // the moments it is checked out between two queries (inside a transaction). Its next
    // query then fails, and the pool discards it when it is released.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { kysely, dialect: 'postgres', transaction: (fn) => kysely.transaction().execute(fn), close: () => kysely.destroy() };
  }
  ensureDataDir(opts.dataDir);
  const sqlite = new SQLite(join(opts.dataDir, SQLITE_FILE_NAME), { timeout: SQLITE_BUSY_TIMEOUT });
  // 16 KiB pages: a typical 10 KB mail fits one page instead of a chain of overflow
  // pages (takes effect when the file is created)
  sqlite.pragma('page_size = 16384');
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  // statement journals (a multi-row write inside a transaction: the send worker's claims
  // and results) in memory, not in a temp file once they pass 64 KiB (four pages): that
  // file cost a 16 KiB write per changed page, about one per sent mail
  sqlite.pragma('temp_store = MEMORY');
  // checkpoint the WAL every 8000 pages (128 MB) rather than every 1000: receiving and
  // sending write a lot; with a background checkpointer only as a safety net
  const file = join(opts.dataDir, SQLITE_FILE_NAME);
  const checkpointer = opts.backgroundCheckpoint ? startCheckpointer(file, { onError: opts.onCheckpointError }) : undefined;
  sqlite.pragma(`wal_autocheckpoint = ${checkpointer ? SAFETY_NET_AUTOCHECKPOINT : 8000}`);
  const statements = withStatementCache(sqlite);
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: statements }) });
  return {
    kysely,
    dialect: 'sqlite',
    transaction: (fn) => sqliteTransaction(kysely, fn),
    sqliteQuery: <R>(text: string, params: readonly unknown[]) => {
      const stmt = statements.prepare(text) as SQLite.Statement;
      if (stmt.reader) return { rows: stmt.all(params) as R[] };
      stmt.run(params);
      return { rows: [] };
    },
    close: async () => {
      await checkpointer?.stop();
      await kysely.destroy();
    },
  };
}
