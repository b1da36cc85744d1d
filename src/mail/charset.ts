// Bytes → text for mail, with Japanese first-class: ISO-2022-JP (RFC 1468) including the
// Microsoft CP50220/CP50221/CP50222 extensions (NEC row 13 such as ①㈱, NEC-selected IBM
// extensions such as 纊, JIS X 0201 katakana via ESC ( I, SO/SI and 8-bit), Shift_JIS read as
// CP932, EUC-JP, UTF-8, and everything else iconv-lite or the WHATWG TextDecoder knows.
// Mail often lies about (or omits) its charset, so undeclared or 7-bit-declared data is sniffed:
// 7-bit ISO-2022-JP by its escape sequences, 8-bit data as UTF-8, CP932 or EUC-JP.
// Nothing here throws on bad input: undecodable bytes become U+FFFD.
import { isAscii, isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';

export type SniffedCharset = 'iso-2022-jp' | 'utf-8' | 'cp932' | 'euc-jp';

const ESC = 0x1b;
const REPLACEMENT = 0xfffd;

const ISO2022JP_ALIASES = new Set([
  'iso-2022-jp', 'iso2022jp', 'iso-2022-jp-1', 'iso-2022-jp-2', 'iso-2022-jp-3', 'iso-2022-jp-ext',
  'csiso2022jp', 'csiso2022jp2', 'cp50220', 'cp50221', 'cp50222', 'x-cp50220', 'x-cp50221',
  'x-cp50222', 'jis', 'x-jis', 'jis7', 'iso-2022-jp-ms',
]);
// Shift_JIS as sent by real mailers is CP932 (Windows): it has ～ (0x8160 → U+FF5E), NEC row 13
// and the IBM extensions, which plain Shift_JIS lacks.
const CP932_ALIASES = new Set([
  'shift_jis', 'shift-jis', 'sjis', 'x-sjis', 'windows-31j', 'ms932', 'cp932', 'ms_kanji',
  'csshiftjis', 'x-ms-cp932', 'ibm-943', 'ibm943', 'shift_jisx0213', 'shift_jis-2004',
]);
const EUCJP_ALIASES = new Set(['euc-jp', 'eucjp', 'x-euc-jp', 'x-euc', 'cseucpkdfmtjapanese', 'cp51932', 'euc-jp-ms', 'eucjp-ms', 'euc-jis-2004']);
const UTF8_ALIASES = new Set(['utf-8', 'utf8', 'unicode-1-1-utf-8', 'x-unicode20utf8']);
const ASCII_ALIASES = new Set(['us-ascii', 'ascii', 'ansi_x3.4-1968', 'iso646-us', 'us', 'cp367', '7bit', '8bit']);
// iconv-lite codecs that are not character sets a message may be written in. UTF-7 in
// particular is a known way to smuggle markup past filters, so it is not honoured.
const REFUSED = new Set(['utf7', 'utf-7', 'utf7imap', 'utf-7-imap', 'unicode-1-1-utf-7', 'base64', 'hex', 'binary']);

/** Canonical lower-case charset name: 'iso-2022-jp', 'cp932', 'euc-jp', 'utf-8', 'us-ascii' or the cleaned label. */
export function normalizeCharset(label: string): string {
  let s = label.trim().toLowerCase();
  if (s.length >= 2 && (s[0] === '"' || s[0] === "'") && s[s.length - 1] === s[0]) s = s.slice(1, -1).trim();
  const star = s.indexOf('*'); // RFC 2231 section 5: charset*language in encoded-words
  if (star !== -1) s = s.slice(0, star);
  if (ISO2022JP_ALIASES.has(s)) return 'iso-2022-jp';
  if (CP932_ALIASES.has(s)) return 'cp932';
  if (EUCJP_ALIASES.has(s)) return 'euc-jp';
  if (UTF8_ALIASES.has(s)) return 'utf-8';
  if (ASCII_ALIASES.has(s)) return 'us-ascii';
  // WHATWG: ISO-8859-1 in the wild is Windows-1252 (curly quotes in 0x80-0x9F)
  if (s === 'iso-8859-1' || s === 'iso8859-1' || s === 'latin1' || s === 'l1' || s === 'iso_8859-1') return 'windows-1252';
  return s;
}

function decoderFor(cs: string): ((buf: Buffer) => string) | null {
  if (REFUSED.has(cs)) return null;
  if (iconv.encodingExists(cs)) return (buf) => iconv.decode(buf, cs);
  try {
    const td = new TextDecoder(cs);
    return (buf) => td.decode(buf);
  } catch {
    return null;
  }
}

const decoderCache = new Map<string, ((buf: Buffer) => string) | null>();
function cachedDecoder(cs: string): ((buf: Buffer) => string) | null {
  let d = decoderCache.get(cs);
  if (d === undefined) {
    d = decoderFor(cs);
    if (decoderCache.size < 200) decoderCache.set(cs, d);
  }
  return d;
}

/** Whether decodeBytes reads this label as itself (and not by sniffing). */
export function isSupportedCharset(label: string): boolean {
  const cs = normalizeCharset(label);
  return cs === 'iso-2022-jp' || cs === 'utf-8' || cs === 'us-ascii' || cachedDecoder(cs) !== null;
}

/** True when the buffer holds an ISO-2022-JP designation (ESC $ @, ESC $ B, ESC $ ( x, ESC ( J, ESC ( I). */
export function hasJisEscape(buf: Uint8Array): boolean {
  let i = buf.indexOf(ESC);
  while (i !== -1 && i + 2 < buf.length) {
    const a = buf[i + 1];
    const b = buf[i + 2];
    if (a === 0x24 && (b === 0x40 || b === 0x42 || b === 0x28)) return true; // $@ $B $(
    if (a === 0x28 && (b === 0x4a || b === 0x49)) return true; // (J (I
    i = buf.indexOf(ESC, i + 1);
  }
  return false;
}

interface JapaneseScan {
  errors: number;
  halfKana: number;
}

function scanCp932(buf: Uint8Array): JapaneseScan {
  let errors = 0;
  let halfKana = 0;
  for (let i = 0; i < buf.length; ) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
    } else if (b >= 0xa1 && b <= 0xdf) {
      halfKana++;
      i++;
    } else if ((b >= 0x81 && b <= 0x9f) || (b >= 0xe0 && b <= 0xfc)) {
      const t = buf[i + 1];
      if (t !== undefined && t >= 0x40 && t <= 0xfc && t !== 0x7f) i += 2;
      else {
        errors++;
        i++;
      }
    } else {
      errors++;
      i++;
    }
  }
  return { errors, halfKana };
}

function scanEucJp(buf: Uint8Array): JapaneseScan {
  let errors = 0;
  let halfKana = 0;
  const isEuc = (x: number | undefined): boolean => x !== undefined && x >= 0xa1 && x <= 0xfe;
  for (let i = 0; i < buf.length; ) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
    } else if (b === 0x8e && buf[i + 1] !== undefined && buf[i + 1]! >= 0xa1 && buf[i + 1]! <= 0xdf) {
      halfKana++;
      i += 2;
    } else if (b === 0x8f && isEuc(buf[i + 1]) && isEuc(buf[i + 2])) {
      i += 3;
    } else if (isEuc(b) && isEuc(buf[i + 1])) {
      i += 2;
    } else {
      errors++;
      i++;
    }
  }
  return { errors, halfKana };
}

/**
 * Guess the charset of undeclared data. 7-bit data with JIS escapes is ISO-2022-JP; 8-bit data is
 * UTF-8 when it is valid UTF-8, else CP932 or EUC-JP, whichever reads with fewer errors (half-width
 * katakana count against a reading: EUC-JP kana read as CP932 come out as them). Null for plain ASCII.
 */
export function sniffJapanese(buf: Uint8Array): SniffedCharset | null {
  if (isAscii(buf)) return hasJisEscape(buf) ? 'iso-2022-jp' : null;
  if (isUtf8(buf)) return 'utf-8';
  if (hasJisEscape(buf)) return 'iso-2022-jp';
  const s = scanCp932(buf);
  const e = scanEucJp(buf);
  return e.errors * 10 + e.halfKana < s.errors * 10 + s.halfKana ? 'euc-jp' : 'cp932';
}

// ---- ISO-2022-JP ----------------------------------------------------------------------------

let jis0208: Uint16Array | null = null;
let jis0212: Uint16Array | null = null;

/**
 * JIS X 0208 (with CP932's NEC row 13 and NEC-selected IBM rows 89-92) as a 94×94 table, built
 * once by mapping each JIS code to its Shift_JIS code and reading that as CP932.
 */
function jis0208Table(): Uint16Array {
  if (jis0208) return jis0208;
  const sjis = Buffer.alloc(94 * 94 * 2);
  let k = 0;
  for (let j1 = 0x21; j1 <= 0x7e; j1++) {
    for (let j2 = 0x21; j2 <= 0x7e; j2++) {
      sjis[k++] = ((j1 + 1) >> 1) + (j1 <= 0x5e ? 0x70 : 0xb0);
      sjis[k++] = j1 & 1 ? j2 + (j2 >= 0x60 ? 0x20 : 0x1f) : j2 + 0x7e;
    }
  }
  jis0208 = readTable(sjis, 2, 'cp932');
  return jis0208;
}

/**
 * Decode 94×94 fixed-width codes at once; every code is well-formed, so each gives exactly one
 * character (U+FFFD when unassigned). Should a codec ever disagree, decode code by code.
 */
function readTable(codes: Buffer, width: number, codec: string): Uint16Array {
  const table = new Uint16Array(94 * 94).fill(REPLACEMENT);
  const all = iconv.decode(codes, codec);
  if (all.length === table.length) {
    for (let i = 0; i < table.length; i++) table[i] = all.charCodeAt(i);
    return table;
  }
  for (let i = 0; i < table.length; i++) {
    const s = iconv.decode(codes.subarray(i * width, i * width + width), codec);
    if (s.length === 1) table[i] = s.charCodeAt(0);
  }
  return table;
}

/** JIS X 0212 (ISO-2022-JP-1, ESC $ ( D) read through EUC-JP's 0x8F plane. */
function jis0212Table(): Uint16Array {
  if (jis0212) return jis0212;
  const euc = Buffer.alloc(94 * 94 * 3);
  let k = 0;
  for (let j1 = 0x21; j1 <= 0x7e; j1++) {
    for (let j2 = 0x21; j2 <= 0x7e; j2++) {
      euc[k++] = 0x8f;
      euc[k++] = j1 | 0x80;
      euc[k++] = j2 | 0x80;
    }
  }
  jis0212 = readTable(euc, 3, 'euc-jp');
  return jis0212;
}

/** GB 2312 (ESC $ A) and KS C 5601 (ESC $ ( C) of ISO-2022-JP-2, read through their EUC forms. */
const eucTables = new Map<string, Uint16Array>();
function euc94Table(codec: string): Uint16Array {
  let table = eucTables.get(codec);
  if (table) return table;
  const euc = Buffer.alloc(94 * 94 * 2);
  let k = 0;
  for (let j1 = 0x21; j1 <= 0x7e; j1++) {
    for (let j2 = 0x21; j2 <= 0x7e; j2++) {
      euc[k++] = j1 | 0x80;
      euc[k++] = j2 | 0x80;
    }
  }
  table = readTable(euc, 2, codec);
  eucTables.set(codec, table);
  return table;
}

// Unknown2: a two-byte set this decoder has no table for (JIS X 0213 plane 2, ESC $ ( P, or any
// other ESC $ F): each pair is one U+FFFD, never a JIS X 0208 character it is not
const JisMode = { Ascii: 0, Kana: 1, Jis0208: 2, Jis0212: 3, Gb2312: 4, Ksc5601: 5, Unknown2: 6 } as const;
type JisMode = (typeof JisMode)[keyof typeof JisMode];

/** ISO-2022-JP-2 G2 sets (ESC . A Latin-1, ESC . F Greek), used one character at a time by ESC N. */
const G2 = { None: 0, Latin1: 1, Greek: 2 } as const;
type G2 = (typeof G2)[keyof typeof G2];

function g2Char(set: G2, c: number): number {
  if (set === G2.Latin1) return 0x80 + c;
  if (set === G2.Greek) return iconv.decode(Buffer.from([c | 0x80]), 'iso-8859-7').charCodeAt(0);
  return REPLACEMENT;
}

/**
 * Length of an ISO 2022 designation at i (ESC, intermediates 0x20-0x2F, a final 0x30-0x7E), 0 for
 * anything else: a bare ESC followed by a letter is left to show that letter.
 */
function escapeLength(buf: Uint8Array, i: number): number {
  let k = i + 1;
  while (k < buf.length && k - i <= 4 && buf[k]! >= 0x20 && buf[k]! <= 0x2f) k++;
  return k > i + 1 && k < buf.length && buf[k]! >= 0x30 && buf[k]! <= 0x7e ? k + 1 - i : 0;
}

/**
 * Decode ISO-2022-JP as Windows does for CP50220-CP50222: ESC ( B / ESC ( J → ASCII (JIS X 0201
 * Roman is read as ASCII: ¥ and ‾ would only garble paths and tildes), ESC ( I and SO/SI (after
 * ESC ) I or without it) → half-width katakana, ESC $ @ / ESC $ B / ESC $ ( O / ESC $ ( Q → JIS
 * X 0208 with the CP932 extensions, ESC $ ( D → JIS X 0212, raw 8-bit 0xA1-0xDF → half-width
 * katakana; and the rest of ISO-2022-JP-2 (RFC 1554: ESC $ A GB 2312, ESC $ ( C KS C 5601,
 * ESC . A / ESC . F with ESC N). Any other escape sequence is one U+FFFD, never shown as text.
 */
export function decodeIso2022jp(buf: Uint8Array): string {
  const out = new Uint16Array(buf.length);
  let n = 0;
  let mode: JisMode = JisMode.Ascii;
  let g2: G2 = G2.None;
  let shifted = false; // SO ... SI (CP50222)
  const len = buf.length;
  for (let i = 0; i < len; ) {
    const b = buf[i]!;
    if (b === ESC) {
      const a = buf[i + 1];
      const c = buf[i + 2];
      if (a === 0x28 && (c === 0x42 || c === 0x4a || c === 0x48)) {
        mode = JisMode.Ascii;
        shifted = false;
        i += 3;
        continue;
      }
      if (a === 0x28 && c === 0x49) {
        mode = JisMode.Kana;
        i += 3;
        continue;
      }
      if (a === 0x29 && c === 0x49) {
        i += 3; // ESC ) I: JIS X 0201 katakana as G1, which SO selects (CP50220's registration)
        continue;
      }
      if (a === 0x24 && (c === 0x40 || c === 0x42)) {
        mode = JisMode.Jis0208;
        i += 3;
        continue;
      }
      if (a === 0x24 && c === 0x41) {
        mode = JisMode.Gb2312;
        i += 3;
        continue;
      }
      if (a === 0x24 && c === 0x28) {
        const d = buf[i + 3];
        if (d === 0x44) mode = JisMode.Jis0212;
        else if (d === 0x4f || d === 0x51 || d === 0x42 || d === 0x40) mode = JisMode.Jis0208;
        else if (d === 0x43) mode = JisMode.Ksc5601;
        else if (d !== undefined && d >= 0x40 && d <= 0x7e) mode = JisMode.Unknown2;
        else {
          out[n++] = REPLACEMENT;
          i++;
          continue;
        }
        i += 4;
        continue;
      }
      if (a === 0x2e && (c === 0x41 || c === 0x46)) {
        g2 = c === 0x41 ? G2.Latin1 : G2.Greek;
        i += 3;
        continue;
      }
      if (a === 0x4e) {
        // ESC N: single shift 2, the next byte from G2
        if (c !== undefined && c >= 0x20 && c <= 0x7f) {
          out[n++] = g2Char(g2, c);
          i += 3;
        } else {
          out[n++] = REPLACEMENT;
          i += 2;
        }
        continue;
      }
      if (a === 0x26 && c === 0x40) {
        i += 3; // ESC & @: JIS X 0208-1990 announcer, followed by ESC $ B
        continue;
      }
      const k = escapeLength(buf, i);
      if (k === 0) {
        out[n++] = REPLACEMENT;
        i++;
        continue;
      }
      if (a === 0x24) mode = JisMode.Unknown2; // ESC $ F: some two-byte set, its pairs are U+FFFD
      else out[n++] = REPLACEMENT;
      i += k;
      continue;
    }
    if (b === 0x0e) {
      shifted = true;
      i++;
      continue;
    }
    if (b === 0x0f) {
      shifted = false;
      i++;
      continue;
    }
    if (b >= 0x80) {
      out[n++] = b >= 0xa1 && b <= 0xdf ? 0xff61 + (b - 0xa1) : REPLACEMENT;
      i++;
      continue;
    }
    if ((shifted || mode === JisMode.Kana) && b >= 0x21 && b <= 0x5f) {
      out[n++] = 0xff61 + (b - 0x21);
      i++;
      continue;
    }
    if (mode >= JisMode.Jis0208 && b >= 0x21 && b <= 0x7e) {
      const t = buf[i + 1];
      if (t !== undefined && t >= 0x21 && t <= 0x7e) {
        if (mode === JisMode.Unknown2) out[n++] = REPLACEMENT;
        else {
          const table =
            mode === JisMode.Jis0208 ? jis0208Table() : mode === JisMode.Jis0212 ? jis0212Table() : euc94Table(mode === JisMode.Gb2312 ? 'gb2312' : 'euc-kr');
          out[n++] = table[(b - 0x21) * 94 + (t - 0x21)]!;
        }
        i += 2;
      } else {
        out[n++] = REPLACEMENT;
        i++;
      }
      continue;
    }
    out[n++] = b; // ASCII, and controls/space in any mode
    i++;
  }
  return Buffer.from(out.buffer, out.byteOffset, n * 2).toString('utf16le');
}

// ---- entry point ----------------------------------------------------------------------------

/** At least two 3-byte UTF-8 sequences in the CJK lead range. */
function hasUtf8Cjk(buf: Uint8Array): boolean {
  let n = 0;
  for (let i = 0; i + 2 < buf.length; i++) {
    const b = buf[i]!;
    if (b >= 0xe3 && b <= 0xe9 && (buf[i + 1]! & 0xc0) === 0x80 && (buf[i + 2]! & 0xc0) === 0x80 && ++n >= 2) return true;
  }
  return false;
}

function decodeSniffed(buf: Buffer, cs: SniffedCharset | null): string {
  switch (cs) {
    case null:
      return buf.toString('latin1'); // pure ASCII
    case 'iso-2022-jp':
      return decodeIso2022jp(buf);
    case 'utf-8':
      return buf.toString('utf8');
    default:
      return iconv.decode(buf, cs);
  }
}

/** Decode bytes declared (or not) as `charset`. Never throws; unknown charsets are sniffed. */
export function decodeBytes(buf: Buffer, charset: string | undefined): string {
  if (buf.length === 0) return '';
  const cs = charset ? normalizeCharset(charset) : '';
  const ascii = isAscii(buf);
  if (cs === 'iso-2022-jp') {
    // "ISO-2022-JP" with 8-bit data and no JIS escape is raw Shift_JIS, EUC-JP or UTF-8
    if (ascii || hasJisEscape(buf)) return decodeIso2022jp(buf);
    return decodeSniffed(buf, sniffJapanese(buf));
  }
  // Japanese text in UTF-8 uses 3-byte sequences (lead 0xE3-0xE9); valid UTF-8 that has them
  // is not Shift_JIS or EUC-JP text, whatever the label says
  if ((cs === 'cp932' || cs === 'euc-jp') && !ascii && isUtf8(buf) && hasUtf8Cjk(buf)) return buf.toString('utf8');
  if (ascii) {
    // 7-bit data under any label (or none) that carries JIS escapes is ISO-2022-JP: mailers
    // that forget the charset, or label JIS as us-ascii/utf-8, are common in Japan.
    if (buf.indexOf(ESC) !== -1 && hasJisEscape(buf)) return decodeIso2022jp(buf);
    if (cs === '' || cs === 'us-ascii' || cs === 'utf-8' || cs === 'windows-1252') return buf.toString('latin1');
  }
  if (cs === '' || cs === 'us-ascii') return decodeSniffed(buf, sniffJapanese(buf));
  if (cs === 'utf-8') {
    if (isUtf8(buf)) return buf.toString('utf8');
    const text = buf.toString('utf8');
    // Mostly-broken "UTF-8" that reads cleanly as CP932 or EUC-JP is mislabelled legacy
    // Japanese; UTF-8 with a few bad sequences (a cut character) stays UTF-8.
    let broken = 0;
    let nonAscii = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === REPLACEMENT) broken++;
      else if (c >= 0x80) nonAscii++;
    }
    if (broken >= nonAscii) {
      const guess = sniffJapanese(buf);
      if (guess === 'cp932' || guess === 'euc-jp') {
        const scan = guess === 'cp932' ? scanCp932(buf) : scanEucJp(buf);
        if (scan.errors === 0) return iconv.decode(buf, guess);
      }
    }
    return text;
  }
  const decoder = cachedDecoder(cs);
  if (!decoder) return decodeSniffed(buf, sniffJapanese(buf));
  try {
    return decoder(buf);
  } catch {
    return decodeSniffed(buf, sniffJapanese(buf));
  }
}
