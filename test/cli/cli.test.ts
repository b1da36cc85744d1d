// The CLI end to end: a real child process on a temporary SQLite data folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { pino } from 'pino';
import { openContext } from '../../src/services/context.ts';
import { runCli, type CliResult } from '../support/cli.ts';
import { addSendingAccount } from '../send/send-fixture.ts';

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

// Every bad command line the CLI was fuzzed with: exit 2, "yubin: " and a message naming the
// option in Japanese (the default) or English, no stack trace, and nothing stored.
test('bad files, stdin twice, bad numbers and commander usage errors: exit 2 naming the option, ja/en', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data');
  const ja: Record<string, string | undefined> = { YUBIN_DATA_DIR: data, LANG: 'ja_JP.UTF-8', YUBIN_LANG: undefined };
  const en = { ...ja, YUBIN_LANG: 'en' };
  const missing = join(dir, 'missing.json');
  const file = (name: string, content: string | Buffer) => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };
  const list = file('list.csv', 'email\na@example.com\n');
  const png = file('logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]));
  const bulk = ['bulk', 'create', '--account', 'a@example.com', '--subject', 's'];
  const cases: [args: string[], env: typeof ja, expected: RegExp, input?: string][] = [
    // 1. file options
    [['server', 'add', '--input', missing], ja, /^yubin: --input で指定されたファイルがありません: .*missing\.json$/],
    [['server', 'change', 'Gmail', '--input', dir], en, /^yubin: --input: .* is a folder, not a file\.$/],
    [['send', '--to', 'a@example.com', '--attach', missing], ja, /^yubin: --attach で指定されたファイルがありません: /],
    [['send', '--to', 'a@example.com', '--text-file', dir], en, /^yubin: --text-file: .* is a folder/],
    [[...bulk, '--csv', missing], en, /^yubin: --csv: no such file: /],
    // 7. a binary body is not text
    [[...bulk, '--csv', list, '--text-file', png], ja, /^yubin: --text-file で指定されたファイルはテキストファイルではありません（NUL文字があります）: .*logo\.png$/],
    // 2. --input that is not a JSON object
    [['server', 'add', '--input', file('null.json', 'null')], ja, /^yubin: --input のJSONはオブジェクト（{ … }）にしてください: .*null\.json$/],
    [['account', 'add', '--input', '-'], ja, /^yubin: --input のJSONはオブジェクト（{ … }）にしてください: 標準入力$/, '[1]'],
    [['send', '--input', '-'], en, /^yubin: --input: stdin must hold a JSON object/, 'null'],
    [['server', 'add', '--input', file('nested.json', '{"incoming":"pop3"}'), '--host', 'pop.example.com'], ja, /受信メールサーバーはオブジェクトで指定してください/],
    // 5. two options reading stdin
    [['account', 'add', '--input', '-', '--password-stdin'], ja, /^yubin: --input - と --password-stdin の両方で標準入力を読むことはできません。/, '{"displayName":"x"}\npassword\n'],
    [[...bulk, '--csv', '-', '--text-file', '-'], en, /^yubin: --csv - and --text-file - cannot both read stdin; give one of them a file\.$/, 'email\na@example.com\n'],
    [['send', '--to', 'a@example.com', '--input', '-', '--html-file', '-'], en, /^yubin: --input - and --html-file - cannot both read stdin/, '{}'],
    // 3. numeric and enum options
    [['bulk', 'recipients', 'x', '--limit', 'abc'], ja, /^yubin: --limit には1から1000までの整数を指定してください（指定された値: 「abc」）。$/],
    [['bulk', 'recipients', 'x', '--status', 'bogus'], en, /^yubin: --status must be one of: queued, sending, sent, deferred, failed, cancelled \(got "bogus"\)\.$/],
    [['bulk', 'recipients', 'x', '--cursor', '-1'], ja, /^yubin: --cursor には0から999999999までの整数を指定してください/],
    [['bulk', 'suppressions', '--limit', '0'], en, /^yubin: --limit must be an integer from 1 to 1000 \(got "0"\)\.$/],
    [['audit', '--limit', 'abc'], ja, /^yubin: --limit には1から1000までの整数を指定してください/],
    [['receive', '--account', 'a@example.com', '--max-messages', 'abc'], en, /^yubin: --max-messages must be an integer of at least 1 \(got "abc"\)\.$/],
    // 4. commander's own usage errors
    [['receive'], ja, /^yubin: オプション --account <address> を指定してください。\n使い方: yubin receive --help$/],
    [['server', 'add', '--nme', 'x'], en, /^yubin: Unknown option: --nme \(Did you mean --name\?\)\nUsage: yubin server add --help$/],
    [['frob'], ja, /^yubin: frob というコマンドはありません。\n使い方: yubin --help$/],
    [['server', 'list', 'extra'], en, /^yubin: Too many arguments: expected at most 0, got 1\./],
  ];
  // a few child processes at a time: each one starts tsx
  const results: CliResult[] = [];
  for (let i = 0; i < cases.length; i += 4) {
    results.push(...(await Promise.all(cases.slice(i, i + 4).map(([args, env, , input]) => runCli(args, { env, ...(input === undefined ? {} : { input }) })))));
  }
  results.forEach((r, i) => {
    const [args, , expected] = cases[i]!;
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trimEnd(), expected, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
  });

  // a command group without its subcommand shows its help, as bad input
  const group = await runCli(['server'], { env: ja });
  assert.equal(group.code, 2);
  assert.match(group.stderr, /Usage: yubin server/);
  // --help and --version are no errors ("--" keeps node from taking them for itself)
  const help = await runCli(['--', '--help'], { env: ja });
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: yubin /);
  const version = await runCli(['--', '--version'], { env: ja });
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout.trim(), '0.1.0');

  // nothing was stored: no server, account or delivery, and not one audit entry
  const audit = await runCli(['audit', '--json'], { env: en });
  assert.equal(audit.code, 0, audit.stderr);
  assert.deepEqual(JSON.parse(audit.stdout).items, []);
  const servers = await runCli(['server', 'list', '--json'], { env: en });
  assert.deepEqual(JSON.parse(servers.stdout).items.map((s: { name: string }) => s.name), ['Gmail', 'Exchange Online']);
});


test('bulk create decodes a Shift_JIS CSV on stdin like the same file, and Shift_JIS body templates', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ctx = await openContext({ dataDir: dir, databaseUrl: undefined, secretKey: undefined, host: '127.0.0.1', port: 0 }, { log: pino({ level: 'silent' }) });
  t.after(() => ctx.close());
  // nothing is sent (no --wait): the SMTP port is never dialled
  await addSendingAccount(ctx, { port: 2525, address: 'info@example.jp' });
  const csv = join(dir, 'list.csv');
  writeFileSync(csv, iconv.encode('メールアドレス,氏名\r\nyamada@example.jp,山田\r\n鈴木（アドレスなし）,鈴木\r\n', 'cp932'));
  const body = join(dir, 'body.txt');
  writeFileSync(body, iconv.encode('{{氏名}}様、いつもありがとうございます。\r\n', 'cp932'));

  const r = await runCli(['bulk', 'create', '--json', '--account', 'info@example.jp', '--csv', '-', '--subject', '{{氏名}}様へ', '--text-file', body], { input: readFileSync(csv), env: { YUBIN_DATA_DIR: dir, YUBIN_LANG: 'en' } });
  assert.equal(r.code, 0, r.stderr);
  const created = JSON.parse(r.stdout);
  assert.equal(created.total, 1);
  assert.deepEqual(
    created.skipped.map((s: { row: number; address: string; reason: string }) => [s.row, s.address, s.reason]),
    [[3, '鈴木（アドレスなし）', 'invalid_address']],
  );
  const stored = await ctx.repos.deliveries.getBulk(created.id);
  assert.equal(stored?.text_template, '{{氏名}}様、いつもありがとうございます。\r\n');
});

test('a PostgreSQL server that refuses the connection: one line saying so and naming YUBIN_DATABASE_URL, no stack trace', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const r = await runCli(['server', 'list'], { env: { YUBIN_DATABASE_URL: `postgres://u:p@127.0.0.1:${port}/db`, YUBIN_SECRET_KEY: Buffer.alloc(32, 1).toString('base64'), YUBIN_LANG: 'en' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^yubin: connect ECONNREFUSED 127\.0\.0\.1:\d+ \(YUBIN_DATABASE_URL: is the PostgreSQL server running/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('a command’s warnings are one readable line each, not pino’s JSON (JSON stays at YUBIN_LOG_LEVEL=debug)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const env = { YUBIN_DATA_DIR: dir, YUBIN_LANG: 'en' };
  await runCli(['server', 'add', '--name', 'isp', '--protocol', 'pop3', '--host', '127.0.0.1', '--smtp-host', '127.0.0.1', '--smtp-port', String(port), '--smtp-encryption', 'none', '--smtp-auth', 'none'], { env });
  await runCli(['account', 'add', '--display-name', 'x', '--server', 'isp', '--address', 'x@example.com', '--username', 'x', '--password-stdin'], { env, input: 'pw\n' });
  const send = ['send', '--account', 'x@example.com', '--to', 'a@example.org', '--subject', 's', '--text', 't'];
  const warn = await runCli(send, { env: { ...env, YUBIN_LOG_LEVEL: 'warn' } });
  assert.match(warn.stderr, new RegExp(`^yubin: warning: SMTP connection failed \\(.*host=127\\.0\\.0\\.1 port=${port} code=CONNECT_FAILED`, 'm'));
  assert.doesNotMatch(warn.stderr, /\{"level"/);
  const debug = await runCli(send, { env: { ...env, YUBIN_LOG_LEVEL: 'debug' } });
  assert.match(debug.stderr, /\{"level":40,.*"msg":"SMTP connection failed"\}/);
});
