// npm run bench:scale — one full receive cycle of many accounts on one Dovecot, by real
// `yubin worker` processes (dist/, as in production) sharing one PostgreSQL: with 1, 2 and 4
// workers for all accounts, and with 1/4, 1/2 and all of the accounts for one worker (cost
// should grow linearly with the accounts). A private Dovecot and PostgreSQL from the test
// harness; the accounts are made once in a template database and copied for each case
// (CREATE DATABASE … TEMPLATE), all left "not due" until the workers have started, then made
// due at once; the clock runs from there until every account has completed a run. Policy
// "leave on server", so every case receives the same mail. Prints what it measured.
//   npx tsx bench/scale.ts [ACCOUNTS=1000] [MAILS=5]    (after npm run build)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pino } from 'pino';
import { openContext, type AppContext } from '../src/services/context.ts';
import { MailAccountService } from '../src/services/mail-accounts.ts';
import { MailServerService } from '../src/services/mail-servers.ts';
import { startMailbed } from '../test/support/mailbed.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { makeMail } from '../test/support/receive-fixture.ts';

const ACCOUNTS = Number(process.argv[2] ?? 1_000);
const MAILS = Number(process.argv[3] ?? 5);
const NOT_DUE = '9999-12-31T00:00:00.000Z';
const BIN = fileURLToPath(new URL('../bin/yubin.js', import.meta.url));
const POLL_SECONDS = '0.5';

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin(url: string, statement: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

function startWorker(env: Record<string, string>): { proc: ChildProcess; ready: Promise<void> } {
  const proc = spawn(process.execPath, [BIN, 'worker'], { env: { ...process.env, YUBIN_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<void>((resolve, reject) => {
    let buf = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => {
      buf += d;
      if (buf.includes('"worker.started"')) resolve();
      if (buf.length > 1_000_000) buf = buf.slice(-1000);
    });
    proc.once('exit', (code) => reject(new Error(`worker exited (${code}) before it started`)));
  });
  return { proc, ready };
}

async function completed(ctx: AppContext): Promise<number> {
  const r = await ctx.db.kysely
    .selectFrom('mail_accounts')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('last_success_at', 'is not', null)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

const bed = await startMailbed({ sinkDump: false });
const server = await startPostgres();
const dataDir = mkdtempSync(join(tmpdir(), 'yubin-bench-scale-'));
const key = randomBytes(32);
try {
  // ---- the template: ACCOUNTS accounts with MAILS mails each ---------------------------------
  const t0 = Date.now();
  await admin(server.url, 'CREATE DATABASE yubin_tpl');
  const tplUrl = withDatabase(server.url, 'yubin_tpl');
  const tpl = await openContext({ dataDir, databaseUrl: tplUrl, secretKey: key, host: '127.0.0.1', port: 0 }, { log: pino({ level: 'silent' }) });
  const srv = await new MailServerService(tpl).add('bench', {
    name: 'dovecot',
    incoming: { protocol: 'pop3', host: '127.0.0.1', port: bed.ports.pop3, encryption: 'none' },
    outgoing: { host: '127.0.0.1', port: bed.ports.smtpSink, auth: { mechanism: null } },
  });
  const accounts = new MailAccountService(tpl);
  for (let i = 0; i < ACCOUNTS; i++) {
    const user = `b${String(i).padStart(5, '0')}`;
    await bed.addUser(user, `pw-${user}`);
    for (let m = 0; m < MAILS; m++) await bed.deliver(user, makeMail(i * 100 + m, `${user}\r\n${'x'.repeat(1_000)}\r\n`));
    await accounts.add('bench', { displayName: user, serverId: srv.id, address: `${user}@example.com`, username: user, password: `pw-${user}`, leaveOnServer: { mode: 'forever' } });
  }
  await tpl.db.kysely.updateTable('mail_accounts').set({ next_run_at: NOT_DUE }).execute();
  await tpl.close();
  console.log(`setup: ${ACCOUNTS} accounts × ${MAILS} mails (~1.2 KB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // ---- the cases ---------------------------------------------------------------------------
  const cases: { accounts: number; workers: number }[] = [
    { accounts: ACCOUNTS, workers: 1 },
    { accounts: ACCOUNTS, workers: 2 },
    { accounts: ACCOUNTS, workers: 4 },
    { accounts: Math.round(ACCOUNTS / 4), workers: 1 },
    { accounts: Math.round(ACCOUNTS / 2), workers: 1 },
  ];
  const rows: string[] = [];
  for (const [i, c] of cases.entries()) {
    const name = `yubin_case${i}`;
    await admin(server.url, `CREATE DATABASE ${name} TEMPLATE yubin_tpl`);
    const url = withDatabase(server.url, name);
    const ctx = await openContext({ dataDir, databaseUrl: url, secretKey: key, host: '127.0.0.1', port: 0 }, { log: pino({ level: 'silent' }) });
    const keep = await ctx.db.kysely.selectFrom('mail_accounts').select('id').orderBy('address_key').limit(c.accounts).execute();
    await ctx.db.kysely
      .deleteFrom('mail_accounts')
      .where(
        'id',
        'not in',
        keep.map((k) => k.id),
      )
      .execute();
    const env = { YUBIN_DATA_DIR: dataDir, YUBIN_DATABASE_URL: url, YUBIN_SECRET_KEY: key.toString('base64'), YUBIN_WORKER_POLL_SECONDS: POLL_SECONDS };
    const workers = Array.from({ length: c.workers }, () => startWorker(env));
    await Promise.all(workers.map((w) => w.ready));
    const load = loadavg()[0]!.toFixed(1);
    const start = process.hrtime.bigint();
    await ctx.db.kysely.updateTable('mail_accounts').set({ next_run_at: null }).execute();
    while ((await completed(ctx)) < c.accounts) await new Promise((r) => setTimeout(r, 50));
    const s = Number(process.hrtime.bigint() - start) / 1e9;
    const mails = Number((await ctx.db.kysely.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    for (const w of workers) w.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => new Promise((r) => (w.proc.exitCode !== null ? r(null) : w.proc.once('exit', r)))));
    await ctx.close();
    const row = `| ${c.accounts} | ${c.workers} | ${s.toFixed(1)} | ${(c.accounts / s).toFixed(1)} | ${(mails / s).toFixed(0)} | ${((s * 1000 * c.workers) / c.accounts).toFixed(0)} | ${load} |`;
    rows.push(row);
    console.log(row);
    if (mails !== c.accounts * MAILS) throw new Error(`case ${i}: ${mails} mails stored, expected ${c.accounts * MAILS}`);
  }
  console.log(`\nOne receive cycle, ${MAILS} mails per account, POP3, PostgreSQL, ${cpus().length} CPUs, worker concurrency 4, poll ${POLL_SECONDS} s:\n`);
  console.log('| accounts | workers | cycle s | accounts/s | mails/s | worker-ms per account | load at start |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
} finally {
  await server.stop();
  await bed.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
