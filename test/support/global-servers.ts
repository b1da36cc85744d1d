// Servers shared by every test file of one `npm test` run (scripts/test.ts calls this once,
// before `node --test`): one PostgreSQL (postgres.ts) and one mailbed (mailbed.ts), started in
// parallel. Their addresses reach the test processes through the environment —
// YUBIN_TEST_PG_URL and YUBIN_TEST_MAILBED_DIR — where testDatabaseUrl() and testMailbed()
// pick them up. A variable already set by the caller is kept and that server is not started.
// A server that cannot start fails the run under CI=true; elsewhere it is left out with a
// warning (its tests then start their own or skip).
import { MAILBED_DIR_ENV, mailbedMissing, startMailbed } from './mailbed.ts';
import { isCI, PG_TEST_URL_ENV, postgresInstalled, startPostgres } from './postgres.ts';

export interface GlobalServers {
  env: Record<string, string>;
  stop(): Promise<void>;
}

interface Started {
  env: Record<string, string>;
  stop(): Promise<void>;
}

async function startPg(): Promise<Started | undefined> {
  if (process.env[PG_TEST_URL_ENV]) return undefined;
  if (!postgresInstalled() && !isCI()) {
    console.warn('test servers: PostgreSQL not installed; PostgreSQL tests will be skipped');
    return undefined;
  }
  const pg = await startPostgres();
  return { env: { [PG_TEST_URL_ENV]: pg.url }, stop: () => pg.stop() };
}

async function startMail(): Promise<Started | undefined> {
  if (process.env[MAILBED_DIR_ENV]) return undefined;
  const missing = mailbedMissing();
  if (missing && !isCI()) {
    console.warn(`test servers: ${missing}; mail-server tests will be skipped`);
    return undefined;
  }
  const bed = await startMailbed();
  return { env: { [MAILBED_DIR_ENV]: bed.dir }, stop: () => bed.stop() };
}

export async function startGlobalServers(): Promise<GlobalServers> {
  const names = ['PostgreSQL', 'mailbed'];
  const results = await Promise.allSettled([startPg(), startMail()]);
  const started: Started[] = [];
  const failures: string[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') {
      if (r.value) started.push(r.value);
    } else {
      failures.push(`${names[i]}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
    }
  });
  const stopAll = async (): Promise<void> => {
    const stops = await Promise.allSettled(started.map((s) => s.stop()));
    for (const s of stops) if (s.status === 'rejected') console.warn(`test servers: stop failed: ${String(s.reason)}`);
  };
  if (failures.length > 0) {
    if (isCI()) {
      await stopAll();
      throw new Error(`test servers did not start (CI=true):\n${failures.join('\n')}`);
    }
    for (const f of failures) console.warn(`test servers: could not start ${f}`);
  }
  return { env: Object.assign({}, ...started.map((s) => s.env)) as Record<string, string>, stop: stopAll };
}
