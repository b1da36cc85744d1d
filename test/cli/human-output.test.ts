// The CLI's human output (what it prints without --json) follows the language of its errors:
// Japanese by default, English with YUBIN_LANG=en; --json stays the same in both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { progressLine } from '../../src/cli/commands/bulk.ts';
import { displayWidth, table } from '../../src/cli/context.ts';
import type { BulkDelivery } from '../../src/send/schemas.ts';
import { openContext } from '../../src/services/context.ts';
import { runCli } from '../support/cli.ts';
import { startSmtpServer } from '../protocols/smtp/smtp-test-servers.ts';
import { addSendingAccount } from '../send/send-fixture.ts';
import { closedPort } from '../support/closed-port.ts';

type Env = Record<string, string | undefined>;
const langs = (dir: string): { ja: Env; en: Env } => {
  // LANG=ja… and no YUBIN_LANG: the default; YUBIN_LANG=en wins over LANG
  const ja = { YUBIN_DATA_DIR: dir, LANG: 'ja_JP.UTF-8', LC_ALL: undefined, YUBIN_LANG: undefined };
  return { ja, en: { ...ja, YUBIN_LANG: 'en' } };
};

/** Terminal columns of a text, counted independently of the CLI's helper: kana, kanji and fullwidth forms take two. */
const columns = (text: string) => [...text].reduce((n, ch) => n + (/[\u3000-\u30ff\u3400-\u9fff\uff00-\uff60]/.test(ch) ? 2 : 1), 0);
/** The terminal column where `word` starts on `line`. */
const columnOf = (line: string, word: string) => {
  const i = line.indexOf(word);
  assert.ok(i >= 0, `${word} in ${line}`);
  return columns(line.slice(0, i));
};


test('table() aligns by terminal width: a Japanese cell takes two columns a character', () => {
  assert.equal(displayWidth('名前'), 4);
  assert.equal(displayWidth('テスト ISP'), 10);
  assert.equal(displayWidth('[██░]'), 5, 'block elements are one column');
  assert.equal(table([['名前', 'ID'], ['Gmail', '1'], ['テスト', '2']]), '名前    ID\nGmail   1\nテスト  2');
});

test('progressLine in Japanese shows the UI’s words with the status code; English stays as it was', () => {
  const b = { status: 'paused', total: 10, sent: 5, failed: 1, pending: 4, cancelled: 0, pauseReason: 'auth_failed' } as BulkDelivery;
  const bar = `[${'█'.repeat(18)}${'░'.repeat(12)}]  60%`;
  assert.equal(progressLine(b, 'ja'), `${bar}  送信済み 5  失敗 1  未送信 4 / 10  一時停止中 (paused)  一時停止の理由: 送信メールサーバーでの認証に失敗 (auth_failed)`);
  assert.equal(progressLine(b, 'en'), `${bar}  sent 5  failed 1  pending 4 / 10  paused  (auth_failed)`);
  assert.equal(progressLine({ ...b, status: 'done', pauseReason: null, cancelled: 4, pending: 0 }, 'ja'), `[${'█'.repeat(30)}] 100%  送信済み 5  失敗 1  未送信 0 / 10  完了 (done)  中止 4`);
});

test('server list, account list, show and audit: Japanese by default, aligned by terminal width; English with YUBIN_LANG=en; --json the same', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { ja, en } = langs(dir);
  const add = await runCli(['server', 'add', '--name', 'テスト ISP', '--protocol', 'pop3', '--host', 'pop.example.com', '--encryption', 'tls', '--smtp-host', 'smtp.example.com', '--per-minute-limit', '60'], { env: ja });
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /^テスト ISP {2}id=\S+ {2}表示順=3\n {2}受信メールサーバー: pop3 pop\.example\.com:995 通信の暗号化=SSL\/TLS APOP認証=いいえ メールサイズの制限=制限しない\n/);
  assert.match(add.stdout, /\n {2}送信メールサーバー: smtp\.example\.com:587 通信の暗号化=暗号化しない SMTP認証=PLAIN .*1分間の送信件数の制限=60\n$/);
  const acc = await runCli(['account', 'add', '--display-name', 'サポート窓口', '--server', 'テスト ISP', '--address', 'support@example.com', '--username', 'support', '--password-stdin', '--leave', 'days:14', '--interval', '10'], {
    env: ja,
    input: 'pw\n',
  });
  assert.equal(acc.code, 0, acc.stderr);
  assert.match(acc.stdout, /^support@example\.com \(サポート窓口\) {2}id=\S+\n {2}メールサーバー=\S+ ユーザー名=support パスワード=設定済み SMTP認証のユーザー名=- SMTP認証のパスワード=なし\n {2}差出人名=- メールをサーバーに残す設定=14日後に削除 受信間隔=10分 有効=はい\n$/);

  const servers = await runCli(['server', 'list'], { env: ja });
  assert.equal(servers.code, 0, servers.stderr);
  const serverLines = servers.stdout.trimEnd().split('\n');
  assert.match(serverLines[0]!, /^# {2}名前 +POP3\/IMAP4 {2}受信メールサーバー +送信メールサーバー +ID$/);
  assert.match(serverLines[3]!, /^3 {2}テスト ISP +pop3 +pop\.example\.com:995 +smtp\.example\.com:587 +\S+$/);
  // the next column starts at the same terminal column on every line, Japanese name or not
  assert.deepEqual(
    serverLines.map((l, i) => columnOf(l, i === 0 ? 'POP3/IMAP4' : i === 3 ? 'pop3' : 'imap4')),
    serverLines.map(() => columnOf(serverLines[0]!, 'POP3/IMAP4')),
  );

  const accounts = await runCli(['account', 'list'], { env: ja });
  assert.equal(accounts.code, 0, accounts.stderr);
  const [header, row] = accounts.stdout.trimEnd().split('\n');
  assert.match(header!, /^メールアドレス +表示名 +メールをサーバーに残す設定 {2}受信間隔 {2}有効 {2}ID$/);
  assert.match(row!, /^support@example\.com {2}サポート窓口 {2}14日後に削除 +10分 +はい +\S+$/);
  assert.equal(columnOf(row!, '14日後に削除'), columnOf(header!, 'メールをサーバーに残す設定'));
  assert.equal(columnOf(row!, 'はい'), columnOf(header!, '有効'));

  const audit = await runCli(['audit'], { env: ja });
  assert.match(audit.stdout, /^日時 +実行者 +操作 +対象 +変更した項目\n/);
  assert.match(audit.stdout, /メールアカウントを追加 \(mail_account\.add\) +support@example\.com/);
  assert.match(audit.stdout, /メールサーバーを追加 \(mail_server\.add\) +テスト ISP/);

  // English: the same tables with the English headers and values
  const serversEn = await runCli(['server', 'list'], { env: en });
  assert.match(serversEn.stdout, /^# {2}NAME +IN {5}INCOMING +OUTGOING +ID\n/);
  const accountsEn = await runCli(['account', 'list'], { env: en });
  assert.match(accountsEn.stdout, /^ADDRESS +NAME +LEAVE +INTERVAL {2}ENABLED {2}ID\nsupport@example\.com {2}サポート窓口 {2}days:14 {2}10m +true +\S+\n$/);
  const showEn = await runCli(['server', 'show', 'テスト ISP'], { env: en });
  assert.match(showEn.stdout, /\n {2}incoming: pop3 pop\.example\.com:995 encryption=tls apop=false maxMessageBytes=-\n/);
  assert.doesNotMatch(showEn.stdout, /受信/);
  const auditEn = await runCli(['audit'], { env: en });
  assert.match(auditEn.stdout, /^AT +ACTOR +ACTION +TARGET +FIELDS\n/);
  assert.match(auditEn.stdout, / mail_account\.add +support@example\.com/);

  // --json does not depend on the language at all
  for (const args of [['server', 'list', '--json'], ['account', 'list', '--json'], ['account', 'show', 'support@example.com', '--json']]) {
    const [a, b] = await Promise.all([runCli(args, { env: ja }), runCli(args, { env: en })]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, b.stdout, args.join(' '));
    JSON.parse(a.stdout);
  }

  const deleted = await runCli(['account', 'delete', 'support@example.com'], { env: ja });
  assert.equal(deleted.stdout, 'メールアカウント「support@example.com」を削除しました。\n');
});

test('send prints one line per recipient with the status word and code; bulk status and create --wait show the progress in Japanese', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-cli-'));
  const smtp = await startSmtpServer();
  t.after(async () => {
    await smtp.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const { ja, en } = langs(dir);
  const ctx = await openContext({ dataDir: dir, databaseUrl: undefined, secretKey: undefined, host: '127.0.0.1', port: 0 }, { log: pino({ level: 'silent' }) });
  t.after(() => ctx.close());
  await addSendingAccount(ctx, { port: smtp.port, address: 'info@example.jp' });
  await addSendingAccount(ctx, { port: await closedPort(), address: 'down@example.jp' });

  const send = ['send', '--account', 'info@example.jp', '--to', 'a@example.net', '--cc', 'b@example.net', '--subject', 'お知らせ', '--text', '本文'];
  const sent = await runCli(send, { env: ja });
  assert.equal(sent.code, 0, sent.stderr);
  const lines = sent.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^配信 \S+: 送信済み \(sent\) {2}お知らせ$/);
  assert.match(lines[1]!, /^ {2}to {2}a@example\.net {2}送信済み \(sent\) {2}250 /);
  assert.match(lines[2]!, /^ {2}cc {2}b@example\.net {2}送信済み \(sent\) {2}250 /);
  const sentEn = await runCli(send, { env: en });
  assert.match(sentEn.stdout, /^delivery \S+: sent {2}お知らせ\n {2}to {2}a@example\.net {2}sent {2}250 /);

  // a refused connection: deferred, the next attempt and who retries it
  const deferred = await runCli(['send', '--account', 'down@example.jp', '--to', 'c@example.net', '--subject', 's', '--text', 't'], { env: ja });
  assert.equal(deferred.code, 0, deferred.stderr);
  assert.match(deferred.stdout, /\n {2}to {2}c@example\.net {2}再試行待ち \(deferred\)（次の試行: \d{4}-\d\d-\d\dT[^）]+）/);
  assert.match(deferred.stdout, /\n（実行中の yubin serve または yubin worker が再試行します）\n$/);

  assert.equal((await runCli(['bulk', 'list'], { env: ja })).stdout, '一斉配信はまだありません。\n');
  const csv = join(dir, 'list.csv');
  writeFileSync(csv, 'email,name\nx@example.org,X\nbad,B\ny@example.org,Y\n');
  const created = await runCli(['bulk', 'create', '--account', 'info@example.jp', '--csv', csv, '--subject', '{{name}}様', '--text', 't', '--reply-to', 'support@example.jp'], { env: ja });
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /^一斉配信 (\S+): 2件の宛先を送信待ちにしました。\n返信先（Reply-To）: support@example\.jp\nスキップ 1件:\n {2}3行目: bad — メールアドレスが正しくありません。\n$/);
  const id = /^一斉配信 (\S+):/.exec(created.stdout)![1]!;

  const status = await runCli(['bulk', 'status', id], { env: ja });
  assert.equal(status.code, 0, status.stderr);
  assert.deepEqual(status.stdout.split('\n').slice(0, 2), [`一斉配信 ${id}  {{name}}様`, '返信先（Reply-To）: support@example.jp']);
  assert.match(status.stdout, /\n\[░{30}\] {3}0% {2}送信済み 0 {2}失敗 0 {2}未送信 2 \/ 2 {2}配信中 \(running\)\n/);
  const statusEn = await runCli(['bulk', 'status', id], { env: en });
  assert.match(statusEn.stdout, /\nReply-To: support@example\.jp\n\[░{30}\] {3}0% {2}sent 0 {2}failed 0 {2}pending 2 \/ 2 {2}running\nskipped 1:\n {2}row 3: bad — /);
  const [statusJson, statusJsonEn] = await Promise.all([runCli(['bulk', 'status', id, '--json'], { env: ja }), runCli(['bulk', 'status', id, '--json'], { env: en })]);
  assert.equal(JSON.parse(statusJson.stdout).status, 'running');
  assert.deepEqual(JSON.parse(statusJson.stdout).skipped.map((s: { reason: string }) => s.reason), JSON.parse(statusJsonEn.stdout).skipped.map((s: { reason: string }) => s.reason));

  const list = await runCli(['bulk', 'list'], { env: ja });
  assert.equal(list.code, 0, list.stderr);
  const [head, row, more] = list.stdout.split('\n');
  assert.match(head!, /^ID +開始日時 +状態 +送信済み \/ 宛先 {2}件名$/);
  assert.match(row!, new RegExp(`^${id} {2}\\d{4}-\\d\\d-\\d\\dT\\S+ {2}配信中 \\(running\\) +0 / 2 +\\{\\{name\\}\\}様$`));
  assert.equal(more, '');
  const listJson = JSON.parse((await runCli(['bulk', 'list', '--json', '--limit', '1'], { env: en })).stdout);
  assert.deepEqual([listJson.items.map((b: { id: string }) => b.id), listJson.nextCursor], [[id], null]);

  const recipients = await runCli(['bulk', 'recipients', id], { env: ja });
  assert.match(recipients.stdout, /^行 {2}メールアドレス +状態 +試行回数 {2}応答コード {2}サーバーの応答\n2 {3}x@example\.org +送信待ち \(queued\) +0\n/);

  // --wait sends it (and the first one) from this process: the progress lines on stderr, the result on stdout
  const waited = await runCli(['bulk', 'create', '--wait', '--account', 'info@example.jp', '--csv', csv, '--subject', 's', '--text', 't'], { env: ja });
  assert.equal(waited.code, 0, waited.stderr);
  assert.match(waited.stdout, /\n\[█{30}\] 100% {2}送信済み 2 {2}失敗 0 {2}未送信 0 \/ 2 {2}完了 \(done\)\n/);
  assert.match(waited.stderr, /送信済み 2 {2}失敗 0 {2}未送信 0 \/ 2 {2}完了 \(done\)\n$/);
  const done = await runCli(['bulk', 'recipients', id], { env: ja });
  assert.match(done.stdout, /\n2 {3}x@example\.org +送信済み \(sent\) +1 +250 /);

  // the suppression list a page at a time: the next page's --cursor is printed
  assert.equal((await runCli(['bulk', 'suppress', 's1@example.com', 's2@example.com', 's3@example.com', '--reason', '配信停止の依頼'], { env: ja })).code, 0);
  const firstPage = await runCli(['bulk', 'suppressions', '--limit', '2'], { env: ja });
  assert.match(firstPage.stdout, /^メールアドレス +理由 +実行者 +日時\ns1@example\.com +配信停止の依頼 .+\ns2@example\.com .+\n（続き: --cursor s2@example\.com）\n$/);
  const nextPage = await runCli(['bulk', 'suppressions', '--limit', '2', '--cursor', 's2@example.com'], { env: ja });
  assert.match(nextPage.stdout, /^メールアドレス .+\ns3@example\.com .+\n$/);
});

test('receive sums up in Japanese by default (and English with YUBIN_LANG=en), its error lines too', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { ja, en } = langs(dir);
  const port = await closedPort();
  await runCli(['server', 'add', '--name', 'down', '--protocol', 'pop3', '--host', '127.0.0.1', '--port', String(port), '--smtp-host', '127.0.0.1'], { env: en });
  const acc = await runCli(['account', 'add', '--display-name', 'x', '--server', 'down', '--address', 'x@example.com', '--username', 'x', '--password-stdin'], { env: en, input: 'pw\n' });
  assert.equal(acc.code, 0, acc.stderr);

  const r = await runCli(['receive', '--account', 'x@example.com', '--once'], { env: ja });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^0通受信しました（サーバーから削除: 0通、サーバーに残っているメール: 0通）。\nエラー: CONNECT_FAILED: 受信できませんでした: /);
  const rEn = await runCli(['receive', '--account', 'x@example.com', '--once'], { env: en });
  assert.equal(rEn.code, 1);
  assert.match(rEn.stdout, /^received 0, deleted from server 0, left on server 0\nerror: CONNECT_FAILED: /);
  // --json: the errors as the API gives them, the sentence in the user's language and the error's own text as detail
  const json = await runCli(['receive', '--account', 'x@example.com', '--once', '--json'], { env: ja });
  assert.equal(json.code, 1);
  const [error] = JSON.parse(json.stdout).errors;
  assert.equal(error.code, 'CONNECT_FAILED');
  assert.match(error.message, /^受信できませんでした: /);
  assert.match(error.detail, /ECONNREFUSED/);
});
