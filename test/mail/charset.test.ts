import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { decodeBytes, decodeIso2022jp, hasJisEscape, isSupportedCharset, normalizeCharset, sniffJapanese } from '../../src/mail/charset.ts';
import { encodeIso2022jp } from './jis-encoder.ts';

const bytes = (...parts: Array<string | number[]>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
const ESC_KANJI = '\x1b$B';
const ESC_ASCII = '\x1b(B';

describe('decodeIso2022jp', () => {
  it('reads JIS X 0208 with the CP50220 extensions: NEC row 13 and NEC-selected IBM rows', () => {
    // ① 0x2D21, ㈱ 0x2D6A, ～ 0x2141 (CP932 reads it as U+FF5E), 纊 0x7921, あ 0x2422
    const input = bytes('a', ESC_KANJI, [0x2d, 0x21, 0x2d, 0x6a, 0x21, 0x41, 0x79, 0x21, 0x24, 0x22], ESC_ASCII, 'z');
    assert.equal(decodeIso2022jp(input), 'a①㈱～纊あz');
  });

  it('treats ESC $ @ (JIS C 6226-1978) like ESC $ B and skips the ESC & @ announcer', () => {
    assert.equal(decodeIso2022jp(bytes('\x1b$@', [0x24, 0x22], '\x1b(J', 'x')), 'あx');
    assert.equal(decodeIso2022jp(bytes('\x1b&@\x1b$B', [0x24, 0x22], ESC_ASCII)), 'あ');
  });

  it('reads ESC ( J (JIS X 0201 Roman) as ASCII, backslash and tilde included', () => {
    assert.equal(decodeIso2022jp(bytes('\x1b(JC:\\dir~', ESC_ASCII)), 'C:\\dir~');
  });

  it('reads half-width katakana from ESC ( I, SO/SI and raw 8-bit bytes (CP50221/CP50222)', () => {
    assert.equal(decodeIso2022jp(bytes('\x1b(I', [0x4a, 0x5d, 0x36, 0x38], ESC_ASCII)), 'ﾊﾝｶｸ');
    assert.equal(decodeIso2022jp(bytes('a\x0e', [0x31, 0x32], '\x0fb')), 'aｱｲb');
    assert.equal(decodeIso2022jp(bytes([0xb1, 0xdf])), 'ｱﾟ');
  });

  it('reads JIS X 0212 (ESC $ ( D, ISO-2022-JP-1)', () => {
    assert.equal(decodeIso2022jp(bytes('\x1b$(D', [0x30, 0x21], ESC_ASCII)), '丂');
  });

  it('reads SO/SI katakana after ESC ) I, the G1 designation CP50220 registers', () => {
    assert.equal(decodeIso2022jp(bytes('\x1b)I\x0e', [0x31, 0x32, 0x33], '\x0f abc')), 'ｱｲｳ abc');
  });

  it('reads the rest of ISO-2022-JP-2 (RFC 1554): Latin-1 and Greek by ESC N, GB 2312, KS C 5601', () => {
    assert.equal(decodeBytes(bytes('caf\x1b.A\x1bNi \x1b.F\x1bNA'), 'iso-2022-jp-2'), 'café Α');
    assert.equal(decodeIso2022jp(bytes('\x1b$A', [0x3c, 0x4f], ESC_ASCII)), '枷');
    assert.equal(decodeIso2022jp(bytes('\x1b$(C', [0x3e, 0x48, 0x33, 0x67], ESC_ASCII)), '안녕');
  });

  it('never shows an escape sequence it does not know as text, nor reads an unknown two-byte set as JIS X 0208', () => {
    assert.equal(decodeIso2022jp(bytes('a\x1b-Ab')), 'a\ufffdb');
    assert.equal(decodeIso2022jp(bytes('\x1b$(P', [0x21, 0x21], ESC_ASCII, 'x')), '\ufffdx'); // JIS X 0213 plane 2
  });

  it('keeps line breaks and spaces inside a two-byte run', () => {
    assert.equal(decodeIso2022jp(bytes(ESC_KANJI, [0x24, 0x22], '\r\n', [0x24, 0x24], ESC_ASCII)), 'あ\r\nい');
  });

  it('turns broken input into U+FFFD and goes on', () => {
    assert.equal(decodeIso2022jp(bytes(ESC_KANJI, [0x24, 0x22, 0x24])), 'あ\ufffd');
    assert.equal(decodeIso2022jp(bytes('\x1bZab')), '\ufffdZab');
    assert.equal(decodeIso2022jp(bytes([0x80, 0x41])), '\ufffdA');
    assert.equal(decodeIso2022jp(bytes(ESC_KANJI, [0x22, 0x2f], ESC_ASCII)), '\ufffd'); // unassigned cell
  });

  it('round-trips Japanese text written the way Windows writes ISO-2022-JP', () => {
    const text = '【重要】山田様 ①②⑳ ㈱㈲ ～ ∑ № ㍻ 纊 髙 﨑 ﾊﾝｶｸ ABC-123 \\ ~ 表示ソフト';
    assert.equal(decodeIso2022jp(encodeIso2022jp(text)), text);
  });

  it('round-trips any mix of kana, kanji, NEC and ASCII characters (property)', () => {
    const alphabet = [...'あいうえおアイウエオ漢字表示能ソ予①②③㈱㈲～∑№㍻纊髙﨑ｱｲｳﾞ ABCxyz0123!?\\~\n'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 60 }), (chars) => {
        const text = chars.join('');
        assert.equal(decodeIso2022jp(encodeIso2022jp(text)), text);
      }),
    );
  });
});

describe('normalizeCharset', () => {
  it('maps the aliases mail uses', () => {
    for (const label of ['shift_jis', 'Shift_JIS', 'SJIS', 'x-sjis', 'Windows-31J', 'MS932', 'cp932', '"shift_jis"']) assert.equal(normalizeCharset(label), 'cp932', label);
    for (const label of ['ISO-2022-JP', 'iso-2022-jp-1', 'CP50220', 'cp50221', 'csISO2022JP']) assert.equal(normalizeCharset(label), 'iso-2022-jp', label);
    for (const label of ['EUC-JP', 'x-euc-jp', 'eucJP', 'cp51932']) assert.equal(normalizeCharset(label), 'euc-jp', label);
    assert.equal(normalizeCharset('UTF8'), 'utf-8');
    assert.equal(normalizeCharset('utf-8*ja'), 'utf-8'); // RFC 2231 language suffix
    assert.equal(normalizeCharset('ISO-8859-1'), 'windows-1252');
    assert.equal(normalizeCharset(' koi8-r '), 'koi8-r');
  });
});

describe('decodeBytes', () => {
  it('reads every Shift_JIS alias as CP932 (～, NEC row 13, IBM extensions)', () => {
    const sj = Buffer.from([0x87, 0x40, 0x81, 0x60, 0x87, 0x8a, 0xfa, 0x5c, 0x95, 0x5c]);
    for (const label of ['shift_jis', 'sjis', 'x-sjis', 'windows-31j', 'ms932', 'cp932']) assert.equal(decodeBytes(sj, label), '①～㈱纊表', label);
  });

  it('reads EUC-JP including NEC row 13, JIS X 0212 and 0x8E kana', () => {
    assert.equal(decodeBytes(Buffer.from([0xa4, 0xa2, 0xad, 0xa1, 0x8f, 0xa2, 0xb7, 0x8e, 0xb1]), 'EUC-JP'), 'あ①～ｱ');
  });

  it('reads ISO-2022-JP under any of its names', () => {
    const jis = encodeIso2022jp('①㈱です');
    for (const label of ['iso-2022-jp', 'ISO-2022-JP', 'cp50220', 'CP50221']) assert.equal(decodeBytes(jis, label), '①㈱です');
  });

  it('reads 7-bit JIS that is undeclared or declared as us-ascii, utf-8 or latin-1', () => {
    const jis = encodeIso2022jp('お知らせ');
    for (const label of [undefined, 'us-ascii', 'utf-8', 'iso-8859-1']) assert.equal(decodeBytes(jis, label), 'お知らせ', String(label));
  });

  it('sniffs undeclared 8-bit data', () => {
    assert.equal(decodeBytes(Buffer.from('日本語', 'utf8'), undefined), '日本語');
    assert.equal(decodeBytes(iconv.encode('表示ソフト', 'cp932'), undefined), '表示ソフト');
    assert.equal(decodeBytes(iconv.encode('日本語のテキスト', 'euc-jp'), undefined), '日本語のテキスト');
    assert.equal(decodeBytes(iconv.encode('表示ソフト', 'cp932'), 'us-ascii'), '表示ソフト');
  });

  it('reads Shift_JIS mislabelled as UTF-8 as Shift_JIS, and keeps broken UTF-8 as UTF-8', () => {
    assert.equal(decodeBytes(iconv.encode('お申し込み', 'cp932'), 'utf-8'), 'お申し込み');
    const cut = Buffer.concat([Buffer.from('こんにちは', 'utf8'), Buffer.from([0xe3, 0x81])]);
    assert.equal(decodeBytes(cut, 'utf-8'), 'こんにちは\ufffd');
  });

  it('reads mislabelled Japanese: 8-bit "ISO-2022-JP", UTF-8 labelled Shift_JIS or EUC-JP', () => {
    assert.equal(decodeBytes(iconv.encode('表示ソフト', 'cp932'), 'iso-2022-jp'), '表示ソフト');
    assert.equal(decodeBytes(Buffer.from('日本語です', 'utf8'), 'iso-2022-jp'), '日本語です');
    assert.equal(decodeBytes(Buffer.from('日本語です', 'utf8'), 'shift_jis'), '日本語です');
    assert.equal(decodeBytes(Buffer.from('日本語です', 'utf8'), 'euc-jp'), '日本語です');
    // half-width katakana in Shift_JIS can be valid UTF-8 by accident: the label wins
    assert.equal(decodeBytes(iconv.encode('ﾃｽﾃｽ', 'cp932'), 'shift_jis'), 'ﾃｽﾃｽ');
  });

  it('reads other charsets through iconv-lite or TextDecoder, ISO-8859-1 as Windows-1252', () => {
    assert.equal(decodeBytes(Buffer.from([0x93, 0x48, 0x94]), 'iso-8859-1'), '\u201cH\u201d');
    assert.equal(decodeBytes(Buffer.from([0xa4]), 'iso-8859-15'), '€');
    assert.equal(decodeBytes(Buffer.from([0xc1, 0xd2]), 'koi8-r'), 'ар');
    assert.equal(decodeBytes(Buffer.from([0xc7, 0xd1, 0xb1, 0xdb]), 'ks_c_5601-1987'), '한글');
  });

  it('says which labels it reads as themselves', () => {
    for (const label of ['ISO-2022-JP', 'Shift_JIS', 'euc-jp', 'UTF-8', 'us-ascii', 'koi8-r', 'gb2312', 'windows-1252']) assert.equal(isSupportedCharset(label), true, label);
    for (const label of ['x-unknown', 'utf-7', 'base64', '']) assert.equal(isSupportedCharset(label), false, label);
  });

  it('sniffs instead of trusting an unknown charset, and refuses UTF-7', () => {
    assert.equal(decodeBytes(Buffer.from('日本', 'utf8'), 'x-unknown'), '日本');
    assert.equal(decodeBytes(Buffer.from('+ADw-script+AD4-'), 'utf-7'), '+ADw-script+AD4-');
  });

  it('never throws, whatever the bytes and the label (property)', () => {
    const labels = fc.oneof(fc.constantFrom(undefined, 'iso-2022-jp', 'cp932', 'euc-jp', 'utf-8', 'us-ascii', 'utf-16', 'gb18030', 'base64', '', '__proto__'), fc.string());
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), labels, (data, label) => {
        assert.equal(typeof decodeBytes(Buffer.from(data), label), 'string');
      }),
      { numRuns: 500 },
    );
  });
});

describe('sniffJapanese', () => {
  it('finds 7-bit ISO-2022-JP by its escapes, and nothing in plain ASCII', () => {
    assert.equal(sniffJapanese(Buffer.from('plain text')), null);
    assert.equal(sniffJapanese(Buffer.from('\x1b(Bonly ascii reset')), null);
    assert.equal(sniffJapanese(encodeIso2022jp('漢字')), 'iso-2022-jp');
    assert.equal(sniffJapanese(Buffer.from('x\x1b$@$"\x1b(J')), 'iso-2022-jp');
    assert.equal(hasJisEscape(Buffer.from('\x1b(J')), true);
  });

  it('tells UTF-8, CP932 and EUC-JP apart, short samples included', () => {
    for (const text of ['あ', 'あい', '表示', '漢字', 'こんにちは、世界。', 'ｱｲｳ 半角', '会議の議事録①']) {
      assert.equal(sniffJapanese(Buffer.from(text, 'utf8')), 'utf-8', text);
      assert.equal(sniffJapanese(iconv.encode(text, 'cp932')), 'cp932', text);
      if (!/[ｱ-ﾝ]/.test(text)) assert.equal(sniffJapanese(iconv.encode(text, 'euc-jp')), 'euc-jp', text);
    }
  });

  it('prefers UTF-8 when bytes are valid UTF-8, even a lone EUC-JP character that happens to be', () => {
    // 表 in EUC-JP is C9 BD, which is also UTF-8 for U+027D: too short to tell, UTF-8 is likelier
    assert.equal(sniffJapanese(iconv.encode('表', 'euc-jp')), 'utf-8');
  });
});
