// The environment is checked before anything else runs, for every command; the files the CLI
// makes are readable by their owner only, also in a data folder that existed before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli.ts';

test('a bad, empty or padded YUBIN_LOG_LEVEL: a message naming it (bad) or no effect (empty, padded), never a pino stack trace', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { YUBIN_DATA_DIR: dir, YUBIN_LANG: 'en' };
  for (const command of [['server', 'list', '--json'], ['token', 'list', '--json'], ['receive', '--account', 'nobody@example.com']]) {
    const bad = await runCli(command, { env: { ...env, YUBIN_LOG_LEVEL: 'loud' } });
    assert.equal(bad.code, 2, `${command.join(' ')}: ${bad.stderr}`);
    assert.match(bad.stderr, /^yubin: YUBIN_LOG_LEVEL: .*"loud"/, command.join(' '));
    assert.doesNotMatch(bad.stderr, /custom levels|\n\s+at /);
  }
  for (const level of ['', ' warn ']) {
    const ok = await runCli(['server', 'list', '--json'], { env: { ...env, YUBIN_LOG_LEVEL: level } });
    assert.equal(ok.code, 0, `YUBIN_LOG_LEVEL=${JSON.stringify(level)}: ${ok.stderr}`);
    assert.equal(JSON.parse(ok.stdout).items.length, 2);
  }
});

test('the database and a backup are mode 0600 in a data folder made before Yubin (mode 0755)', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'yubin-cli-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'data');
  mkdirSync(dir, { mode: 0o755 });
  const env = { YUBIN_DATA_DIR: dir, YUBIN_LANG: 'en' };
  const m = await runCli(['migrate', '--json'], { env });
  assert.equal(m.code, 0, m.stderr);
  assert.equal(statSync(join(dir, 'yubin.sqlite')).mode & 0o077, 0, 'yubin.sqlite (every received mail) readable by other users');
  const backup = join(root, 'backup.sqlite');
  const b = await runCli(['backup', backup, '--json'], { env });
  assert.equal(b.code, 0, b.stderr);
  assert.equal(statSync(backup).mode & 0o077, 0, 'the backup readable by other users');
});
