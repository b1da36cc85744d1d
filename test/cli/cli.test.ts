// The CLI end to end: a real child process on a temporary SQLite data folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli.ts';

test('server and account commands go through the same validation and store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { YUBIN_DATA_DIR: dir, LANG: 'ja_JP.UTF-8', YUBIN_LANG: undefined };

  const list = await runCli(['server', 'list', '--json'], { env });
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(
    JSON.parse(list.stdout).items.map((s: { name: string }) => s.name),
    ['Gmail', 'Exchange Online'],
  );
  assert.equal(statSync(join(dir, 'secret.key')).mode & 0o777, 0o600);

  const add = await runCli(
    ['server', 'add', '--json', '--name', 'Example ISP', '--protocol', 'pop3', '--host', 'pop.example.com', '--encryption', 'tls', '--smtp-host', 'smtp.example.com', '--smtp-encryption', 'tls', '--per-minute-limit', '60'],
    { env },
  );
  assert.equal(add.code, 0, add.stderr);
  const server = JSON.parse(add.stdout);
  assert.equal(server.incoming.port, 995);
  assert.equal(server.outgoing.port, 465);
  assert.equal(server.outgoing.perMinuteLimit, 60);

  // bad input: exit 2, message on stderr names the field in Japanese, nothing stored
  const bad = await runCli(['server', 'add', '--name', 'x', '--protocol', 'imap4', '--host', 'imap.example.com', '--port', '110x', '--smtp-host', 's.example.com'], { env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /受信メールサーバーのポート番号/);
  const badEn = await runCli(['server', 'add', '--name', 'example isp', '--protocol', 'imap4', '--host', 'imap.example.com', '--smtp-host', 's.example.com'], {
    env: { ...env, YUBIN_LANG: 'en' },
  });
  assert.equal(badEn.code, 2);
  assert.match(badEn.stderr, /already exists/);
  const after = JSON.parse((await runCli(['server', 'list', '--json'], { env })).stdout);
  assert.equal(after.items.length, 3);

  const acc = await runCli(
    ['account', 'add', '--json', '--display-name', 'Support', '--server', 'example isp', '--address', 'support@example.com', '--username', 'support', '--password-stdin', '--leave', 'days:14'],
    { env, input: 'very-secret-pw\n' },
  );
  assert.equal(acc.code, 0, acc.stderr);
  const account = JSON.parse(acc.stdout);
  assert.deepEqual(account.leaveOnServer, { mode: 'days', days: 14 });
  assert.equal(account.hasPassword, true);
  assert.ok(!acc.stdout.includes('very-secret-pw'));

  const show = await runCli(['account', 'show', 'support@example.com', '--json'], { env });
  assert.equal(JSON.parse(show.stdout).id, account.id);

  const inUse = await runCli(['server', 'delete', 'Example ISP'], { env });
  assert.equal(inUse.code, 1);
  assert.match(inUse.stderr, /support@example\.com/);

  const reorderBad = await runCli(['server', 'reorder', 'Gmail', 'Example ISP'], { env });
  assert.equal(reorderBad.code, 2);
  assert.match(reorderBad.stderr, /GmailとExchange Online/);

  assert.equal((await runCli(['account', 'delete', 'support@example.com'], { env })).code, 0);
  assert.equal((await runCli(['server', 'delete', 'Example ISP'], { env })).code, 0);

  const audit = JSON.parse((await runCli(['audit', '--json'], { env })).stdout);
  assert.deepEqual(
    audit.items.map((e: { action: string }) => e.action),
    ['mail_server.delete', 'mail_account.delete', 'mail_account.add', 'mail_server.add'],
  );
  assert.ok(!JSON.stringify(audit).includes('very-secret-pw'));
});

test('admin create and tokens', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { YUBIN_DATA_DIR: dir, YUBIN_LANG: 'en' };
  const short = await runCli(['admin', 'create', '--username', 'root', '--password-stdin'], { env, input: 'short\n' });
  assert.equal(short.code, 2);
  assert.match(short.stderr, /Password/);
  const ok = await runCli(['admin', 'create', '--username', 'root', '--password-stdin', '--json'], { env, input: 'long enough password\n' });
  assert.equal(ok.code, 0, ok.stderr);
  const tok = await runCli(['token', 'create', '--name', 'ci'], { env });
  assert.equal(tok.code, 0, tok.stderr);
  assert.match(tok.stdout.trim(), /^ybn_[A-Za-z0-9_-]{43}$/);
  const dup = await runCli(['token', 'create', '--name', 'ci'], { env });
  assert.equal(dup.code, 1);
  assert.equal((await runCli(['token', 'revoke', '--name', 'ci'], { env })).code, 0);
  const list = JSON.parse((await runCli(['token', 'list', '--json'], { env })).stdout);
  assert.ok(list.items[0].revokedAt);
  assert.ok(!JSON.stringify(list).includes(tok.stdout.trim()));
});

test('a bad environment value stops the command and names the variable', async () => {
  const r = await runCli(['server', 'list'], { env: { YUBIN_DATA_DIR: tmpdir(), YUBIN_DATABASE_URL: 'mysql://x', PORT: '1' } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /YUBIN_DATABASE_URL/);
});
