// `yubin backup FILE` and `yubin restore FILE` for the SQLite default.
//
// Backup uses SQLite's online backup API (better-sqlite3 `backup()`). It copies every page
// in ONE step, i.e. inside one read transaction: with WAL, writers (serve, workers) go on
// meanwhile and the copy is the snapshot of the moment the step began. (Copying in small
// steps would restart from the first page whenever another process writes, and on a busy
// installation might never finish.) The copy is written next to FILE and renamed into
// place when complete.
//
// THE SECRET KEY IS NOT IN THE BACKUP. Mail account passwords in it are sealed with the
// key (secret.key in the data folder, or YUBIN_SECRET_KEY); keep the key apart from the
// backups (a stolen backup alone then reveals no password) and back it up once. Restore
// refuses a backup whose passwords the current key cannot open, unless --force.
//
// Restore validates FILE (a SQLite database that passes integrity_check, made by Yubin,
// with no migration this version does not know), refuses while a serve/worker process
// uses the data folder (process-registry.ts) unless --force, keeps the current database
// as yubin.sqlite.before-restore-<time>, and moves the restored copy into place.
import { copyFileSync, existsSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import type { AppConfig } from '../config/env.ts';
import { loadSecretKey } from '../config/secret-key.ts';
import { SecretBox } from '../config/secrets.ts';
import { AppError } from '../domain/errors.ts';
import { SQLITE_FILE_NAME } from '../store/database.ts';
import { knownMigrations } from '../store/migrate.ts';
import { runningProcesses, type RunningProcess } from './process-registry.ts';

/** "All remaining pages" for sqlite3_backup_step (better-sqlite3 takes no negative count). */
const ALL_PAGES = 0x7fffffff;

export interface BackupResult {
  file: string;
  bytes: number;
  /** the data folder's key file, which is NOT in the backup */
  keyFile: string | null;
}

function sqliteOnly(config: AppConfig, command: string): void {
  if (config.databaseUrl) throw new AppError('CONFLICT', 'ops.postgresBackup', { command });
}

/** A target the copy can be renamed to: not the live database (or its WAL), not a folder, in a folder that exists. */
function checkBackupTarget(source: string, target: string): void {
  const real = (p: string): string => (existsSync(p) ? realpathSync(p) : join(existsSync(dirname(p)) ? realpathSync(dirname(p)) : dirname(p), basename(p)));
  const live = real(source);
  if ([live, `${live}-wal`, `${live}-shm`].includes(real(target))) throw new AppError('VALIDATION', 'ops.backupOntoDatabase', { file: target });
  if (existsSync(target) && statSync(target).isDirectory()) throw new AppError('VALIDATION', 'ops.backupIsFolder', { file: target });
  if (!existsSync(dirname(target)) || !statSync(dirname(target)).isDirectory()) throw new AppError('VALIDATION', 'ops.backupNoFolder', { folder: dirname(target) });
}

export async function backupDatabase(config: AppConfig, file: string): Promise<BackupResult> {
  sqliteOnly(config, 'backup');
  const source = join(config.dataDir, SQLITE_FILE_NAME);
  if (!existsSync(source)) throw new AppError('NOT_FOUND', 'ops.noDatabase', { path: source });
  const target = resolve(file);
  checkBackupTarget(source, target);
  const partial = `${target}.partial`;
  rmSync(partial, { force: true });
  const db = new SQLite(source, { fileMustExist: true, timeout: 10_000 });
  try {
    const r = await db.backup(partial, { progress: () => ALL_PAGES });
    renameSync(partial, target);
    return { file: target, bytes: r.totalPages * (db.pragma('page_size', { simple: true }) as number), keyFile: config.secretKey ? null : join(config.dataDir, 'secret.key') };
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  } finally {
    db.close();
  }
}

export interface RestoreResult {
  file: string;
  /** where the replaced database went, if there was one */
  previous: string | null;
  migrations: string[];
}

/** The reasons FILE cannot be restored, or its migrations when it can. */
function inspectBackup(file: string, key: Buffer): { migrations: string[]; keyMatches: boolean } {
  let db: SQLite.Database;
  try {
    db = new SQLite(file, { readonly: true, fileMustExist: true });
  } catch {
    throw new AppError('VALIDATION', 'ops.notABackup', { file });
  }
  try {
    let ok: unknown;
    try {
      ok = db.pragma('integrity_check', { simple: true });
    } catch {
      throw new AppError('VALIDATION', 'ops.notABackup', { file });
    }
    if (ok !== 'ok') throw new AppError('VALIDATION', 'ops.damagedBackup', { file, detail: String(ok) });
    const tables = new Set((db.prepare(`select name from sqlite_master where type = 'table'`).all() as { name: string }[]).map((r) => r.name));
    if (!tables.has('kysely_migration') || !tables.has('mail_accounts')) throw new AppError('VALIDATION', 'ops.notABackup', { file });
    const migrations = (db.prepare('select name from kysely_migration order by name').all() as { name: string }[]).map((r) => r.name);
    const known = new Set(knownMigrations());
    const unknown = migrations.filter((m) => !known.has(m));
    if (unknown.length) throw new AppError('VALIDATION', 'ops.newerBackup', { file, migrations: unknown.join(', ') });
    const sealed = db.prepare('select password_enc from mail_accounts where password_enc is not null limit 1').get() as { password_enc: string } | undefined;
    let keyMatches = true;
    if (sealed) {
      try {
        new SecretBox(key).open(sealed.password_enc);
      } catch {
        keyMatches = false;
      }
    }
    return { migrations, keyMatches };
  } finally {
    db.close();
  }
}

export function restoreDatabase(config: AppConfig, file: string, opts: { force?: boolean; now?: Date } = {}): RestoreResult {
  sqliteOnly(config, 'restore');
  const source = resolve(file);
  if (!existsSync(source)) throw new AppError('NOT_FOUND', 'ops.noBackupFile', { file: source });
  const running: RunningProcess[] = runningProcesses(config.dataDir);
  if (running.length && !opts.force) {
    throw new AppError('CONFLICT', 'ops.restoreRunning', { processes: running.map((p) => `${p.role} (pid ${p.pid})`).join(', ') });
  }
  const { migrations, keyMatches } = inspectBackup(source, loadSecretKey(config));
  if (!keyMatches && !opts.force) throw new AppError('CONFLICT', 'ops.restoreKey');

  const target = join(config.dataDir, SQLITE_FILE_NAME);
  const incoming = `${target}.restoring`;
  copyFileSync(source, incoming);
  let previous: string | null = null;
  if (existsSync(target)) {
    // fold the WAL into the old file first, so the kept copy is complete on its own
    const old = new SQLite(target, { timeout: 10_000 });
    try {
      old.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      old.close();
    }
    previous = `${target}.before-restore-${(opts.now ?? new Date()).toISOString().replace(/[:.]/g, '-')}`;
    renameSync(target, previous);
  }
  for (const suffix of ['-wal', '-shm']) rmSync(target + suffix, { force: true });
  renameSync(incoming, target);
  return { file: target, previous, migrations };
}
