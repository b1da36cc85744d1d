// `yubin receive` and `yubin account test` as a real child process against Dovecot,
// and POST /api/v1/mail-accounts/:id/test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../src/http/app.ts';
import { AuthService } from '../../src/services/auth.ts';
import { runCli } from '../support/cli.ts';
import { contextFor } from '../support/app-context.ts';
import { testMailbed } from '../support/mailbed.ts';
import { makeMail, receiveFixture } from '../support/receive-fixture.ts';

test('yubin receive repeats capped runs until nothing is left; yubin account test stages', async (t) => {
  const bed = await testMailbed();
  if (!bed) return t.skip('Dovecot is not installed here');
  const dir = mkdtempSync(join(tmpdir(), 'yubin-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { YUBIN_DATA_DIR: dir, YUBIN_LANG: 'en' };
  const user = `c${randomBytes(4).toString('hex')}`;
  await bed.addUser(user, 'cli-password');
  for (let i = 0; i < 7; i++) await bed.deliver(user, makeMail(i));
  assert.equal((await runCli(['server', 'add', '--name', 'bed', '--protocol', 'pop3', '--host', '127.0.0.1', '--port', String(bed.ports.pop3), '--smtp-host', '127.0.0.1', '--smtp-port', String(bed.ports.smtpSink), '--smtp-auth', 'none'], { env })).code, 0);
  const add = await runCli(['account', 'add', '--display-name', 'x', '--server', 'bed', '--address', `${user}@example.com`, '--username', user, '--password-stdin'], { env, input: 'cli-password\n' });
  assert.equal(add.code, 0, add.stderr);

  const r = await runCli(['receive', '--account', `${user}@example.com`, '--max-messages', '3', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.received, 7);
  assert.equal(out.runs, 3);
  assert.equal(out.hasMore, false);
  assert.equal(await bed.count(user), 0);

  // without --json and YUBIN_LANG: the summary in Japanese, in the words of the UI's 今すぐ受信
  const ja = { YUBIN_DATA_DIR: dir, LANG: 'ja_JP.UTF-8', LC_ALL: undefined, YUBIN_LANG: undefined };
  for (let i = 7; i < 9; i++) await bed.deliver(user, makeMail(i));
  const human = await runCli(['receive', '--account', `${user}@example.com`], { env: ja });
  assert.equal(human.code, 0, human.stderr);
  assert.equal(human.stdout, '2通受信しました（サーバーから削除: 2通、サーバーに残っているメール: 0通）。\n');
  const humanEn = await runCli(['receive', '--account', `${user}@example.com`], { env });
  assert.equal(humanEn.stdout, 'received 0, deleted from server 0, left on server 0\n');

  const tst = await runCli(['account', 'test', `${user}@example.com`, '--json'], { env });
  const result = JSON.parse(tst.stdout);
  assert.deepEqual(
    result.incoming.map((s: { stage: string; ok: boolean }) => [s.stage, s.ok]),
    [['dns', true], ['tcp', true], ['tls', true], ['greeting', true], ['capabilities', true], ['auth', true], ['mailbox', true]],
  );
  assert.ok(!tst.stdout.includes('cli-password'));
  const tstJa = await runCli(['account', 'test', `${user}@example.com`], { env: ja });
  assert.equal(tstJa.code, 0, tstJa.stderr);
  assert.match(tstJa.stdout, /^受信メールサーバー:\n {2}✓ 名前解決 \(DNS\) \S/);
  assert.match(tstJa.stdout, /\n {2}✓ メールボックス \S/);
  assert.match(tstJa.stdout, /\n送信メールサーバー:\n/);
});

test('POST /api/v1/mail-accounts/:id/test answers in the request language without secrets', async (t) => {
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return;
  const f = await receiveFixture(t, ctx, { protocol: 'imap4' });
  if (!f) return;
  const app = await buildApp(ctx);
  t.after(() => app.close());
  const h = { authorization: `Bearer ${await new AuthService(ctx).createToken('t')}` };
  const ja = (await app.inject({ method: 'POST', url: `/api/v1/mail-accounts/${f.accountId}/test`, headers: h })).json();
  assert.equal(ja.incoming.at(-1).stage, 'mailbox');
  assert.ok(ja.incoming.every((s: { ok: boolean }) => s.ok));
  assert.match(ja.incoming[0].message, /[ぁ-んァ-ン一-龯]/);
  const en = (await app.inject({ method: 'POST', url: `/api/v1/mail-accounts/${f.accountId}/test`, headers: { ...h, 'accept-language': 'en' } })).json();
  assert.doesNotMatch(en.incoming[0].message, /[ぁ-んァ-ン]/);
  assert.ok(!JSON.stringify([ja, en]).includes(f.password));
  const missing = await app.inject({ method: 'POST', url: `/api/v1/mail-accounts/nope/test`, headers: h });
  assert.equal(missing.statusCode, 404);
});
