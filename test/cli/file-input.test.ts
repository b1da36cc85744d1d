// What the CLI reads from file options and stdin (src/cli/file-input.ts): every failure is
// bad input (VALIDATION, so exit 2) naming the option and the path, in Japanese and English.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { readFileOption, readJsonOption, readTextOption, refuseSharedStdin } from '../../src/cli/file-input.ts';
import { refusal } from '../support/refusal.ts';


function folder(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-file-input-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a missing file, a folder or an unreadable file names the option, the path and the reason', (t) => {
  const dir = folder(t);
  const missing = refusal(() => readFileOption('--csv', join(dir, 'nope.csv')));
  assert.equal(missing.code, 'VALIDATION');
  assert.equal(missing.ja, `--csv で指定されたファイルがありません: ${join(dir, 'nope.csv')}`);
  assert.equal(missing.en, `--csv: no such file: ${join(dir, 'nope.csv')}`);
  // a path through a file is as missing as a user sees it
  writeFileSync(join(dir, 'body.txt'), 'x');
  assert.match(refusal(() => readFileOption('--text-file', join(dir, 'body.txt', 'x'))).en, /^--text-file: no such file: /);

  const sub = join(dir, 'sub');
  mkdirSync(sub);
  const isFolder = refusal(() => readTextOption('--html-file', sub));
  assert.equal(isFolder.ja, `--html-file にはファイルを指定してください（フォルダーが指定されました）: ${sub}`);
  assert.equal(isFolder.en, `--html-file: ${sub} is a folder, not a file.`);

  // --attach takes "-" as a file's name: an attachment needs one, and stdin has none
  assert.match(refusal(() => readFileOption('--attach', '-', { stdin: false })).en, /^--attach: no such file: -$/);
});

test('an unreadable file says so', (t) => {
  const dir = folder(t);
  const file = join(dir, 'secret.json');
  writeFileSync(file, '{}');
  chmodSync(file, 0o000);
  // root reads every file: there the refusal the kernel would give is made by a stand-in
  if (process.getuid?.() === 0) {
    t.mock.method(fs, 'readFileSync', () => {
      throw Object.assign(new Error(`EACCES: permission denied, open '${file}'`), { code: 'EACCES' });
    });
    syncBuiltinESMExports();
    t.after(() => {
      t.mock.restoreAll();
      syncBuiltinESMExports();
    });
  }
  const r = refusal(() => readJsonOption('--input', file));
  assert.equal(r.ja, `--input で指定されたファイルを読む権限がありません: ${file}`);
  assert.equal(r.en, `--input: ${file} is not readable (permission denied).`);
});

test('a text file is UTF-8 or Shift_JIS; a binary file is not text', (t) => {
  const dir = folder(t);
  const write = (name: string, bytes: Buffer | string) => {
    writeFileSync(join(dir, name), bytes);
    return join(dir, name);
  };
  assert.equal(readTextOption('--text-file', write('utf8.txt', '\uFEFF{{氏名}}様、こんにちは')), '{{氏名}}様、こんにちは');
  // what Windows editors in Japan save, and what the same command takes as a CSV
  assert.equal(readTextOption('--text-file', write('sjis.txt', iconv.encode('{{氏名}}様、こんにちは\r\n', 'cp932'))), '{{氏名}}様、こんにちは\r\n');

  const png = write('logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]));
  const binary = refusal(() => readTextOption('--text-file', png));
  assert.equal(binary.ja, `--text-file で指定されたファイルはテキストファイルではありません（NUL文字があります）: ${png}`);
  assert.equal(binary.en, `--text-file: ${png} is not a text file (it contains NUL characters).`);

  // neither UTF-8 nor Shift_JIS: refused, not sent as U+FFFD
  for (const bytes of [[0x41, 0xa0, 0x42], [0x41, 0x80], [0xfd, 0xfe]]) {
    const file = write('latin.txt', Buffer.from(bytes));
    const r = refusal(() => readTextOption('--html-file', file));
    assert.equal(r.ja, `--html-file で指定されたファイルの文字コードが UTF-8 でも Shift_JIS でもありません。UTF-8 で保存し直してください: ${file}`);
    assert.equal(r.en, `--html-file: ${file} is neither UTF-8 nor Shift_JIS text; save it as UTF-8.`);
  }
});

test('--input holds a JSON object in UTF-8', (t) => {
  const dir = folder(t);
  const file = join(dir, 'input.json');
  for (const json of ['null', '"str"', '[1]', '1', 'true']) {
    writeFileSync(file, json);
    const r = refusal(() => readJsonOption('--input', file));
    assert.equal(r.code, 'VALIDATION', json);
    assert.equal(r.ja, `--input のJSONはオブジェクト（{ … }）にしてください: ${file}`);
    assert.equal(r.en, `--input: ${file} must hold a JSON object ({ … }).`);
  }
  writeFileSync(file, '{bad');
  const malformed = refusal(() => readJsonOption('--input', file));
  assert.equal(malformed.code, 'MALFORMED_JSON');
  assert.match(malformed.ja, /^--input の内容が正しいJSONではありません（.+）: /);
  writeFileSync(file, iconv.encode('{"name":"例"}', 'cp932'));
  assert.match(refusal(() => readJsonOption('--input', file)).en, /^--input: .* is not valid UTF-8; save the JSON as UTF-8\.$/);
  writeFileSync(file, '\uFEFF{"name":"例"}');
  assert.deepEqual(readJsonOption('--input', file), { name: '例' });
});

test('two options cannot both read stdin', () => {
  refuseSharedStdin([
    ['--input -', false],
    ['--password-stdin', true],
  ]);
  const r = refusal(() =>
    refuseSharedStdin([
      ['--csv -', true],
      ['--text-file -', false],
      ['--html-file -', true],
    ]),
  );
  assert.equal(r.ja, '--csv - と --html-file - の両方で標準入力を読むことはできません。どちらか一方はファイルで指定してください。');
  assert.equal(r.en, '--csv - and --html-file - cannot both read stdin; give one of them a file.');
});
