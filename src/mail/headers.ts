// Header-level parsing of raw mail, no full MIME parse: the header/body split (RFC 5322 2.1),
// unfolded fields (RFC 5322 2.2.3), MIME encoded-words (RFC 2047, with the RFC 2231 section 5
// language suffix), Content-Type/Content-Disposition parameters (RFC 2045 5.1, RFC 2183, RFC 2231
// continuations and charsets), address lists (RFC 5322 3.4) and Message-ID (RFC 5322 3.6.4).
// Field values are kept as latin1 "binary" strings (one char per byte) until they are decoded,
// because Japanese mailers send raw Shift_JIS, EUC-JP or ISO-2022-JP in headers (RFC 2047 says
// they must not), and UTF-8 headers are legal under RFC 6532.
import addressparser from 'nodemailer/lib/addressparser/index.js';
import { decodeBytes, decodeIso2022jp, normalizeCharset, sniffJapanese } from './charset.ts';
import type { SniffedCharset } from './charset.ts';

export interface HeaderField {
  /** lower-cased field name */
  name: string;
  /** unfolded value, trimmed, as a latin1 (one char per byte) string */
  value: string;
}

export interface Address {
  name: string;
  address: string;
}

export interface HeaderBlock {
  fields: HeaderField[];
  /** lines that are neither a field nor a continuation (a mailbox "From " line is not counted) */
  malformedLines: number;
  /** more than `maxFields` fields: the rest were not read */
  truncated: boolean;
}

/** Fields kept from one header block; the rest of a longer block is ignored. */
export const MAX_HEADER_FIELDS = 5_000;
/** Parameters kept from one Content-Type or Content-Disposition value. */
export const MAX_PARAMS = 100;
const MAX_PARAM_SECTIONS = 1_000;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Where the header ends: the first empty line (CRLFCRLF, LFLF, or mixed). With no empty line the
 * whole buffer is header and bodyOffset is raw.length. A buffer that starts with an empty line has
 * an empty header. headerBytes keeps the line break of the last field line.
 */
export function splitHeader(raw: Buffer): { headerBytes: Buffer; bodyOffset: number } {
  if (raw[0] === LF) return { headerBytes: raw.subarray(0, 0), bodyOffset: 1 };
  if (raw[0] === CR && raw[1] === LF) return { headerBytes: raw.subarray(0, 0), bodyOffset: 2 };
  // "\n\r\n" first, then "\n\n" only before it, so a mail without LFLF is not scanned twice
  const crlf = raw.indexOf('\n\r\n');
  const lf = (crlf === -1 ? raw : raw.subarray(0, crlf + 1)).indexOf('\n\n');
  if (lf !== -1) return { headerBytes: raw.subarray(0, lf + 1), bodyOffset: lf + 2 };
  if (crlf !== -1) return { headerBytes: raw.subarray(0, crlf + 1), bodyOffset: crlf + 3 };
  return { headerBytes: raw, bodyOffset: raw.length };
}

function isFieldName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x3a) return false;
  }
  return true;
}

/** Parse a header block into fields, keeping order and duplicates; stops at an empty line. */
export function parseHeaderBlock(header: Buffer | string, maxFields = MAX_HEADER_FIELDS): HeaderBlock {
  const text = typeof header === 'string' ? header : header.toString('latin1');
  const fields: HeaderField[] = [];
  let malformedLines = 0;
  let truncated = false;
  let name: string | null = null;
  let parts: string[] = [];
  let pos = 0;
  const len = text.length;
  // the next ':' at or after pos, found once for a run of lines without one (else quadratic)
  let nextColon = -1;
  while (pos < len) {
    let nl = text.indexOf('\n', pos);
    if (nl === -1) nl = len;
    let end = nl;
    if (end > pos && text.charCodeAt(end - 1) === CR) end--;
    const first = text.charCodeAt(pos);
    if (end === pos) break; // empty line: end of header
    if (first === 0x20 || first === 0x09) {
      if (name !== null) parts.push(text.slice(pos, end));
      else malformedLines++;
    } else {
      if (name !== null) fields.push({ name, value: (parts.length === 1 ? parts[0]! : parts.join('')).trim() });
      name = null;
      parts = [];
      if (nextColon !== len && nextColon < pos) {
        nextColon = text.indexOf(':', pos);
        if (nextColon === -1) nextColon = len;
      }
      const colon = nextColon;
      const fieldName = colon < end ? text.slice(pos, colon).trim() : '';
      if (isFieldName(fieldName)) {
        if (fields.length >= maxFields) {
          truncated = true;
          break;
        }
        name = fieldName.toLowerCase();
        parts.push(text.slice(colon + 1, end));
      } else if (!(pos === 0 && text.startsWith('From ', 0))) {
        malformedLines++;
      }
    }
    pos = nl + 1;
  }
  if (name !== null) fields.push({ name, value: (parts.length === 1 ? parts[0]! : parts.join('')).trim() });
  return { fields, malformedLines, truncated };
}

/** Ordered list of { name (lower-case), value (unfolded, latin1) }. */
export function parseHeaderFields(headerBytes: Buffer | string): HeaderField[] {
  return parseHeaderBlock(headerBytes).fields;
}

/** First value of a field, by lower-case name. */
export function getField(fields: readonly HeaderField[], name: string): string | undefined {
  for (const f of fields) if (f.name === name) return f.value;
  return undefined;
}

// ---- encoded-words (RFC 2047) -----------------------------------------------------------------

// The text may hold spaces: some mailers fold inside an encoded-word, and it cannot hold '?', so
// a match never runs into the next word.
const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?]*)\?=/g;
const WSP_ONLY = /^[ \t\r\n]*$/;
const NON_ASCII_OR_ESC = /[\x80-\xff\x1b]/;
const WIDE = /[^\x00-\xff]/;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function qDecode(s: string, underscoreIsSpace: boolean): Buffer {
  const out = Buffer.allocUnsafe(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5f && underscoreIsSpace) {
      out[n++] = 0x20;
    } else if (c === 0x3d && hexValue(s.charCodeAt(i + 1)) >= 0 && hexValue(s.charCodeAt(i + 2)) >= 0) {
      out[n++] = hexValue(s.charCodeAt(i + 1)) * 16 + hexValue(s.charCodeAt(i + 2));
      i += 2;
    } else {
      out[n++] = c & 0xff;
    }
  }
  return out.subarray(0, n);
}

const CLEAN_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
function bDecode(s: string): Buffer {
  return Buffer.from(CLEAN_BASE64.test(s) ? s : s.replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
}

/**
 * Decode a header value: RFC 2047 encoded-words (B and Q; whitespace between adjacent words
 * dropped; adjacent words of one charset joined as bytes before decoding, so a character split
 * across two words survives) and raw 8-bit or ISO-2022-JP text (charset sniffed over the whole
 * value). `value` is a latin1 binary string as parseHeaderFields gives; a string that already
 * holds characters above U+00FF is taken as decoded text and only its encoded-words are decoded.
 */
export function decodeEncodedWords(value: string): string {
  return decodeWords(value, !WIDE.test(value));
}

function decodeWords(value: string, binary: boolean): string {
  if (value.indexOf('=?') === -1) return binary ? decodeRaw(value, value, undefined) : value;
  // one sniff of the whole value for the raw (not encoded-word) text, done only when needed
  let sniffed: SniffedCharset | null | undefined;
  let out = '';
  let last = 0;
  let pendingCharset: string | null = null;
  let pending: Buffer[] = [];
  ENCODED_WORD.lastIndex = 0;
  for (let m = ENCODED_WORD.exec(value); m !== null; m = ENCODED_WORD.exec(value)) {
    const index = m.index;
    if (pendingCharset === null || !WSP_ONLY.test(value.slice(last, index))) {
      if (pendingCharset !== null) out += decodeBytes(pending.length === 1 ? pending[0]! : Buffer.concat(pending), pendingCharset || undefined);
      pendingCharset = null;
      pending = [];
      if (index > last) {
        const gap = value.slice(last, index);
        if (binary && NON_ASCII_OR_ESC.test(gap)) {
          if (sniffed === undefined) sniffed = sniffJapanese(Buffer.from(value, 'latin1'));
          out += decodeRaw(gap, value, sniffed);
        } else out += gap;
      }
    }
    const charset = normalizeCharset(m[1]!);
    const text = m[3]!;
    const bytes = m[2] === 'B' || m[2] === 'b' ? bDecode(text) : qDecode(text, true);
    if (pendingCharset !== charset) {
      if (pendingCharset !== null) out += decodeBytes(pending.length === 1 ? pending[0]! : Buffer.concat(pending), pendingCharset || undefined);
      pendingCharset = charset;
      pending = [];
    }
    pending.push(bytes);
    last = index + m[0].length;
  }
  if (pendingCharset !== null) out += decodeBytes(pending.length === 1 ? pending[0]! : Buffer.concat(pending), pendingCharset || undefined);
  if (last < value.length) {
    const tail = value.slice(last);
    if (binary && NON_ASCII_OR_ESC.test(tail)) {
      if (sniffed === undefined) sniffed = sniffJapanese(Buffer.from(value, 'latin1'));
      out += decodeRaw(tail, value, sniffed);
    } else out += tail;
  }
  return out;
}

/** Raw 8-bit or JIS text of a header value, in the charset sniffed from the whole value. */
function decodeRaw(s: string, whole: string, sniffed: SniffedCharset | null | undefined): string {
  if (s.length === 0 || !NON_ASCII_OR_ESC.test(s)) return s;
  const cs = sniffed === undefined ? sniffJapanese(Buffer.from(whole, 'latin1')) : sniffed;
  const bytes = Buffer.from(s, 'latin1');
  if (cs === 'iso-2022-jp') return decodeIso2022jp(bytes);
  return decodeBytes(bytes, cs ?? undefined);
}

// ---- addresses --------------------------------------------------------------------------------

/**
 * Parse an address-list field (From, To, Cc, Reply-To) into { name, address } with decoded
 * names. Groups are flattened. Raw 8-bit or ISO-2022-JP is decoded before the list is split,
 * since its bytes may look like '"', ',', '<' or '\' (Shift_JIS 表 is 0x95 0x5C).
 */
export function parseAddressList(value: string): Address[] {
  let text = value;
  if (!WIDE.test(value) && NON_ASCII_OR_ESC.test(value)) text = decodeBytes(Buffer.from(value, 'latin1'), undefined);
  const simple = simpleAddressList(text);
  if (simple) return simple;
  const out: Address[] = [];
  for (const a of addressparser(text, { flatten: true })) {
    const name = decodeWords((a.name ?? '').trim(), false).trim();
    const address = (a.address ?? '').trim();
    if (name || address) out.push({ name, address });
  }
  return out;
}

const BARE_ADDR = /^[^<>\s@]+@[^<>\s@]+$/;
const SIMPLE_QUOTED_ADDR = /^\s*"([^"\\]*)"\s*<([^<>\s@]+@[^<>\s@]+)>\s*$/;
// list items: runs of quoted strings and characters other than ',' and '"'
const LIST_ITEM = /(?:"[^"]*"|[^,"])+/g;
const SIMPLE_ADDR = /^\s*(?:<([^<>\s@]+@[^<>\s@]+)>|([^<>\s@]+@[^<>\s@]+))\s*$/;

/**
 * The common shapes ("a@b", "<a@b>", "Name <a@b>", "\"Name\" <a@b>", comma lists of the first
 * three) without the general parser, giving what addressparser gives; null for anything else.
 */
function simpleAddressList(text: string): Address[] | null {
  if (/[()\\:;]/.test(text)) return null;
  let items: string[];
  if (text.indexOf('"') === -1) {
    items = text.split(',');
  } else {
    if ((text.match(/"/g) ?? []).length % 2 !== 0) return null;
    items = text.match(LIST_ITEM) ?? [];
  }
  const out: Address[] = [];
  for (const item of items) {
    if (item.indexOf('"') !== -1) {
      const q = SIMPLE_QUOTED_ADDR.exec(item);
      if (!q) return null;
      out.push({ name: decodeWords(q[1]!.trim(), false).trim(), address: q[2]! });
      continue;
    }
    const m = SIMPLE_ADDR.exec(item);
    if (m) {
      out.push({ name: '', address: (m[1] ?? m[2])! });
      continue;
    }
    // Name <a@b>, by hand: a regex with a lazy name next to \s* backtracks quadratically
    const lt = item.indexOf('<');
    const gt = item.indexOf('>');
    if (lt !== -1 && gt > lt && item.indexOf('<', lt + 1) === -1 && item.indexOf('>', gt + 1) === -1 && item.slice(gt + 1).trim() === '') {
      const name = item.slice(0, lt);
      const address = item.slice(lt + 1, gt);
      if (name.indexOf('@') === -1 && BARE_ADDR.test(address)) {
        out.push({ name: decodeWords(name.trim(), false).trim(), address });
        continue;
      }
    }
    if (item.trim() !== '') return null;
  }
  return out;
}

/** The first <id> of a Message-ID field, with its angle brackets; a bare id gets them added. */
export function parseMessageId(value: string): string | null {
  const m = /<\s*([^<>\s]+)\s*>/.exec(value);
  if (m) return `<${m[1]}>`;
  const token = value.trim().split(/\s+/)[0];
  if (!token) return null;
  return `<${token.replace(/^<|>$/g, '')}>`;
}

// ---- MIME parameters (RFC 2045, RFC 2231) -------------------------------------------------------

export interface MimeHeaderValue {
  /** lower-cased main value, e.g. 'multipart/mixed' or 'attachment' ('' when missing) */
  value: string;
  /** lower-cased parameter names; RFC 2231 values decoded, name/filename decoded, others raw */
  params: Map<string, string>;
}

interface Section {
  index: number;
  extended: boolean;
  value: string;
}

const DISPLAY_PARAMS = new Set(['name', 'filename']);

function pctDecode(s: string): Buffer {
  const out = Buffer.allocUnsafe(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && hexValue(s.charCodeAt(i + 1)) >= 0 && hexValue(s.charCodeAt(i + 2)) >= 0) {
      out[n++] = hexValue(s.charCodeAt(i + 1)) * 16 + hexValue(s.charCodeAt(i + 2));
      i += 2;
    } else {
      out[n++] = c & 0xff;
    }
  }
  return out.subarray(0, n);
}

/** tokenizeParams for the usual value without comments or backslashes, by slicing. */
function tokenizeSimple(input: string): { value: string; raw: Array<[string, string]> } {
  const raw: Array<[string, string]> = [];
  const len = input.length;
  let i = input.indexOf(';');
  const value = (i === -1 ? input : input.slice(0, i)).trim().toLowerCase();
  let nextEq = -1; // cached like nextColon in parseHeaderBlock: ";;;;…" must stay linear
  while (i !== -1 && i < len && raw.length < MAX_PARAMS) {
    i++;
    if (nextEq !== len && nextEq < i) {
      nextEq = input.indexOf('=', i);
      if (nextEq === -1) nextEq = len;
    }
    const eq = nextEq === len ? -1 : nextEq;
    const semi = input.indexOf(';', i);
    if (eq === -1 || (semi !== -1 && semi < eq)) {
      i = semi;
      continue;
    }
    const name = input.slice(i, eq).trim().toLowerCase();
    let k = eq + 1;
    while (k < len && (input.charCodeAt(k) === 0x20 || input.charCodeAt(k) === 0x09 || input.charCodeAt(k) === 0x0d || input.charCodeAt(k) === 0x0a)) k++;
    let val: string;
    if (input.charCodeAt(k) === 0x22) {
      let close = input.indexOf('"', k + 1);
      if (close === -1) close = len;
      val = input.slice(k + 1, close);
      i = input.indexOf(';', close);
    } else {
      val = input.slice(k, semi === -1 ? len : semi).trim();
      i = semi;
    }
    if (name) raw.push([name, val]);
  }
  return { value, raw };
}

/** Split `value; a=b; c="d"` into the main value and raw (unquoted) parameters, comments dropped. */
function tokenizeParams(input: string): { value: string; raw: Array<[string, string]> } {
  if (input.indexOf('(') === -1 && input.indexOf('\\') === -1) return tokenizeSimple(input);
  const raw: Array<[string, string]> = [];
  let i = 0;
  const len = input.length;
  const skipComment = (): void => {
    let depth = 0;
    for (; i < len; i++) {
      const c = input[i];
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) {
        i++;
        return;
      }
    }
  };
  const readUntil = (stops: string, comments = true): string => {
    let s = '';
    while (i < len) {
      const c = input[i]!;
      if (stops.includes(c)) break;
      if (c === '(' && comments) {
        skipComment();
        continue;
      }
      s += c;
      i++;
    }
    return s.trim();
  };
  const main = readUntil(';');
  while (i < len && raw.length < MAX_PARAMS) {
    i++; // the ';'
    const name = readUntil('=;').toLowerCase();
    if (input[i] !== '=') {
      continue;
    }
    i++;
    while (i < len && (input[i] === ' ' || input[i] === '\t' || input[i] === '\r' || input[i] === '\n')) i++;
    let val: string;
    if (input[i] === '"') {
      i++;
      val = '';
      while (i < len && input[i] !== '"') {
        const c = input[i]!;
        // only \" and \\ are escapes: Windows paths and the 0x5C second byte of raw Shift_JIS
        // (表, ソ) stay literal; a backslash after a Shift_JIS lead byte never escapes
        if (c === '\\' && (input[i + 1] === '"' || input[i + 1] === '\\') && !(i > 0 && input.charCodeAt(i - 1) >= 0x81)) {
          val += input[i + 1];
          i += 2;
        } else {
          val += c;
          i++;
        }
      }
      i++;
      readUntil(';'); // junk after the closing quote
    } else {
      val = readUntil(';', false); // report(1).pdf: parentheses in a bare value are kept
    }
    if (name) raw.push([name, val]);
  }
  return { value: main.toLowerCase(), raw };
}

// A two-byte ISO-2022-JP run (ESC $ B ... up to the next ESC): its bytes are halves of characters
// (あ is 0x24 0x22, え 0x24 0x28), never quotes, backslashes, parentheses or semicolons.
const JIS_TWO_BYTE_RUN = /\x1b(?:\$[@AB]|\$\([@-Z])[^\x1b]*/g;
const JIS_HIDDEN_BASE = 0xe000;

/** Raw ISO-2022-JP in a parameter (filename="ESC$B$"$$ESC(B.doc" from old Japanese mailers), moved out of the tokenizer's sight. */
function hideJisBytes(input: string): string {
  return input.replace(JIS_TWO_BYTE_RUN, (run) => {
    const designation = run[2] === '(' ? 4 : 3;
    let out = run.slice(0, designation);
    for (let i = designation; i < run.length; i++) {
      const c = run.charCodeAt(i);
      out += c >= 0x21 && c <= 0x7e ? String.fromCharCode(JIS_HIDDEN_BASE + c) : run[i];
    }
    return out;
  });
}

function unhideJisBytes(value: string): string {
  return value.replace(/[\ue021-\ue07e]/g, (c) => String.fromCharCode(c.charCodeAt(0) - JIS_HIDDEN_BASE));
}

/**
 * Parse a Content-Type or Content-Disposition value. RFC 2231 sections (`name*0*=`, `name*1=`)
 * are joined as bytes and decoded with their declared charset; encoded-words and raw 8-bit text
 * in `name`/`filename` (common from Japanese mailers, though no RFC allows it) are decoded too.
 */
export function parseMimeHeaderValue(input: string): MimeHeaderValue {
  const jis = input.indexOf('\x1b') !== -1 && !WIDE.test(input);
  const { value, raw } = tokenizeParams(jis ? hideJisBytes(input) : input);
  if (jis) for (const r of raw) r[1] = unhideJisBytes(r[1]);
  const params = new Map<string, string>();
  const sections = new Map<string, Section[]>();
  for (const [name, val] of raw) {
    const m = /^([^*]+)(?:\*(\d{1,4}))?(\*)?$/.exec(name);
    if (!m || (m[2] === undefined && m[3] === undefined)) {
      if (!params.has(name)) params.set(name, DISPLAY_PARAMS.has(name) ? decodeWords(val, !WIDE.test(val)) : val);
      continue;
    }
    const base = m[1]!;
    let list = sections.get(base);
    if (!list) sections.set(base, (list = []));
    if (list.length < MAX_PARAM_SECTIONS) list.push({ index: m[2] === undefined ? 0 : Number(m[2]), extended: m[3] !== undefined, value: val });
  }
  for (const [base, list] of sections) {
    list.sort((a, b) => a.index - b.index);
    let charset = '';
    const bytes: Buffer[] = [];
    list.forEach((s, k) => {
      let v = s.value;
      if (k === 0 && s.extended) {
        const q1 = v.indexOf("'");
        const q2 = q1 === -1 ? -1 : v.indexOf("'", q1 + 1);
        if (q2 !== -1) {
          charset = v.slice(0, q1).trim();
          v = v.slice(q2 + 1);
        }
      }
      bytes.push(s.extended ? pctDecode(v) : Buffer.from(v, 'latin1'));
    });
    const joined = Buffer.concat(bytes);
    params.set(base, charset ? decodeBytes(joined, charset) : decodeWords(joined.toString('latin1'), true));
  }
  return { value, params };
}
