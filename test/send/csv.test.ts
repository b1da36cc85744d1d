// The bulk recipients CSV: encodings Excel and Google Sheets write, RFC 4180 quoting, and
// broken files reported with the row (as a spreadsheet numbers it) and the file's line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import iconv from 'iconv-lite';
import { decodeCsv, parseCsv } from '../../src/send/csv.ts';
import { normalizeRecipient } from '../../src/send/address.ts';

test('UTF-8, UTF-8 with BOM, Shift_JIS and UTF-16 files decode to the same text', () => {
  const text = 'email,氏名,会社\r\nyamada@example.jp,山田 太郎,㈱郵便①\r\n';
  const utf8 = decodeCsv(Buffer.from(text, 'utf8'));
  assert.deepEqual(utf8, { text, encoding: 'utf-8' });
  const bom = decodeCsv(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]));
  assert.deepEqual(bom, { text, encoding: 'utf-8' });
  // Excel's Japanese CSV: CP932, with NEC specials such as ㈱ and ①
  const sjisBytes = iconv.encode(text, 'cp932');
  assert.ok(!sjisBytes.equals(Buffer.from(text, 'utf8')));
  assert.deepEqual(decodeCsv(sjisBytes), { text, encoding: 'shift_jis' });
  const utf16 = decodeCsv(Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode(text, 'utf-16le')]));
  assert.deepEqual(utf16, { text, encoding: 'utf-16le' });
  for (const d of [utf8, bom, decodeCsv(sjisBytes), utf16]) {
    const t = parseCsv(d.text);
    assert.deepEqual(t.header, ['email', '氏名', '会社']);
    assert.deepEqual(t.rows.map((r) => r.values), [['yamada@example.jp', '山田 太郎', '㈱郵便①']]);
  }
});

test('a BOM left in the text is not part of the first column name', () => {
  const t = parseCsv('\ufeffemail,name\na@example.com,A\n');
  assert.deepEqual(t.header, ['email', 'name']);
});

test('quoted fields hold commas, line breaks (CRLF, LF, CR) and doubled quotes; rows keep their spreadsheet numbers', () => {
  const csv = [
    'email,name,note',
    'a@example.com,"Yamada, Taro","line one\r\nline two"',
    'b@example.com,"He said ""hi""",plain',
    '',
    'c@example.com,"x\ny\rz",""',
    'd@example.com,trailing,comma,',
  ].join('\r\n');
  const t = parseCsv(csv + '\r\n');
  assert.deepEqual(t.errors, []);
  assert.deepEqual(
    t.rows.map((r) => [r.row, r.line, r.values]),
    [
      [2, 2, ['a@example.com', 'Yamada, Taro', 'line one\r\nline two']],
      [3, 4, ['b@example.com', 'He said "hi"', 'plain']],
      // the blank line is row 4 (and line 5): skipped, but counted
      [5, 6, ['c@example.com', 'x\ny\rz', '']],
      [6, 9, ['d@example.com', 'trailing', 'comma']],
    ],
  );
  // LF-only and CR-only files
  assert.deepEqual(parseCsv('email\na@example.com\nb@example.com').rows.map((r) => r.values[0]), ['a@example.com', 'b@example.com']);
  assert.deepEqual(parseCsv('email\ra@example.com\rb@example.com\r').rows.map((r) => [r.row, r.line]), [
    [2, 2],
    [3, 3],
  ]);
});

test('broken rows are errors with their row and line, never guessed', () => {
  const t = parseCsv('email,name\na@example.com,A\nb@example.com,B,extra\nc@example.com\nd@example.com,"D"x\ne@example.com,E"E\n');
  assert.deepEqual(
    t.errors.map((e) => [e.problem, e.row, e.line, e.expected, e.actual]),
    [
      ['fieldCount', 3, 3, 2, 3],
      ['fieldCount', 4, 4, 2, 1],
      ['textAfterQuote', 5, 5, undefined, undefined],
      ['quoteInField', 6, 6, undefined, undefined],
    ],
  );
  assert.deepEqual(t.rows.map((r) => r.row), [2]);

  // an unterminated quote swallows the rest of the file: reported where it starts
  const u = parseCsv('email,name\na@example.com,"A\nb@example.com,B\n');
  assert.deepEqual(u.errors, [{ problem: 'unterminatedQuote', row: 2, line: 2 }]);
  assert.deepEqual(parseCsv('').errors.map((e) => e.problem), ['emptyHeader']);
  assert.deepEqual(parseCsv('email,name,email\n').errors.map((e) => [e.problem, e.column]), [['duplicateHeader', 'email']]);
});

test('10,000 rows with Japanese names, quotes and a broken row', () => {
  const lines = ['メールアドレス,氏名,備考'];
  for (let i = 1; i <= 10_000; i++) {
    lines.push(i === 7_777 ? `broken${i}@example.jp,"unterminated,x` + '"' + 'y' : `user${i}@example.jp,"山田, ${i}号","備考 ""${i}"""`);
  }
  const bytes = iconv.encode(lines.join('\r\n') + '\r\n', 'cp932');
  const { text, encoding } = decodeCsv(bytes);
  assert.equal(encoding, 'shift_jis');
  const t = parseCsv(text);
  assert.deepEqual(t.errors.map((e) => [e.problem, e.row]), [['textAfterQuote', 7_778]]);
  assert.equal(t.rows.length, 9_999);
  const row = t.rows[41]!;
  assert.deepEqual([row.row, row.values], [43, ['user42@example.jp', '山田, 42号', '備考 "42"']]);
});

test('recipient addresses: trimmed, domain lower-cased and IDNA-encoded; Japanese carrier dots allowed', () => {
  assert.equal(normalizeRecipient('  Taro@Example.JP '), 'Taro@example.jp');
  assert.equal(normalizeRecipient('taro..yamada@docomo.ne.jp'), 'taro..yamada@docomo.ne.jp');
  assert.equal(normalizeRecipient('taro.@ezweb.ne.jp'), 'taro.@ezweb.ne.jp');
  assert.equal(normalizeRecipient('info@例え.jp'), 'info@xn--r8jz45g.jp');
  for (const bad of ['', 'no-at', '@example.com', 'a@', 'a b@example.com', 'a@localhost', 'a@-x.com', 'a@example.123', '"q"@example.com', 'a@[192.0.2.1]', `${'x'.repeat(65)}@example.com`]) {
    assert.equal(normalizeRecipient(bad), undefined, bad);
  }
});
