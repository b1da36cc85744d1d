// `yubin serve` as a real process: the receive scheduler picks up a new account's
// mail from Dovecot on its own, the send worker sends a single mail, the UI and the
// API answer, /metrics counts the mail, the stall monitor runs, the background checkpointer
// carries the WAL into the database file, restore refuses to run under it, and SIGTERM stops
// it cleanly; `npm start` passes a supervisor's SIGTERM on to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliArgs, runCli } from '../support/cli.ts';
import { testMailbed } from '../support/mailbed.ts';
import { makeMail } from '../support/receive-fixture.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('yubin serve receives and sends on its own, and stops on SIGTERM', async (t) => {
  const bed = await testMailbed();
  if (!bed) return t.skip('Dovecot is not installed here');
  const dir = mkdtempSync(join(tmpdir(), 'yubin-serve-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const env = { YUBIN_DATA_DIR: dir, YUBIN_LANG: 'en', PORT: String(port), HOST: '127.0.0.1', YUBIN_STALL_CHECK_SECONDS: '1' };
  const user = `s${randomBytes(4).toString('hex')}`;
  await bed.addUser(user, 'serve-password');
  for (let i = 0; i < 3; i++) await bed.deliver(user, makeMail(i));
  await runCli(['server', 'add', '--name', 'bed', '--protocol', 'imap4', '--host', '127.0.0.1', '--port', String(bed.ports.imap), '--smtp-host', '127.0.0.1', '--smtp-port', String(bed.ports.smtpSink), '--smtp-auth', 'none'], { env });
  const acc = await runCli(['account', 'add', '--json', '--display-name', 'x', '--server', 'bed', '--address', `${user}@example.com`, '--username', user, '--password-stdin', '--interval', '1'], {
    env,
    input: 'serve-password\n',
  });
  assert.equal(acc.code, 0, acc.stderr);
  const accountId = JSON.parse(acc.stdout).id;
  const token = (await runCli(['token', 'create', '--name', 'serve-test'], { env })).stdout.trim();

  const child = spawn(process.execPath, cliArgs(['serve']), {
    cwd: ROOT,
    env: { ...process.env, ...env, YUBIN_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => child.kill('SIGKILL'));
  const base = `http://127.0.0.1:${port}`;
  const h = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

  await until('healthz', async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined));
  assert.match(output, /Open this one-time setup URL/, 'no administrator yet: serve prints the setup URL');
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  const page = await fetch(`${base}/`, { headers: { accept: 'text/html' } });
  assert.match(await page.text(), /<div id="root">/);

  // the scheduler receives the new account on its own (no "receive now")
  const messages = await until('the scheduler to receive 3 mails', async () => {
    const r = (await (await fetch(`${base}/api/v1/messages?accountId=${accountId}`, { headers: h })).json()) as { items: unknown[] };
    return r.items.length === 3 ? r.items : undefined;
  });
  assert.equal(messages.length, 3);
  // a mail is deleted from the server only after it is stored, so the store can show it a moment before the deletion
  await until('the server copies to be deleted', async () => ((await bed.count(user)) === 0 ? true : undefined));

  // the send worker sends a single mail
  const created = await fetch(`${base}/api/v1/deliveries`, {
    method: 'POST',
    headers: h,
    body: JSON.stringify({ accountId, to: ['someone@example.org'], subject: 'テスト送信', text: 'こんにちは' }),
  });
  assert.equal(created.status, 201, await created.clone().text());
  const { id } = (await created.json()) as { id: string };
  const sent = await until('the delivery to be sent', async () => {
    const d = (await (await fetch(`${base}/api/v1/deliveries/${id}`, { headers: h })).json()) as { status: string };
    return d.status === 'sent' ? d : undefined;
  });
  assert.equal(sent.status, 'sent');
  // the background checkpointer runs in serve: the database file alone (no WAL) holds the sent
  // mail while serve runs (the main connection's own checkpoint waits for 32,000 pages)
  const fileOnly = join(dir, 'file-only.sqlite');
  await until('the database file to hold the sent mail', async () => {
    copyFileSync(join(dir, 'yubin.sqlite'), fileOnly);
    const copy = new SQLite(fileOnly, { readonly: true });
    try {
      const row = copy.prepare("select status from delivery_recipients where delivery_id = ?").get(id) as { status: string } | undefined;
      return row?.status === 'sent' ? true : undefined;
    } finally {
      copy.close();
    }
  });

  // /metrics (loopback, no token) counts the received mails from the database
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, new RegExp(`yubin_mails_received_total\\{account="${user}@example.com",server="bed"\\} 3`));
  // the stall monitor runs in serve: five failures recorded → stalled in the status
  const db = new SQLite(join(dir, 'yubin.sqlite'));
  db.prepare('update mail_accounts set consecutive_failures = 5, last_run_at = ? where id = ?').run(new Date().toISOString(), accountId);
  db.close();
  const stalled = await until('the monitor to mark the account stalled', async () => {
    const st = (await (await fetch(`${base}/api/v1/mail-accounts/${accountId}/status`, { headers: h })).json()) as { stalled: { reason: string } | null };
    return st.stalled ?? undefined;
  });
  assert.equal(stalled.reason, 'failures');
  // serve is registered in the data folder: restore refuses to replace the database under it
  const restore = await runCli(['restore', join(dir, 'yubin.sqlite')], { env });
  assert.equal(restore.code, 1);
  assert.match(restore.stderr, /serve \(pid \d+\)/);

  child.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
  assert.equal(code, 0, output);
  assert.deepEqual(readdirSync(join(dir, 'processes')), [], 'serve removed its record on exit');
});

test('yubin serve on a busy port says so and exits, leaving no "serve" registered (restore is not blocked by it)', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-serve-busy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  t.after(() => busy.close());
  const port = (busy.address() as { port: number }).port;
  for (const [lang, words] of [
    ['en', new RegExp(`Port ${port} on 127.0.0.1 is already in use`)],
    ['ja', new RegExp(`ポート ${port} は使用中です`)],
  ] as const) {
    const r = await runCli(['serve'], { env: { YUBIN_DATA_DIR: dir, HOST: '127.0.0.1', PORT: String(port), YUBIN_LANG: lang, YUBIN_LOG_LEVEL: 'silent' } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, words);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.deepEqual(readdirSync(join(dir, 'processes')), [], 'no process left registered');
});

test('npm start: a SIGTERM sent to npm (a supervisor stopping it) stops the server cleanly, leaving no orphan', { timeout: 60_000 }, async (t) => {
  // npm runs the start script through `sh -c`; without `exec` the shell stayed between npm and
  // node, npm's forwarded SIGTERM ended the shell only, and the server ran on as an orphan
  const dir = mkdtempSync(join(tmpdir(), 'yubin-npm-start-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    env: { ...process.env, YUBIN_DATA_DIR: dir, PORT: String(port), HOST: '127.0.0.1', YUBIN_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const base = `http://127.0.0.1:${port}`;
  await until('healthz', async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined));
  const [record] = readdirSync(join(dir, 'processes'));
  assert.ok(record, 'serve registered itself');
  const servePid = Number(/\d+/.exec(record)?.[0]);
  t.after(() => {
    try {
      process.kill(servePid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  child.kill('SIGTERM');
  assert.notEqual(await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]), 'timeout', output);
  await until('the server to exit', async () => {
    try {
      process.kill(servePid, 0);
      return undefined;
    } catch {
      return true;
    }
  }, 10_000);
  assert.deepEqual(readdirSync(join(dir, 'processes')), [], 'serve shut down cleanly and removed its record');
  await assert.rejects(fetch(`${base}/healthz`), 'nothing listens on the port any more');
});
