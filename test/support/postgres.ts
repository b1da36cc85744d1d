// A real PostgreSQL 15 for tests. startPostgres() copies a cached initdb'ed cluster into a
// fresh folder under /tmp and runs pg_ctl on a free 127.0.0.1 port (trust auth, fsync off:
// the data is thrown away), as the unprivileged `postgres` OS user when we are root, because
// PostgreSQL refuses to run as root. testDatabaseUrl() gives each caller a fresh, uniquely
// named database on the server named by YUBIN_TEST_PG_URL (started once per `npm test` by
// global-servers.ts), or else on one started for this process. A detached reaper stops the
// server and removes its folder if this process dies without calling stop().
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

export const PG_TEST_URL_ENV = 'YUBIN_TEST_PG_URL';
const PG_BIN = process.env.YUBIN_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const PG_OS_USER = 'postgres';
const PG_SUPERUSER = 'postgres';
const START_ATTEMPTS = 3;
const INITDB_ARGS = ['-U', PG_SUPERUSER, '--auth=trust', '--no-sync', '--no-instructions', '-E', 'UTF8', '--locale=C'];
const PG_CTL_TIMEOUT_SECONDS = 30;

const run = promisify(execFile);

export interface PostgresServer {
  /** Superuser URL of the `postgres` database, e.g. postgres://postgres@127.0.0.1:40123/postgres */
  url: string;
  /**
   * Crash it (pg_ctl -m immediate: every connection dropped, no clean shutdown) and start it
   * again on the same port and data. Only for a server of your own (startPostgres()), never
   * the one the suite shares; start it with `crashSafe` or committed transactions may be lost.
   */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Thrown when the PostgreSQL binaries are not installed. */
export class PostgresUnavailableError extends Error {}

export function isCI(): boolean {
  return process.env.CI === 'true' || process.env.CI === '1';
}

export function postgresInstalled(): boolean {
  return existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl'));
}

/** Command prefix that runs a PostgreSQL binary as an OS user it accepts. */
function asPgUser(bin: string, args: string[]): [string, string[]] {
  const path = join(PG_BIN, bin);
  return process.getuid?.() === 0 ? ['runuser', ['-u', PG_OS_USER, '--', path, ...args]] : [path, args];
}

function osIds(user: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** A port the kernel just handed out and we released again (retried if lost to a race). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * A detached shell that waits for EOF on a pipe only we hold: if this process dies (even by
 * SIGKILL) the pipe closes and the shell runs `cleanup`; stop() writes a line and it exits.
 */
function startReaper(cleanup: string): ChildProcess {
  const child = spawn('sh', ['-c', `if read -r _; then exit 0; fi; ${cleanup}`], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return child;
}

function dismissReaper(reaper: ChildProcess): void {
  reaper.stdin?.end('done\n');
}

interface OwnedPostgres extends PostgresServer {
  /** For process 'exit' handlers, which cannot await. */
  stopSync(): void;
}

/** The OS user the cluster belongs to: `postgres` when we are root, else ourselves. */
function pgOwner(): { uid: number; gid: number } {
  if (process.getuid?.() === 0) return osIds(PG_OS_USER);
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

/**
 * A freshly initdb'ed cluster kept in /tmp and copied for each server: initdb takes 1-3 s,
 * a copy 0.1 s. Keyed by the binaries and the initdb arguments; built in a private folder
 * and renamed into place, so parallel first starts never see half a cluster. A cache folder
 * someone else owns is not trusted: then a private one is built and `temporary` is set.
 */
async function clusterTemplate(owner: { uid: number; gid: number }): Promise<{ path: string; temporary: boolean }> {
  const bin = statSync(join(PG_BIN, 'postgres'));
  const key = createHash('sha256').update(`${PG_BIN}\0${bin.size}\0${bin.mtimeMs}\0${INITDB_ARGS.join(' ')}`).digest('hex').slice(0, 12);
  const cache = `/tmp/yubin-pg-template-${owner.uid}-${key}`;
  const usable = (): boolean => {
    try {
      const st = statSync(cache);
      return st.uid === owner.uid && (st.mode & 0o022) === 0 && existsSync(join(cache, 'data', 'PG_VERSION'));
    } catch {
      return false;
    }
  };
  if (usable()) return { path: cache, temporary: false };
  const building = mkdtempSync(`${cache}.tmp-`);
  try {
    chownSync(building, owner.uid, owner.gid);
    const [cmd, args] = asPgUser('initdb', ['-D', join(building, 'data'), ...INITDB_ARGS]);
    await run(cmd, args, { cwd: building });
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    throw err;
  }
  try {
    renameSync(building, cache);
    return { path: cache, temporary: false };
  } catch {
    // another process put its copy in place first, or a stranger holds the name
    if (!usable()) return { path: building, temporary: true };
    rmSync(building, { recursive: true, force: true });
    return { path: cache, temporary: false };
  }
}

export interface StartPostgresOptions {
  /**
   * Commits acknowledged only once their WAL is written out (synchronous_commit=on), so they
   * survive restart()'s crash. Off by default for speed: with synchronous_commit=off an
   * immediate shutdown can lose a transaction the client saw committed, which a crash test
   * would then blame on Yubin.
   */
  crashSafe?: boolean;
}

/** Start a fresh PostgreSQL server; stop() stops it and deletes its files. */
export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresServer> {
  return launch(opts);
}

async function launch(opts: StartPostgresOptions = {}): Promise<OwnedPostgres> {
  if (!postgresInstalled()) throw new PostgresUnavailableError(`PostgreSQL not installed (no ${PG_BIN}/initdb)`);
  const dir = mkdtempSync('/tmp/ypg-');
  const data = join(dir, 'data');
  const log = join(dir, 'postgres.log');
  const [ctlCmd, stopArgs] = asPgUser('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  const reaper = startReaper(
    `${[ctlCmd, ...stopArgs].map(shellQuote).join(' ')} >/dev/null 2>&1; rm -rf ${shellQuote(dir)}`,
  );
  try {
    const owner = pgOwner();
    chownSync(dir, owner.uid, owner.gid);
    const template = await clusterTemplate(owner);
    // cp -a keeps the owner and the 0700 mode PostgreSQL insists on
    await run('cp', ['-a', join(template.path, 'data'), data]);
    if (template.temporary) rmSync(template.path, { recursive: true, force: true });
    let lastError: unknown;
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      const port = await freePort();
      const options = [
        '-c listen_addresses=127.0.0.1', `-p ${port}`, `-k ${dir}`,
        '-c fsync=off', `-c synchronous_commit=${opts.crashSafe ? 'on' : 'off'}`, '-c full_page_writes=off', '-c max_connections=300',
      ].join(' ');
      const [cmd, args] = asPgUser('pg_ctl', ['-D', data, '-l', log, '-w', '-t', String(PG_CTL_TIMEOUT_SECONDS), '-o', options, 'start']);
      try {
        await run(cmd, args, { cwd: dir });
      } catch (err) {
        lastError = err;
        continue; // most likely the port was taken between freePort() and bind: try another
      }
      const url = `postgres://${PG_SUPERUSER}@127.0.0.1:${port}/postgres`;
      const [c, a] = asPgUser('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      let stopped = false;
      return {
        url,
        async restart() {
          await run(ctlCmd, stopArgs, { cwd: dir });
          await run(cmd, args, { cwd: dir });
        },
        async stop() {
          if (stopped) return;
          stopped = true;
          try {
            await run(c, a, { cwd: dir });
          } finally {
            rmSync(dir, { recursive: true, force: true });
            dismissReaper(reaper);
          }
        },
        stopSync() {
          if (stopped) return;
          stopped = true;
          try {
            execFileSync(ctlCmd, stopArgs, { cwd: dir, stdio: 'ignore' });
          } finally {
            rmSync(dir, { recursive: true, force: true });
            if (reaper.pid) process.kill(reaper.pid);
          }
        },
      };
    }
    const logText = existsSync(log) ? readFileSync(log, 'utf8') : '';
    throw new Error(`PostgreSQL did not start: ${String(lastError)}\n${logText}`);
  } catch (err) {
    // reaper runs the cleanup as soon as its pipe closes
    reaper.stdin?.destroy();
    throw err;
  }
}

let ownServer: Promise<OwnedPostgres> | undefined;
let dbCounter = 0;

/**
 * URL of a fresh, empty database for one test, or undefined when PostgreSQL is not installed
 * (outside CI) so the caller can `t.skip('PostgreSQL not installed')`. With CI=true a missing
 * PostgreSQL is an error: the suite must fail, not skip.
 */
export async function testDatabaseUrl(): Promise<string | undefined> {
  let adminUrl = process.env[PG_TEST_URL_ENV];
  if (!adminUrl) {
    if (!postgresInstalled()) {
      if (isCI()) throw new PostgresUnavailableError(`CI=true but PostgreSQL is not installed (no ${PG_BIN}/initdb)`);
      return undefined;
    }
    ownServer ??= launch().then((server) => {
      process.once('exit', () => server.stopSync());
      return server;
    });
    adminUrl = (await ownServer).url;
  }
  const name = `yubin_t${process.pid}_${++dbCounter}_${Math.random().toString(36).slice(2, 8)}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
