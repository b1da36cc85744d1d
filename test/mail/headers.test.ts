import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import addressparser from 'nodemailer/lib/addressparser/index.js';
import {
  decodeEncodedWords,
  getField,
  parseAddressList,
  parseHeaderBlock,
  parseHeaderFields,
  parseMessageId,
  parseMimeHeaderValue,
  splitHeader,
} from '../../src/mail/headers.ts';
import { encodeIso2022jp } from './jis-encoder.ts';

const latin1 = (b: Buffer): string => b.toString('latin1');
const b64 = (b: Buffer): string => b.toString('base64');

describe('splitHeader', () => {
  it('splits at the first CRLFCRLF or LFLF, keeping the last field line break in the header', () => {
    const crlf = Buffer.from('A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore');
    assert.deepEqual(splitHeader(crlf), { headerBytes: crlf.subarray(0, 12), bodyOffset: 14 });
    const lf = Buffer.from('A: 1\nB: 2\n\nbody\n\nmore');
    assert.deepEqual(splitHeader(lf), { headerBytes: lf.subarray(0, 10), bodyOffset: 11 });
  });

  it('takes whichever empty line comes first when line ends are mixed', () => {
    const mixed = Buffer.from('A: 1\nB: 2\n\r\nbody\r\n\r\n');
    assert.equal(splitHeader(mixed).bodyOffset, 12);
    const mixed2 = Buffer.from('A: 1\r\n\nbody\n\n');
    assert.equal(splitHeader(mixed2).bodyOffset, 7);
  });

  it('gives an empty header for a leading empty line, and all header without an empty line', () => {
    assert.deepEqual(splitHeader(Buffer.from('\r\nbody')), { headerBytes: Buffer.alloc(0), bodyOffset: 2 });
    assert.deepEqual(splitHeader(Buffer.from('\nbody')), { headerBytes: Buffer.alloc(0), bodyOffset: 1 });
    const none = Buffer.from('A: 1\r\nB: 2');
    assert.deepEqual(splitHeader(none), { headerBytes: none, bodyOffset: none.length });
    assert.deepEqual(splitHeader(Buffer.alloc(0)), { headerBytes: Buffer.alloc(0), bodyOffset: 0 });
  });
});

describe('parseHeaderFields', () => {
  it('unfolds, lower-cases names, keeps order and duplicates, trims values', () => {
    const fields = parseHeaderFields(Buffer.from('Received: from a\r\n\tby b\r\nSubject:  Hello\r\n  world \r\nX-Empty:\r\nreceived: second\r\n\r\nBody: no'));
    assert.deepEqual(fields, [
      { name: 'received', value: 'from a\tby b' },
      { name: 'subject', value: 'Hello  world' },
      { name: 'x-empty', value: '' },
      { name: 'received', value: 'second' },
    ]);
    assert.equal(getField(fields, 'received'), 'from a\tby b');
    assert.equal(getField(fields, 'cc'), undefined);
  });

  it('keeps raw 8-bit bytes one char per byte', () => {
    const sj = iconv.encode('表示', 'cp932');
    const fields = parseHeaderFields(Buffer.concat([Buffer.from('Subject: '), sj, Buffer.from('\n')]));
    assert.equal(fields[0]!.value, latin1(sj));
  });

  it('accepts obsolete space before the colon, counts lines that are not fields, skips an mbox From line', () => {
    const block = parseHeaderBlock(Buffer.from('From sender@example.jp Mon Jan 15 00:00:00 2024\nSubject : hi\nnot a header line\n continuation of nothing\nTo: a@b\n'));
    assert.deepEqual(block.fields, [
      { name: 'subject', value: 'hi' },
      { name: 'to', value: 'a@b' },
    ]);
    assert.equal(block.malformedLines, 2);
    assert.equal(block.truncated, false);
  });

  it('stays linear on a long run of lines without a colon', () => {
    const block = parseHeaderBlock(Buffer.from('Subject: x\n' + 'abcd\n'.repeat(200_000) + 'To: a@b\n'));
    assert.deepEqual(block.fields.map((f) => f.name), ['subject', 'to']);
    assert.equal(block.malformedLines, 200_000);
  });

  it('stops at its field limit', () => {
    const many = Buffer.from('X-A: 1\n'.repeat(50));
    const block = parseHeaderBlock(many, 10);
    assert.equal(block.fields.length, 10);
    assert.equal(block.truncated, true);
  });
});

describe('decodeEncodedWords', () => {
  it('decodes B and Q words; Q underscores are spaces', () => {
    assert.equal(decodeEncodedWords('=?UTF-8?B?5pel5pys6Kqe?='), '日本語');
    assert.equal(decodeEncodedWords('=?utf-8?q?caf=C3=A9_au_lait?='), 'café au lait');
    assert.equal(decodeEncodedWords('=?ISO-8859-1?Q?Andr=E9?= Pirard'), 'André Pirard');
  });

  it('drops whitespace between adjacent words and keeps it next to plain text (RFC 2047 6.2)', () => {
    assert.equal(decodeEncodedWords('=?UTF-8?Q?a?= =?UTF-8?Q?b?='), 'ab');
    assert.equal(decodeEncodedWords('=?UTF-8?Q?a?=\r\n\t=?ISO-8859-1?Q?b?='), 'ab');
    assert.equal(decodeEncodedWords('=?UTF-8?Q?a?= b =?UTF-8?Q?c?='), 'a b c');
    assert.equal(decodeEncodedWords('Re: =?UTF-8?Q?a?=  x'), 'Re: a  x');
    assert.equal(decodeEncodedWords('=?UTF-8?Q?a?==?UTF-8?Q?b?='), 'ab');
  });

  it('joins the bytes of adjacent same-charset words, so a character split across them survives', () => {
    const utf8 = Buffer.from('こんにちは', 'utf8');
    assert.equal(decodeEncodedWords(`=?UTF-8?B?${b64(utf8.subarray(0, 4))}?= =?utf-8?B?${b64(utf8.subarray(4))}?=`), 'こんにちは');
    const jis = encodeIso2022jp('①㈱サンプル');
    assert.equal(decodeEncodedWords(`=?ISO-2022-JP?B?${b64(jis.subarray(0, 6))}?=\r\n =?ISO-2022-JP?B?${b64(jis.subarray(6))}?=`), '①㈱サンプル');
    const sj = iconv.encode('表示', 'cp932');
    assert.equal(decodeEncodedWords(`=?Shift_JIS?Q?=${sj[0]!.toString(16)}?==?Shift_JIS?B?${b64(sj.subarray(1))}?=`), '表示');
  });

  it('decodes ISO-2022-JP words with CP50220 characters, and language-tagged charsets (RFC 2231 5)', () => {
    assert.equal(decodeEncodedWords(`=?ISO-2022-JP?B?${b64(encodeIso2022jp('①～㈱'))}?=`), '①～㈱');
    assert.equal(decodeEncodedWords('=?UTF-8*ja?B?5pel5pys?='), '日本');
  });

  it('tolerates folding whitespace inside a B word and missing padding', () => {
    assert.equal(decodeEncodedWords('=?UTF-8?B?5pel5p ys6Kqe?='), '日本語');
    assert.equal(decodeEncodedWords('=?UTF-8?B?5pel5pys?='), '日本');
    assert.equal(decodeEncodedWords('=?UTF-8?B?YQ?='), 'a');
  });

  it('decodes raw 8-bit and raw JIS header text by sniffing', () => {
    assert.equal(decodeEncodedWords(latin1(iconv.encode('Re: 表示ソフト～', 'cp932'))), 'Re: 表示ソフト～');
    assert.equal(decodeEncodedWords(latin1(iconv.encode('日本語のメール', 'euc-jp'))), '日本語のメール');
    assert.equal(decodeEncodedWords(latin1(Buffer.from('件名 UTF-8', 'utf8'))), '件名 UTF-8');
    assert.equal(decodeEncodedWords(latin1(encodeIso2022jp('お知らせ①'))), 'お知らせ①');
    assert.equal(decodeEncodedWords(`${latin1(iconv.encode('表示', 'cp932'))} =?UTF-8?B?5pel5pys?=`), '表示 日本');
  });

  it('leaves what is not an encoded-word alone, and takes already-decoded text as text', () => {
    assert.equal(decodeEncodedWords('=?UTF-8?X?abc?= and =? not'), '=?UTF-8?X?abc?= and =? not');
    assert.equal(decodeEncodedWords('plain'), 'plain');
    assert.equal(decodeEncodedWords('日本 =?UTF-8?Q?a?='), '日本 a');
  });

  it('sniffs an unknown word charset instead of failing', () => {
    assert.equal(decodeEncodedWords(`=?x-unknown?B?${b64(Buffer.from('日本', 'utf8'))}?=`), '日本');
    assert.equal(decodeEncodedWords(`=?unknown-8bit?B?${b64(iconv.encode('表示', 'cp932'))}?=`), '表示');
  });

  it('never throws (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('=', '?', 'B', 'Q', 'q', 'U', 'T', 'F', '-', '8', '_', ' ', '\x1b', '$', '(', '\x93', 'a', '5') }), (s) => {
        assert.equal(typeof decodeEncodedWords(s), 'string');
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseAddressList', () => {
  it('parses names, bare addresses, groups and comments', () => {
    assert.deepEqual(parseAddressList('"Yamada, Taro" <taro@example.jp>, b@example.jp'), [
      { name: 'Yamada, Taro', address: 'taro@example.jp' },
      { name: '', address: 'b@example.jp' },
    ]);
    assert.deepEqual(parseAddressList('Team: a@example.jp, "B" <b@example.jp>;, c@example.jp'), [
      { name: '', address: 'a@example.jp' },
      { name: 'B', address: 'b@example.jp' },
      { name: '', address: 'c@example.jp' },
    ]);
    assert.deepEqual(parseAddressList('undisclosed-recipients:;'), []);
    assert.deepEqual(parseAddressList('a@example.jp (Comment Name)'), [{ name: 'Comment Name', address: 'a@example.jp' }]);
    assert.deepEqual(parseAddressList('<>'), []);
  });

  it('decodes encoded-word names after splitting, so a decoded comma does not split', () => {
    assert.deepEqual(parseAddressList(`=?UTF-8?B?${b64(Buffer.from('山田, 太郎', 'utf8'))}?= <y@example.jp>, z@example.jp`), [
      { name: '山田, 太郎', address: 'y@example.jp' },
      { name: '', address: 'z@example.jp' },
    ]);
    assert.deepEqual(parseAddressList('"=?ISO-2022-JP?B?GyRCOzNFRBsoQg==?=" <y@example.jp>'), [{ name: '山田', address: 'y@example.jp' }]);
  });

  it('decodes raw Shift_JIS before splitting: 0x5C before the closing quote is not an escape', () => {
    const raw = latin1(Buffer.concat([Buffer.from('"'), iconv.encode('営業 表', 'cp932'), Buffer.from('" <hyo@example.jp>, x@example.jp')]));
    assert.deepEqual(parseAddressList(raw), [
      { name: '営業 表', address: 'hyo@example.jp' },
      { name: '', address: 'x@example.jp' },
    ]);
  });

  it('decodes raw JIS before splitting: its bytes may look like quotes and commas', () => {
    // 佐藤 in JIS is 3A 34 46 23: plain text "$B:4F#"; "あ," has a '"' (0x2422) and a ','
    const raw = latin1(Buffer.concat([encodeIso2022jp('佐藤 あ、'), Buffer.from(' <sato@example.jp>')]));
    assert.deepEqual(parseAddressList(raw), [{ name: '佐藤 あ、', address: 'sato@example.jp' }]);
  });

  it('stays linear on pathological input (long whitespace runs, many brackets)', () => {
    const spaces = ' '.repeat(200_000);
    assert.deepEqual(parseAddressList(`${spaces}x${spaces}`), [{ name: 'x', address: '' }]);
    assert.deepEqual(parseAddressList(`Name${spaces}<a@example.jp>${spaces}`), [{ name: 'Name', address: 'a@example.jp' }]);
    assert.equal(parseAddressList('<'.repeat(50_000) + 'a@b' + '>'.repeat(50_000)).length > 0, true);
    assert.equal(typeof decodeEncodedWords('=?a?B?'.repeat(50_000)), 'string');
  });

  it('gives what addressparser gives for plain ASCII lists (property, fast path against the parser)', () => {
    const word = fc.stringMatching(/^[A-Za-z0-9.'-]{1,8}$/);
    const addr = fc.tuple(fc.stringMatching(/^[a-z0-9._+-]{1,8}$/), fc.stringMatching(/^[a-z0-9-]{1,8}\.[a-z]{2,3}$/)).map(([l, d]) => `${l}@${d}`);
    const item = fc.oneof(
      addr,
      addr.map((a) => `<${a}>`),
      fc.tuple(fc.array(word, { minLength: 1, maxLength: 3 }), addr).map(([w, a]) => `${w.join(' ')} <${a}>`),
      fc.tuple(fc.array(word, { minLength: 1, maxLength: 3 }), addr).map(([w, a]) => `"${w.join(', ')}" <${a}>`),
    );
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 4 }), fc.constantFrom(', ', ',', ' ,  '), (items, sep) => {
        const text = items.join(sep);
        const want = addressparser(text, { flatten: true })
          .map((a) => ({ name: a.name.trim(), address: a.address.trim() }))
          .filter((a) => a.name || a.address);
        assert.deepEqual(parseAddressList(text), want, text);
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseMessageId', () => {
  it('takes the first <id>, adds brackets to a bare one, null for nothing', () => {
    assert.equal(parseMessageId(' <abc@example.jp> (comment)'), '<abc@example.jp>');
    assert.equal(parseMessageId('<a@b> <c@d>'), '<a@b>');
    assert.equal(parseMessageId('abc@example.jp'), '<abc@example.jp>');
    assert.equal(parseMessageId('   '), null);
  });
});

describe('parseMimeHeaderValue', () => {
  it('reads the value and plain or quoted parameters, names case-insensitive, first one wins', () => {
    const ct = parseMimeHeaderValue('Multipart/Mixed; Boundary="----=_Part_0;x"; charset=UTF-8; boundary=second');
    assert.equal(ct.value, 'multipart/mixed');
    assert.equal(ct.params.get('boundary'), '----=_Part_0;x');
    assert.equal(ct.params.get('charset'), 'UTF-8');
  });

  it('joins RFC 2231 sections in order as bytes and decodes them with their charset', () => {
    const cd = parseMimeHeaderValue("attachment; filename*1*=%E6%9B%B8.pdf; filename*0*=UTF-8'ja'%E8%A6%8B%E7%A9%8D");
    assert.equal(cd.params.get('filename'), '見積書.pdf');
    const sj = parseMimeHeaderValue("attachment; filename*=Shift_JIS''%95%5C.txt");
    assert.equal(sj.params.get('filename'), '表.txt');
    const mixed = parseMimeHeaderValue("attachment; filename*0*=utf-8''%E6%97%A5; filename*1=\"-plain.txt\"");
    assert.equal(mixed.params.get('filename'), '日-plain.txt');
  });

  it('prefers the RFC 2231 form over a plain one of the same name', () => {
    const cd = parseMimeHeaderValue("attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E6%97%A5.txt");
    assert.equal(cd.params.get('filename'), '日.txt');
  });

  it('decodes encoded-words and raw Shift_JIS in name/filename, whose 0x5C is not an escape', () => {
    const jis = b64(encodeIso2022jp('売上㈱～.xls'));
    assert.equal(parseMimeHeaderValue(`attachment; filename="=?ISO-2022-JP?B?${jis}?="`).params.get('filename'), '売上㈱～.xls');
    const raw = latin1(Buffer.concat([Buffer.from('attachment; filename="'), iconv.encode('表', 'cp932'), Buffer.from('"; size=3')]));
    const cd = parseMimeHeaderValue(raw);
    assert.equal(cd.params.get('filename'), '表');
    assert.equal(cd.params.get('size'), '3');
  });

  it('decodes raw ISO-2022-JP in name/filename, whose bytes may be quotes, parentheses or semicolons', () => {
    // あ is 0x24 0x22 ($"), え 0x24 0x28 ($(), 飴 0x30 0x3B (0;)
    for (const name of ['あいさつ.doc', 'アンケート.xls', 'え(1).txt', '飴.txt']) {
      const jis = latin1(encodeIso2022jp(name));
      assert.equal(parseMimeHeaderValue(`attachment; filename="${jis}"; size=3`).params.get('filename'), name);
      assert.equal(parseMimeHeaderValue(`application/octet-stream; name=${jis}; x=1`).params.get('name'), name);
    }
  });

  it('keeps Windows paths and parentheses in bare values, drops comments', () => {
    assert.equal(parseMimeHeaderValue('attachment; filename="C:\\dir\\a.txt"').params.get('filename'), 'C:\\dir\\a.txt');
    assert.equal(parseMimeHeaderValue('attachment; filename="say \\"hi\\".txt"').params.get('filename'), 'say "hi".txt');
    assert.equal(parseMimeHeaderValue('attachment; filename=report(1).pdf').params.get('filename'), 'report(1).pdf');
    const ct = parseMimeHeaderValue('text/plain (plain text); charset="iso-2022-jp" (Japanese)');
    assert.equal(ct.value, 'text/plain');
    assert.equal(ct.params.get('charset'), 'iso-2022-jp');
  });

  it('stays linear on a long run of separators', () => {
    const ct = parseMimeHeaderValue('text/plain' + ';'.repeat(500_000) + ' charset=utf-8');
    assert.equal(ct.params.get('charset'), 'utf-8');
    assert.equal(parseMimeHeaderValue('text/plain; a' + '; b'.repeat(200_000)).params.size, 0);
  });

  it('copes with junk: missing values, unclosed quotes, no parameters', () => {
    assert.deepEqual(parseMimeHeaderValue(''), { value: '', params: new Map() });
    const j = parseMimeHeaderValue('text/plain;; novalue; ;charset="utf-8');
    assert.equal(j.value, 'text/plain');
    assert.equal(j.params.get('charset'), 'utf-8');
    assert.equal(j.params.has('novalue'), false);
  });
});
