// yubin doctor: configuration, database, migrations and each account's last receive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { runCli } from '../support/cli.ts';

test('doctor reports pending migrations, then a failing account, with exit code 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-doctor-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { YUBIN_DATA_DIR: dir, YUBIN_LANG: 'en' };

  const fresh = await runCli(['doctor', '--json'], { env });
  assert.equal(fresh.code, 1);
  const freshChecks = JSON.parse(fresh.stdout).checks;
  assert.equal(freshChecks.find((c: { check: string }) => c.check === 'migrations').ok, false);

  assert.equal((await runCli(['migrate'], { env })).code, 0);
  const clean = await runCli(['doctor'], { env });
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /ok {3}migrations: current/);
  // without YUBIN_LANG the lines a person reads are Japanese (the UI's OK/NG); --json stays English for scripts
  const ja = { YUBIN_DATA_DIR: dir, LANG: 'ja_JP.UTF-8', LC_ALL: undefined, YUBIN_LANG: undefined };
  const cleanJa = await runCli(['doctor'], { env: ja });
  assert.equal(cleanJa.code, 0, cleanJa.stderr);
  assert.match(cleanJa.stdout, /^OK 設定: SQLite（データフォルダー: .+）\nOK データベース: 接続できます \(sqlite\)\nOK マイグレーション: 最新です\nOK 秘密鍵: データフォルダーの secret\.key を使用\n$/);

  // an account whose server refuses connections: the receive run fails, doctor says so
  await runCli(['server', 'add', '--name', 'dead', '--protocol', 'pop3', '--host', '127.0.0.1', '--port', '1', '--smtp-host', '127.0.0.1'], { env });
  await runCli(['account', 'add', '--display-name', 'x', '--server', 'dead', '--address', 'x@example.com', '--username', 'x', '--password-stdin'], { env, input: 'pw\n' });
  const recv = await runCli(['receive', '--account', 'x@example.com', '--once'], { env });
  assert.equal(recv.code, 1);
  const sick = await runCli(['doctor', '--json'], { env });
  assert.equal(sick.code, 1);
  const acc = JSON.parse(sick.stdout).checks.find((c: { check: string }) => c.check === 'account x@example.com');
  assert.equal(acc.ok, false);
  assert.match(acc.detail, /CONNECT_FAILED/);
  const sickJa = await runCli(['doctor'], { env: ja });
  assert.equal(sickJa.code, 1);
  assert.match(sickJa.stdout, /^OK マイグレーション: 最新です$/m);
  assert.match(sickJa.stdout, /^NG メールアカウント x@example\.com: 前回の受信に失敗しました: CONNECT_FAILED 受信できませんでした: /m);
  assert.equal((await runCli(['doctor', '--json'], { env: ja })).stdout, sick.stdout, '--json does not depend on the language');

  // once the stall monitor has marked it stalled, doctor says that too
  const db = new SQLite(join(dir, 'yubin.sqlite'));
  db.prepare(`insert into account_stalls (account_id, since, reason) select id, '2026-12-01T00:00:00.000Z', 'failures' from mail_accounts`).run();
  db.close();
  const stalled = JSON.parse((await runCli(['doctor', '--json'], { env })).stdout).checks.find((c: { check: string }) => c.check === 'account x@example.com');
  assert.match(stalled.detail, /stalled since 2026-12-01T00:00:00.000Z \(five receive runs in a row failed\)/);
  const stalledJa = await runCli(['doctor'], { env: ja });
  assert.match(stalledJa.stdout, /^NG メールアカウント x@example\.com: 2026-12-01T00:00:00\.000Z から受信が止まっています（5回続けて受信に失敗しました）; 前回の受信に失敗しました: /m);
});

test('doctor fails the secret key when it does not open the stored passwords (another valid key), and a data folder it cannot open is a FAIL line, not a crash', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-doctor-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { YUBIN_DATA_DIR: dir, YUBIN_LANG: 'en' };
  await runCli(['server', 'add', '--name', 'isp', '--protocol', 'pop3', '--host', '127.0.0.1', '--port', '1', '--smtp-host', '127.0.0.1'], { env });
  await runCli(['account', 'add', '--display-name', 'x', '--server', 'isp', '--address', 'x@example.com', '--username', 'x', '--password-stdin'], { env, input: 'pw\n' });
  const right = JSON.parse((await runCli(['doctor', '--json'], { env })).stdout).checks.find((c: { check: string }) => c.check === 'secret key');
  assert.deepEqual([right.ok, right.detail], [true, 'from secret.key in the data folder, opens the stored passwords']);

  const wrongEnv = { ...env, YUBIN_SECRET_KEY: randomBytes(32).toString('base64') };
  const wrong = await runCli(['doctor', '--json'], { env: wrongEnv });
  assert.equal(wrong.code, 1);
  const key = JSON.parse(wrong.stdout).checks.find((c: { check: string }) => c.check === 'secret key');
  assert.equal(key.ok, false);
  assert.match(key.detail, /cannot be decrypted with this secret key/);

  const file = join(dir, 'not-a-folder');
  writeFileSync(file, 'x');
  const broken = await runCli(['doctor', '--json'], { env: { YUBIN_DATA_DIR: file, YUBIN_LANG: 'en' } });
  assert.equal(broken.code, 1, broken.stderr);
  assert.doesNotMatch(broken.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(JSON.parse(broken.stdout).checks.find((c: { check: string }) => c.check === 'database').ok, false);
});
