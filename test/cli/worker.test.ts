// `yubin worker` as a real process on its embedded SQLite: the receive scheduler takes a new
// account's mail from Dovecot, the send worker sends a queued bulk delivery to smtp-sink, the
// stall monitor marks a failing account, the background checkpointer carries the WAL into the
// database file while it runs (the main connection's own checkpoint waits for 32,000 pages),
// and SIGTERM stops it with exit 0 and its process record removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli.ts';
import { testMailbed } from '../support/mailbed.ts';
import { makeMail } from '../support/receive-fixture.ts';
import { startWorker } from '../support/worker-process.ts';

const BULK = 40;

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await Promise.resolve()
      .then(fn)
      .catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One query on the live database (WAL and all), read-only. */
function query<T>(file: string, sql: string, ...params: unknown[]): T {
  const db = new SQLite(file, { readonly: true });
  try {
    return db.prepare(sql).get(...params) as T;
  } finally {
    db.close();
  }
}

test('yubin worker receives, sends a bulk delivery, marks a stalled account, checkpoints in the background and stops on SIGTERM', async (t) => {
  const bed = await testMailbed();
  if (!bed) return t.skip('Dovecot is not installed here');
  const dir = mkdtempSync(join(tmpdir(), 'yubin-worker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'yubin.sqlite');
  const env = { YUBIN_DATA_DIR: dir, YUBIN_LANG: 'en', YUBIN_STALL_CHECK_SECONDS: '1', YUBIN_WORKER_POLL_SECONDS: '0.2' };
  const user = `w${randomBytes(4).toString('hex')}`;
  await bed.addUser(user, 'worker-password');
  for (let i = 0; i < 3; i++) await bed.deliver(user, makeMail(i));
  const server = await runCli(['server', 'add', '--name', 'bed', '--protocol', 'imap4', '--host', '127.0.0.1', '--port', String(bed.ports.imap), '--smtp-host', '127.0.0.1', '--smtp-port', String(bed.ports.smtpSink), '--smtp-auth', 'none'], { env });
  assert.equal(server.code, 0, server.stderr);
  const acc = await runCli(['account', 'add', '--json', '--display-name', 'x', '--server', 'bed', '--address', `${user}@example.com`, '--username', user, '--password-stdin', '--interval', '1'], {
    env,
    input: 'worker-password\n',
  });
  assert.equal(acc.code, 0, acc.stderr);
  const accountId = JSON.parse(acc.stdout).id as string;
  // queued before the worker starts, sent by it alone
  const csv = join(dir, 'members.csv');
  writeFileSync(csv, ['email,name', ...Array.from({ length: BULK }, (_, i) => `m${i}@example.org,Member ${i}`)].join('\n'));
  const bulk = await runCli(['bulk', 'create', '--json', '--account', `${user}@example.com`, '--csv', csv, '--subject', 'Hello {{name}}', '--text', 'Dear {{name}}'], { env });
  assert.equal(bulk.code, 0, bulk.stderr);
  const bulkId = JSON.parse(bulk.stdout).id as string;

  const worker = startWorker('cli', env);
  t.after(() => worker.kill('SIGKILL'));
  await worker.ready;

  await until('the worker to receive 3 mails', () => (query<{ n: number }>(file, 'select count(*) as n from messages where account_id = ?', accountId).n === 3 ? true : undefined));
  await until('the server copies to be deleted', async () => ((await bed.count(user)) === 0 ? true : undefined));
  await until('the bulk delivery to be done', () => (query<{ status: string }>(file, 'select status from bulk_deliveries where id = ?', bulkId).status === 'done' ? true : undefined));
  const sent = query<{ n: number }>(file, "select count(*) as n from delivery_recipients where bulk_id = ? and status = 'sent'", bulkId);
  assert.equal(sent.n, BULK);

  // the database file alone (no WAL) already holds it: a checkpoint ran while the worker runs
  const copy = join(dir, 'file-only.sqlite');
  const checkpointed = await until('the database file to hold the sent bulk delivery', () => {
    copyFileSync(file, copy);
    const n = query<{ n: number }>(copy, "select count(*) as n from delivery_recipients where bulk_id = ? and status = 'sent'", bulkId).n;
    return n === BULK ? n : undefined;
  });
  assert.equal(checkpointed, BULK);

  // the stall monitor runs in the worker: five failures recorded → the account is stalled
  const db = new SQLite(file);
  db.prepare('update mail_accounts set consecutive_failures = 5, last_run_at = ? where id = ?').run(new Date().toISOString(), accountId);
  db.close();
  const stall = await until('the monitor to mark the account stalled', () => query<{ reason: string } | undefined>(file, 'select reason from account_stalls where account_id = ?', accountId));
  assert.equal(stall.reason, 'failures');

  worker.kill('SIGTERM');
  const exit = await Promise.race([worker.exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
  assert.deepEqual(exit, { code: 0, signal: null }, JSON.stringify(worker.logs.slice(-5)));
  assert.deepEqual(readdirSync(join(dir, 'processes')), [], 'the worker removed its record on exit');
});
