// Composing the many mails of one bulk delivery fast. They differ only by recipient, merge
// fields, Message-ID and Date, so the work that does not depend on those is done once per
// bulk delivery (`BulkMailComposer.compile`): the templates split at their fields, the From
// header written, the MIME boundary chosen, the ISO-2022-JP repertoire checked for the
// templates' own text. Each mail is then string concatenation plus the encoding of its parts.
//
// The output is what composeMail (compose.ts, nodemailer's MailComposer) writes for the same
// input, byte for byte apart from the random MIME boundary: the same header order, the same
// encoded-words and folding (nodemailer's mime-funcs), the same choice of 7bit, quoted-
// printable or base64 (nodemailer's rule) with nodemailer's own encoders. A mail outside what
// this writer covers is handed to composeMail itself: ISO-2022-JP that cannot carry a field
// value (composeMail then writes UTF-8 and reports the characters), an address beyond
// printable ASCII (IDN), an empty body, a bare CR. test/mail/compose-bulk.test.ts compares
// the two.
import { createHash, randomBytes } from 'node:crypto';
import base64 from 'nodemailer/lib/base64/index.js';
import mimeFuncs from 'nodemailer/lib/mime-funcs/index.js';
import qp from 'nodemailer/lib/qp/index.js';
import { canonicalLines, composeMail, iso2022JpSubjectHeader, listUnsubscribeHeaders, normalizeAddress, type ComposedMail, type MailAddress, type MailCharset } from './compose.ts';
import { isBlankSubject, subjectLine } from './subject.ts';
import { encodeIso2022JpBody, unrepresentableIso2022Jp } from './compose-iso2022jp.ts';
import { compileTemplate, escapeHtml, fillTemplate, type CompiledTemplate } from './template.ts';

export interface BulkMailTemplate {
  from: MailAddress;
  /** the same Reply-To in every mail of the delivery */
  replyTo?: string | MailAddress | null | undefined;
  subject: string;
  text: string | null;
  html: string | null;
  charset: MailCharset;
}

export interface BulkMailFill {
  to: string;
  fields: Readonly<Record<string, string>>;
  /** With angle brackets. */
  messageId: string;
  date?: Date | undefined;
  /** this recipient's unsubscribe link (composeMail's listUnsubscribe) */
  listUnsubscribe?: string | null | undefined;
}

export interface ComposedBulkMail extends ComposedMail {
  /** The subject with the fields filled in. */
  subject: string;
  /**
   * `raw` as the bulk delivery's shared segments and this mail's own bytes (plain 7-bit
   * bodies), what is stored for a sent mail and written to the socket (bulkMailChunks). Such a
   * mail's `raw` is put together only when read: sending and storing it never need to.
   */
  parts?: BulkMailParts | undefined;
}

/** The segments every mail of one composer shares: its templates' literal text, encoded. */
export interface BulkMailBase {
  /** SHA-256 (hex) of the segments: the same templates give the same id in any worker */
  id: string;
  segments: Buffer[];
}

/** A mail as `base` segments and bytes of its own: `raw` is their concatenation in order. */
export interface BulkMailParts {
  base: BulkMailBase;
  /** an index into base.segments, or bytes of this mail */
  parts: (number | Buffer)[];
}

/** A bulk mail's subject: the compiled subject template filled in, on one line (subjectLine). */
export function bulkSubject(subject: CompiledTemplate, fields: Readonly<Record<string, string>>): string {
  return subjectLine(fillTemplate(subject, fields));
}

/** A shared segment at least this long is written as it is; the bytes between two such are joined (a small copy). */
const SHARED_CHUNK = 1024;

/**
 * A mail made of parts as a few buffers for the socket, in order: the large shared segments
 * as they are (the same memory for every mail of the delivery), whatever lies between them
 * joined into one small buffer. Saves putting together ~10 KB per mail, and its garbage.
 */
export function bulkMailChunks({ base, parts }: BulkMailParts): Buffer[] {
  const out: Buffer[] = [];
  let run: Buffer[] = [];
  let runBytes = 0;
  const flush = (): void => {
    if (run.length > 0) out.push(run.length === 1 ? run[0]! : Buffer.concat(run, runBytes));
    run = [];
    runBytes = 0;
  };
  for (const p of parts) {
    const bytes = typeof p === 'number' ? base.segments[p]! : p;
    if (typeof p === 'number' && bytes.length >= SHARED_CHUNK) {
      flush();
      out.push(bytes);
    } else if (bytes.length > 0) {
      run.push(bytes);
      runBytes += bytes.length;
    }
  }
  flush();
  return out;
}

/** A bulk mail made of parts; `raw` is put together when first read. */
class MailFromParts implements ComposedBulkMail {
  #raw: Buffer | undefined;
  constructor(
    readonly parts: BulkMailParts,
    readonly messageId: string,
    readonly envelope: { from: string; to: string[] },
    readonly charset: MailCharset,
    readonly subject: string,
  ) {}

  get raw(): Buffer {
    return (this.#raw ??= Buffer.concat(this.parts.parts.map((x) => (typeof x === 'number' ? this.parts.base.segments[x]! : x))));
  }
}

/** One literal of a template, checked and encoded once for 7-bit plain text. */
interface PlainSegment {
  /** its index in the base */
  index: number;
  /** as plainSegment describes */
  info: SegmentInfo;
}

type Part = { subtype: 'plain' | 'html'; content: string };

/** nodemailer's line length for encoded bodies and folded headers. */
const LINE = 76;

// nodemailer's mime-funcs.encodeWords takes a fourth argument (encode every word) its type lacks
// (and uses `this`)
const encodeWords = (mimeFuncs.encodeWords as (value: string, encoding: 'Q' | 'B', maxLength: number, encodeAll: boolean) => string).bind(mimeFuncs);

export class BulkMailComposer {
  readonly #t: BulkMailTemplate;
  readonly #subject: CompiledTemplate;
  readonly #text: CompiledTemplate | null;
  readonly #html: CompiledTemplate | null;
  readonly #fromHeader: string;
  /** the Reply-To header as composeMail writes it ('' for none) */
  readonly #replyToHeader: string;
  readonly #envelopeFrom: string;
  readonly #boundary: string;
  /** the merge-field names the templates use */
  readonly #fieldNames: string[];
  /** ISO-2022-JP cannot carry the sender's name or the templates' own text: every mail goes to composeMail. */
  readonly #alwaysComposeMail: boolean;
  /** the shared segments (UTF-8 templates whose literals are plain text) */
  readonly #base: BulkMailBase | null;
  /** per body template (text, html), its literals as base segments; null when a literal is not plain text */
  readonly #plain: { subtype: 'plain' | 'html'; template: CompiledTemplate; literals: PlainSegment[] }[] | null;

  private constructor(t: BulkMailTemplate, fromHeader: string, replyToHeader: string, alwaysComposeMail: boolean) {
    this.#t = t;
    this.#subject = compileTemplate(t.subject);
    this.#text = t.text === null ? null : compileTemplate(t.text);
    this.#html = t.html === null ? null : compileTemplate(t.html);
    this.#fromHeader = fromHeader;
    this.#replyToHeader = replyToHeader;
    this.#envelopeFrom = normalizeAddress(t.from).address;
    this.#boundary = `--_NmP-${randomBytes(8).toString('hex')}-Part_1`;
    this.#alwaysComposeMail = alwaysComposeMail;
    this.#fieldNames = [...new Set([this.#subject, this.#text, this.#html].flatMap((c) => c?.names ?? []))];
    const plain = t.charset === 'utf-8' && !alwaysComposeMail ? compilePlain([this.#text && ['plain', this.#text], this.#html && ['html', this.#html]]) : null;
    this.#plain = plain?.templates ?? null;
    this.#base = plain?.base ?? null;
  }

  static async compile(t: BulkMailTemplate): Promise<BulkMailComposer> {
    // the From and Reply-To headers exactly as composeMail writes them, taken from a probe
    // mail (both charsets write Reply-To right after To)
    const probe = await composeMail({ from: t.from, to: ['probe@example.invalid'], replyTo: t.replyTo, subject: '', text: 'x', charset: t.charset, messageId: '<probe@example.invalid>' });
    const head = probe.raw.toString('latin1');
    const fromHeader = head.slice(0, head.indexOf('\r\nTo: '));
    let always = probe.charset !== t.charset || !fromHeader.startsWith('From: ');
    let replyToHeader = '';
    if (t.replyTo) {
      const at = head.indexOf('\r\nTo: probe@example.invalid\r\nReply-To:');
      if (at < 0) always = true;
      else {
        const start = head.indexOf('\r\nReply-To:', at) + 2;
        // up to the next header: the first line break not followed by a folding space or tab
        let end = head.indexOf('\r\n', start);
        while (end >= 0 && (head[end + 2] === ' ' || head[end + 2] === '\t')) end = head.indexOf('\r\n', end + 2);
        replyToHeader = head.slice(start, end);
      }
    }
    if (t.charset === 'iso-2022-jp') {
      const literals = [t.subject, t.text ?? '', t.html ?? ''].map((x) => compileTemplate(x).literals.join('')).join('\n');
      always ||= unrepresentableIso2022Jp(literals).length > 0;
    }
    return new BulkMailComposer(t, fromHeader, replyToHeader, always);
  }

  /** The mail; at once (no promise) unless nodemailer has to write it. */
  compose(f: BulkMailFill): ComposedBulkMail | Promise<ComposedBulkMail> {
    const subject = bulkSubject(this.#subject, f.fields);
    const pieces = this.#pieces(f, subject);
    if (pieces) return new MailFromParts(pieces.parts, f.messageId, { from: this.#envelopeFrom, to: [pieces.to] }, this.#t.charset, subject);
    // the bodies as text only when the segments would not do
    // CRLF line ends, as composeMail makes them (a field value may hold a bare LF or CR)
    const text = this.#text && canonicalLines(fillTemplate(this.#text, f.fields));
    const html = this.#html && canonicalLines(fillTemplate(this.#html, f.fields, { escapeHtml: true }));
    const fast = this.#fast(f, subject, text, html);
    if (fast) return { raw: fast.raw, messageId: f.messageId, envelope: { from: this.#envelopeFrom, to: [fast.to] }, charset: this.#t.charset, subject };
    return composeMail({ from: this.#t.from, to: [f.to], replyTo: this.#t.replyTo, subject, text, html, charset: this.#t.charset, messageId: f.messageId, date: f.date, listUnsubscribe: f.listUnsubscribe }).then((mail) => ({ ...mail, subject }));
  }

  /**
   * UTF-8 mail whose bodies are all 7-bit plain text (nodemailer's rule, as #fast): the
   * templates' literals were encoded once (compilePlain); only the field values are encoded
   * here, and the line rule is checked across the joins. Null when any part needs more (then
   * #fast writes the mail); the bytes are the same as #fast's.
   */
  #pieces(f: BulkMailFill, subject: string): { to: string; parts: BulkMailParts } | null {
    const plain = this.#plain;
    const base = this.#base;
    if (!plain || !base || !/^[\x21-\x7e]+$/.test(f.to)) return null;
    const bodies: MailBody[] = [];
    for (const p of plain) {
      const parts = plainBody(p.template, p.literals, f.fields, p.subtype === 'html');
      if (!parts) return null;
      bodies.push({ contentType: `text/${p.subtype}; charset=utf-8`, encoding: '7bit', parts });
    }
    const { out, to } = this.#assemble(f, isBlankSubject(subject) ? '' : utf8SubjectHeader(subject), bodies, false, base.segments);
    return { to, parts: { base, parts: out } };
  }

  /** The mail, or null when composeMail must write it. */
  #fast(f: BulkMailFill, subject: string, text: string | null, html: string | null): { raw: Buffer; to: string } | null {
    if (this.#alwaysComposeMail || !/^[\x21-\x7e]+$/.test(f.to)) return null;
    const parts: Part[] = [];
    if (text !== null) parts.push({ subtype: 'plain', content: text });
    if (html !== null) parts.push({ subtype: 'html', content: html });
    if (parts.length === 0 || parts.some((p) => p.content === '' || /\r(?!\n)/.test(p.content))) return null;
    const iso = this.#t.charset === 'iso-2022-jp';
    if (iso && unrepresentableIso2022Jp(this.#fieldNames.map((n) => (Object.hasOwn(f.fields, n) ? (f.fields[n] ?? '') : '')).join('\n')).length > 0) return null;
    const subjectHeader = isBlankSubject(subject) ? '' : iso ? iso2022JpSubjectHeader(subject) : utf8SubjectHeader(subject);
    const bodies = parts.map((p): MailBody => {
      const e = iso ? iso2022JpPart(p) : utf8Part(p);
      return { contentType: e.contentType, encoding: e.encoding, parts: [e.body] };
    });
    const { out, to } = this.#assemble(f, subjectHeader, bodies, iso, []);
    return { raw: Buffer.concat(out as Buffer[]), to };
  }

  /** The header and the bodies in composeMail's order: one part, or multipart/alternative. */
  #assemble(f: BulkMailFill, subjectHeader: string, bodies: MailBody[], iso: boolean, segments: Buffer[]): { out: (number | Buffer)[]; to: string } {
    const to = normalizeAddress(f.to).address;
    const date = (f.date ?? new Date()).toUTCString().replace(/GMT/, '+0000');
    const head = [this.#fromHeader, `To: ${to}`];
    if (this.#replyToHeader) head.push(this.#replyToHeader);
    if (subjectHeader) head.push(subjectHeader);
    const out: (number | Buffer)[] = [];
    if (bodies.length === 1) {
      const [b] = bodies as [MailBody];
      // the ISO-2022-JP path of composeMail puts its own headers first, then nodemailer's
      if (iso) head.push(`Content-Transfer-Encoding: ${b.encoding}`, `Message-ID: ${f.messageId}`, `Date: ${date}`);
      else head.push(`Message-ID: ${f.messageId}`, `Date: ${date}`, `Content-Transfer-Encoding: ${b.encoding}`);
      head.push('MIME-Version: 1.0', `Content-Type: ${b.contentType}`);
      if (f.listUnsubscribe) head.push(listUnsubscribeHeaders(f.listUnsubscribe));
      out.push(Buffer.from(head.join('\r\n') + '\r\n\r\n', 'latin1'), ...b.parts);
      if (!endsWithCrlf(out, segments)) out.push(CRLF);
      return { out, to };
    }
    head.push(`Message-ID: ${f.messageId}`, `Date: ${date}`, 'MIME-Version: 1.0', `Content-Type: multipart/alternative;\r\n boundary="${this.#boundary}"`);
    if (f.listUnsubscribe) head.push(listUnsubscribeHeaders(f.listUnsubscribe));
    out.push(Buffer.from(head.join('\r\n') + '\r\n\r\n', 'latin1'));
    bodies.forEach((b, i) => {
      out.push(Buffer.from(`${i > 0 ? '\r\n' : ''}--${this.#boundary}\r\nContent-Type: ${b.contentType}\r\nContent-Transfer-Encoding: ${b.encoding}\r\n\r\n`, 'latin1'), ...b.parts);
    });
    out.push(Buffer.from(`\r\n--${this.#boundary}--\r\n`, 'latin1'));
    return { out, to };
  }


}

const CRLF = Buffer.from('\r\n');

/** A body part as written: its bytes, or base segments and bytes of the mail's own. */
interface MailBody {
  contentType: string;
  encoding: EncodedPart['encoding'];
  parts: (number | Buffer)[];
}

interface EncodedPart {
  contentType: string;
  encoding: '7bit' | 'quoted-printable' | 'base64';
  body: Buffer;
}

/** nodemailer's Subject: encoded-words only where needed, folded at 76 (a blank subject is left out before: isBlankSubject). */
function utf8SubjectHeader(subject: string): string {
  // printable ASCII without a quote, short of any fold: nodemailer leaves it as it is (the
  // usual bulk subject; the general path below counts letters with regular expressions)
  if (subject.length <= 50 && /^[\x20-\x7e]*$/.test(subject) && !subject.includes('"')) return `Subject: ${subject}`;
  return mimeFuncs.foldLines(`Subject: ${encodeWords(subject, textEncoding(subject), 52, true)}`, LINE);
}

// nodemailer's MimeNode: plain text with no line over 76 goes as it is; otherwise
// quoted-printable when Latin letters outnumber the rest, base64 when not
function utf8Part(p: Part): EncodedPart {
  const contentType = `text/${p.subtype}; charset=utf-8`;
  if (isShortPlainText(p.content)) {
    return { contentType, encoding: '7bit', body: Buffer.from(crlf(p.content), 'latin1') };
  }
  if (textEncoding(p.content) === 'Q') return { contentType, encoding: 'quoted-printable', body: Buffer.from(crlf(qp.wrap(qp.encode(Buffer.from(p.content, 'utf-8')), LINE)), 'latin1') };
  return { contentType, encoding: 'base64', body: base64Body(Buffer.from(p.content, 'utf-8')) };
}

function iso2022JpPart(p: Part): EncodedPart {
  const contentType = `text/${p.subtype}; charset=ISO-2022-JP`;
  const { bytes, fits7bit } = encodeIso2022JpBody(p.content);
  if (fits7bit) return { contentType, encoding: '7bit', body: bytes };
  return { contentType, encoding: 'base64', body: base64Body(bytes) };
}

// nodemailer's base64 Encoder given the body in one chunk: whole 3-byte groups wrapped at 76,
// then the last one or two bytes' characters appended unwrapped (its flush)
function base64Body(bytes: Buffer): Buffer {
  const cut = bytes.length - (bytes.length % 3);
  return Buffer.from(base64.wrap(bytes.subarray(0, cut).toString('base64'), LINE) + bytes.subarray(cut).toString('base64'), 'latin1');
}

/**
 * nodemailer's `isPlainText(s) && !hasLongerLines(s, 76)` in one pass: no control character
 * but TAB, CR and LF, nothing beyond ASCII, no line over 76 characters (and, as there, no
 * text over 128 KiB).
 */
export function isShortPlainText(s: string): boolean {
  if (s.length > 128 * 1024) return false;
  let line = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x0a || c === 0x0d) {
      line = 0;
      continue;
    }
    if (c >= 0x80 || (c < 0x20 && c !== 0x09) || ++line > LINE) return false;
  }
  return true;
}

function textEncoding(value: string): 'Q' | 'B' {
  const nonLatin = (value.match(/[\x00-\x08\x0B\x0C\x0E-\x1F\u0080-\uFFFF]/g) ?? []).length;
  const latin = (value.match(/[a-z]/gi) ?? []).length;
  return nonLatin < latin ? 'Q' : 'B';
}

/** Line ends as CRLF (nodemailer's output stream does the same to every bare LF). */
function crlf(s: string): string {
  return s.indexOf('\n') < 0 ? s : s.replace(/\r?\n/g, '\r\n');
}

// ---- 7-bit plain text from pre-encoded literals ------------------------------------------

/** What the line rule needs to know of a piece of text, found in one pass. */
interface SegmentInfo {
  /** only TAB, CR, LF and printable ASCII */
  plain: boolean;
  length: number;
  /** characters before its first line break (all of them when it has none) */
  first: number;
  /** characters after its last line break */
  last: number;
  /** the longest line between two of its line breaks */
  inner: number;
  breaks: boolean;
  /** a CR not followed by LF inside it, or a CR at its end (decided by what follows): #fast's cases */
  crIssue: boolean;
  /** its bytes with CRLF line ends, when plain */
  bytes: Buffer | null;
}

function segmentInfo(s: string): SegmentInfo {
  let plain = true;
  let first = -1;
  let line = 0;
  let inner = 0;
  let crIssue = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x0a || c === 0x0d) {
      if (c === 0x0d && s.charCodeAt(i + 1) !== 0x0a) crIssue = true;
      if (first < 0) first = line;
      else if (line > inner) inner = line;
      line = 0;
      continue;
    }
    if (c >= 0x80 || (c < 0x20 && c !== 0x09)) plain = false;
    line++;
  }
  const breaks = first >= 0;
  return { plain, length: s.length, first: breaks ? first : line, last: line, inner, breaks, crIssue, bytes: plain && !crIssue ? Buffer.from(crlf(s), 'latin1') : null };
}

/** The literals of each body template as base segments, or null when one of them is not plain 7-bit text. */
function compilePlain(list: ([Part['subtype'], CompiledTemplate] | null)[]): { base: BulkMailBase; templates: { subtype: Part['subtype']; template: CompiledTemplate; literals: PlainSegment[] }[] } | null {
  const segments: Buffer[] = [];
  const templates: { subtype: Part['subtype']; template: CompiledTemplate; literals: PlainSegment[] }[] = [];
  for (const entry of list) {
    if (!entry) continue;
    const [subtype, template] = entry;
    const literals: PlainSegment[] = [];
    for (const text of template.literals) {
      const info = segmentInfo(text);
      if (!info.plain || info.crIssue) return null;
      literals.push({ index: segments.length, info });
      segments.push(info.bytes!);
    }
    templates.push({ subtype, template, literals });
  }
  if (templates.length === 0) return null;
  const hash = createHash('sha256');
  for (const seg of segments) hash.update(`${seg.length}:`).update(seg);
  return { base: { id: hash.digest('hex'), segments }, templates };
}

/**
 * A body filled in as base segments and encoded field values, when the whole is 7-bit plain
 * text with no line over 76 characters (isShortPlainText of the filled text), else null.
 */
function plainBody(template: CompiledTemplate, literals: PlainSegment[], fields: Readonly<Record<string, string>>, escape: boolean): (number | Buffer)[] | null {
  const out: (number | Buffer)[] = [];
  let total = 0;
  let line = 0;
  const add = (info: SegmentInfo): boolean => {
    total += info.length;
    if (info.breaks) {
      if (line + info.first > LINE || info.inner > LINE) return false;
      line = info.last;
    } else line += info.length;
    return line <= LINE;
  };
  for (let i = 0; i < literals.length; i++) {
    const lit = literals[i]!;
    if (!add(lit.info)) return null;
    if (lit.info.length > 0) out.push(lit.index);
    if (i === template.names.length) break;
    const name = template.names[i]!;
    const raw = Object.hasOwn(fields, name) ? (fields[name] ?? '') : '';
    if (raw === '') continue;
    const info = segmentInfo(escape ? escapeHtml(raw) : raw);
    // a CR at a value's end could pair with an LF after it: #fast decides those
    if (!info.plain || info.crIssue || !add(info)) return null;
    out.push(info.bytes!);
  }
  // empty bodies, and texts over 128 KiB (nodemailer then encodes), are #fast's
  if (total === 0 || total > 128 * 1024) return null;
  return out;
}

function endsWithCrlf(parts: (number | Buffer)[], segments: Buffer[]): boolean {
  // the last two bytes, which may lie in two parts (or more, with empty ones between)
  let last = -1;
  for (let i = parts.length - 1; i >= 0; i--) {
    const p = parts[i]!;
    const b = typeof p === 'number' ? segments[p]! : p;
    for (let j = b.length - 1; j >= 0; j--) {
      if (last === -1) last = b[j]!;
      else return b[j] === 0x0d && last === 0x0a;
    }
  }
  return false;
}
