// ISO-2022-JP encoding for outgoing mail (RFC 1468 body, RFC 2047 encoded-words in headers).
//
// nodemailer writes UTF-8 only and iconv-lite has no ISO-2022-JP codec, so this module fills
// the gap. The repertoire is the one Japanese mailers call CP50220 / "ISO-2022-JP-MS", minus
// one thing:
//   - ASCII (ESC ( B) and JIS X 0208 rows 1–94 (ESC $ B), with the code points as Windows
//     CP932 maps them: this includes the NEC special characters of row 13 (①, ㈱, Ⅰ, №) and
//     the NEC-selected IBM extensions of rows 89–92 (纊, 髙, ⅰ), and uses the CP932 Unicode
//     mapping (～ U+FF5E, ∥ U+2225, － U+FF0D) — the same mapping mailparser (encoding-japanese)
//     and Japanese mail clients decode with.
//   - Not included: half-width katakana. CP50220 would turn them into full-width ones and
//     CP50221 uses the non-standard ESC ( I; either way the recipient would not read back
//     what was written.
// A character outside this set (emoji, half-width katakana, 〜 U+301C as macOS types it,
// Hangul, a control character such as ESC) cannot be encoded: `unrepresentableIso2022Jp`
// lists them, and composeMail then sends the whole mail as UTF-8 instead (see compose.ts).
import iconv from 'iconv-lite';

const ESC_ASCII = [0x1b, 0x28, 0x42]; // ESC ( B
const ESC_JIS0208 = [0x1b, 0x24, 0x42]; // ESC $ B

/** RFC 5322 §2.1.1: a line is at most 998 octets without CRLF. Longer lines need base64. */
export const MAX_7BIT_LINE_OCTETS = 998;

let unicodeToJis: Map<string, number> | undefined;

// Built once from iconv-lite's CP932 table: every double-byte Shift_JIS code whose JIS row is
// 1–94. The first row wins for characters CP932 has twice (∵ is in row 2 and in NEC row 13;
// row 2 is the standard place and every decoder knows it).
function jisTable(): Map<string, number> {
  if (unicodeToJis) return unicodeToJis;
  const table = new Map<string, number>();
  for (let row = 1; row <= 94; row++) {
    for (let cell = 1; cell <= 94; cell++) {
      const j1 = row + 0x20;
      const j2 = cell + 0x20;
      const s1 = ((j1 + 1) >> 1) + (j1 <= 0x5e ? 0x70 : 0xb0);
      const s2 = j1 & 1 ? j2 + (j2 >= 0x60 ? 0x20 : 0x1f) : j2 + 0x7e;
      const ch = iconv.decode(Buffer.from([s1, s2]), 'cp932');
      if ([...ch].length !== 1 || ch === '\ufffd') continue;
      if (!table.has(ch)) table.set(ch, (j1 << 8) | j2);
    }
  }
  unicodeToJis = table;
  return table;
}

function isAsciiAllowed(code: number): boolean {
  // printable ASCII plus TAB, CR and LF; ESC, SO and SI would corrupt the shift state
  return (code >= 0x20 && code <= 0x7e) || code === 0x09 || code === 0x0a || code === 0x0d;
}

/** The distinct characters of `text` that ISO-2022-JP (as above) cannot carry, in order. */
export function unrepresentableIso2022Jp(text: string): string[] {
  const table = jisTable();
  const bad = new Set<string>();
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x80 ? !isAsciiAllowed(code) : !table.has(ch)) bad.add(ch);
  }
  return [...bad];
}

/**
 * Encode `text` as ISO-2022-JP bytes, ending in ASCII. CR and LF pass through as they are, so
 * every line ends in ASCII as RFC 1468 requires. Throws a RangeError on a character outside the
 * repertoire; callers check with `unrepresentableIso2022Jp` first.
 */
export function encodeIso2022Jp(text: string): Buffer {
  const table = jisTable();
  const out: number[] = [];
  let inJis = false;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x80) {
      if (!isAsciiAllowed(code)) throw new RangeError(`not representable in ISO-2022-JP: U+${code.toString(16).padStart(4, '0')}`);
      if (inJis) {
        out.push(...ESC_ASCII);
        inJis = false;
      }
      out.push(code);
      continue;
    }
    const jis = table.get(ch);
    if (jis === undefined) throw new RangeError(`not representable in ISO-2022-JP: ${JSON.stringify(ch)}`);
    if (!inJis) {
      out.push(...ESC_JIS0208);
      inJis = true;
    }
    out.push(jis >> 8, jis & 0xff);
  }
  if (inJis) out.push(...ESC_ASCII);
  return Buffer.from(out);
}

/** A text body as ISO-2022-JP with CRLF line ends, and whether it fits 7bit (no line over 998 octets). */
export function encodeIso2022JpBody(text: string): { bytes: Buffer; fits7bit: boolean } {
  const crlf = text.replace(/\r\n|\r|\n/g, '\r\n');
  const bytes = encodeIso2022Jp(crlf);
  let fits7bit = true;
  let lineStart = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0d) {
      if (i - lineStart > MAX_7BIT_LINE_OCTETS) fits7bit = false;
      lineStart = i + 2;
    }
  }
  return { bytes, fits7bit };
}

// 36 encoded octets → 48 base64 characters → a 66-character encoded-word, so that even
// "Subject: " plus one word stays within the 78-character line RFC 5322 recommends.
const WORD_OCTETS = 36;

/**
 * RFC 2047 B encoded-words for `text`. Every word is self-contained: it starts in ASCII, ends
 * in ASCII and never splits a character, so decoders that handle one word at a time (and
 * those that join adjacent words first) read the same text. Whitespace between the words is
 * ignored by decoders (RFC 2047 §6.2), so spaces of `text` travel inside the words.
 */
export function encodeIso2022JpWords(text: string): string[] {
  const words: string[] = [];
  let current = '';
  let octets = 0; // encoded length of `current`, without the closing ESC ( B
  let inJis = false;
  for (const ch of text) {
    const jis = (ch.codePointAt(0) ?? 0) >= 0x80;
    const cost = (jis ? 2 : 1) + (jis !== inJis ? 3 : 0);
    if (current !== '' && octets + cost + (jis ? 3 : 0) > WORD_OCTETS) {
      words.push(current);
      current = '';
      octets = 0;
      inJis = false;
    }
    octets += (jis ? 2 : 1) + (jis !== inJis ? 3 : 0);
    inJis = jis;
    current += ch;
  }
  if (current !== '' || words.length === 0) words.push(current);
  return words.map((w) => `=?ISO-2022-JP?B?${encodeIso2022Jp(w).toString('base64')}?=`);
}
