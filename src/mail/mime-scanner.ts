// A light, streaming walk of a mail's MIME structure (RFC 2045, RFC 2046 5.1): it reads the
// top header and each part's header, finds boundary lines with native Buffer searches, and never
// decodes a part body. Fed chunk by chunk, it keeps only headers and at most one short line in
// memory, so a 50 MB mail is walked in bounded memory; every limit below bounds the work too.
// Parts carry byte offsets (header, body) into the raw mail, so a caller can decode or rewrite a
// part later. message/rfc822 parts are leaves: an attached mail's own parts are not walked.
import { getField, parseHeaderBlock, parseMimeHeaderValue } from './headers.ts';
import type { HeaderBlock, HeaderField } from './headers.ts';

/** Bytes of the top header kept and parsed; the rest of a longer header is skipped. */
export const MAX_TOP_HEADER_BYTES = 1024 * 1024;
/** Bytes of one part header kept and parsed. */
export const MAX_PART_HEADER_BYTES = 64 * 1024;
/** Parts (of any depth) walked; past it the structure is no longer read. */
export const MAX_MIME_PARTS = 5_000;
/** Multipart nesting walked; a deeper multipart is taken as one opaque leaf. */
export const MAX_MIME_DEPTH = 32;
const MAX_PART_FIELDS = 200;
/** A line longer than this cannot be a boundary line worth keeping across chunks. */
const MAX_BOUNDARY_LINE = 1024;
/** An incomplete header line longer than this is read in pieces. */
const MAX_HEADER_CARRY = 64 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
const NL_DASH_DASH = Buffer.from('\n--');

/** mailparser's rule: a leaf is body text only when it is one of these and inline. */
const TEXT_TYPES = new Set(['text/plain', 'text/html', 'message/delivery-status']);

export interface MimePart {
  /** '' for the top level, then '1', '2', '1.2' … as IMAP and mailparser number parts */
  id: string;
  depth: number;
  parent: MimePart | null;
  /** absolute byte offsets in the raw mail; bodyEnd excludes the line break before a boundary */
  headerStart: number;
  headerEnd: number;
  bodyStart: number;
  bodyEnd: number;
  /** lower-cased; defaults per RFC 2045 5.2 (message/rfc822 inside multipart/digest) */
  contentType: string;
  /** the Content-Type field was present */
  contentTypeDeclared: boolean;
  params: Map<string, string>;
  charset: string | undefined;
  /** lower-cased Content-Disposition value, undefined when missing */
  disposition: string | undefined;
  /** decoded filename (Content-Disposition filename, else Content-Type name) */
  filename: string | null;
  /** lower-cased Content-Transfer-Encoding, '' when missing */
  transferEncoding: string;
  contentId: string | null;
  /** a multipart whose children were walked */
  multipart: boolean;
  /** attachment by mailparser's rule (not inline text/plain or text/html) */
  isAttachment: boolean;
}

interface Level {
  part: MimePart;
  delimiter: Buffer;
  current: MimePart | null;
  children: number;
  sawBoundary: boolean;
}

const State = { Header: 0, Body: 1, Skip: 2, Done: 3 } as const;
type State = (typeof State)[keyof typeof State];

function newPart(id: string, parent: MimePart | null, headerStart: number): MimePart {
  return {
    id,
    depth: parent ? parent.depth + 1 : 0,
    parent,
    headerStart,
    headerEnd: -1,
    bodyStart: -1,
    bodyEnd: -1,
    contentType: 'text/plain',
    contentTypeDeclared: false,
    params: new Map(),
    charset: undefined,
    disposition: undefined,
    filename: null,
    transferEncoding: '',
    contentId: null,
    multipart: false,
    isAttachment: false,
  };
}

const TEXTISH_EXTENSION = /\.(?:txt|text|htm|html)$/i;

/** Fill a part's content fields from its header fields. */
function describe(part: MimePart, fields: readonly HeaderField[]): string | undefined {
  const ctRaw = getField(fields, 'content-type');
  const cdRaw = getField(fields, 'content-disposition');
  const ct = parseMimeHeaderValue(ctRaw ?? '');
  const cd = cdRaw === undefined ? undefined : parseMimeHeaderValue(cdRaw);
  part.disposition = cd?.value || undefined;
  const filename = cd?.params.get('filename') ?? ct.params.get('name');
  part.filename = filename === undefined || filename === '' ? null : filename;
  let type = ct.value;
  part.contentTypeDeclared = ctRaw !== undefined && type !== '';
  if (!part.contentTypeDeclared) {
    if (part.parent?.contentType === 'multipart/digest') type = 'message/rfc822';
    else if (part.disposition === 'attachment' || (part.filename && !TEXTISH_EXTENSION.test(part.filename) && /\.\w+$/.test(part.filename))) type = 'application/octet-stream';
    else type = 'text/plain';
  } else if (!type.includes('/')) {
    type = type === 'text' ? 'text/plain' : 'application/octet-stream';
  }
  part.contentType = type;
  part.params = ct.params;
  part.charset = ct.params.get('charset')?.trim() || undefined;
  part.transferEncoding = (getField(fields, 'content-transfer-encoding') ?? '').replace(/\([^)]*\)/g, '').trim().toLowerCase();
  const cid = getField(fields, 'content-id');
  part.contentId = cid ? cid.trim() : null;
  if (type.startsWith('multipart/')) {
    const boundary = (ct.params.get('boundary') ?? '').trimEnd();
    // RFC 2046 5.1.1: 1-70 ASCII characters; a longer one is tolerated up to the line limit
    if (boundary && boundary.length < MAX_BOUNDARY_LINE - 8 && !/[^\x20-\x7e]/.test(boundary)) return boundary;
    return undefined;
  }
  return undefined;
}

export interface MimeScanResult {
  root: MimePart;
  /** every part walked, in document order (the root first) */
  parts: MimePart[];
  /** the top header's fields */
  header: HeaderBlock;
  /** no empty line ended the top header */
  noSeparator: boolean;
  /** what went wrong, for parseError; empty when the structure read cleanly */
  errors: string[];
  size: number;
}

/** Streaming MIME structure walker: write(chunk)… then end(). */
export class MimeScanner {
  private state: State = State.Header;
  private total = 0;
  private carry: Buffer | null = null;
  /** the two bytes before the next data to process (prev1 the nearer), -1 for none */
  private prev1 = -1;
  private prev2 = -1;
  /** where in the data being processed `carry` starts */
  private carryAt = 0;
  /** the next byte continues a line, it does not start one */
  private midLine = false;
  private readonly stack: Level[] = [];
  private readonly parts: MimePart[] = [];
  private readonly root: MimePart;
  private headerPart: MimePart;
  private headerChunks: Buffer[] = [];
  private headerBytes = 0;
  private headerOverflow = false;
  private topHeader: HeaderBlock = { fields: [], malformedLines: 0, truncated: false };
  private noSeparator = false;
  private readonly errors: string[] = [];
  private result: MimeScanResult | null = null;

  constructor() {
    this.root = newPart('', null, 0);
    this.headerPart = this.root;
    this.parts.push(this.root);
  }

  private error(message: string): void {
    if (this.errors.length < 20 && !this.errors.includes(message)) this.errors.push(message);
  }

  write(chunk: Buffer): void {
    if (this.result) return;
    const base = this.total - (this.carry ? this.carry.length : 0);
    this.total += chunk.length;
    if (this.state === State.Skip || this.state === State.Done) return;
    const data = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = null;
    try {
      this.process(data, base, false);
    } catch (err) {
      this.fail(err);
    }
  }

  /** A bug must not lose the mail: keep what was read, walk no further. */
  private fail(err: unknown): void {
    this.error(`MIME walk failed: ${err instanceof Error ? err.message : String(err)}`);
    this.state = State.Done;
    this.carry = null;
  }

  end(): MimeScanResult {
    if (this.result) return this.result;
    try {
      if (this.carry && (this.state === State.Header || this.state === State.Body)) {
        const data = this.carry;
        this.carry = null;
        this.process(data, this.total - data.length, true);
      }
      if (this.state === State.Header) {
        if (this.headerPart === this.root) this.noSeparator = true;
        this.finishHeader(this.total, this.total);
      }
    } catch (err) {
      this.fail(err);
    }
    for (const level of this.stack) {
      if (level.current && level.current.bodyEnd < 0) level.current.bodyEnd = this.total;
      if (!level.sawBoundary) this.error(`${level.part.contentType} ${level.part.id || 'message'} has no boundary line`);
    }
    for (const p of this.parts) {
      if (p.headerEnd < 0) p.headerEnd = this.total;
      if (p.bodyStart < 0) p.bodyStart = this.total;
      if (p.bodyEnd < 0) p.bodyEnd = this.total;
    }
    this.result = { root: this.root, parts: this.parts, header: this.topHeader, noSeparator: this.noSeparator, errors: this.errors, size: this.total };
    return this.result;
  }

  private process(data: Buffer, base: number, final: boolean): void {
    let p = 0;
    while (p < data.length && (this.state === State.Header || this.state === State.Body)) {
      p = this.state === State.Header ? this.headerLines(data, base, p, final) : this.bodyLines(data, base, p, final);
    }
    const next = this.carry ? this.carryAt : data.length;
    const p1 = this.byteAt(data, next - 1);
    const p2 = this.byteAt(data, next - 2);
    this.prev1 = p1;
    this.prev2 = p2;
  }

  /** data[i], reaching back into the bytes before data for i = -1 and -2. */
  private byteAt(data: Buffer, i: number): number {
    if (i >= 0) return data[i] ?? -1;
    return i === -1 ? this.prev1 : i === -2 ? this.prev2 : -1;
  }

  private appendHeader(bytes: Buffer): void {
    const limit = this.headerPart === this.root ? MAX_TOP_HEADER_BYTES : MAX_PART_HEADER_BYTES;
    if (this.headerBytes + bytes.length > limit) {
      if (!this.headerOverflow) {
        this.headerOverflow = true;
        const room = limit - this.headerBytes;
        if (room > 0) this.headerChunks.push(bytes.subarray(0, room));
        this.headerBytes = limit;
        this.error(this.headerPart === this.root ? `header longer than ${limit} bytes: only its start was read` : `header of part ${this.headerPart.id} longer than ${limit} bytes`);
      }
      return;
    }
    this.headerChunks.push(bytes);
    this.headerBytes += bytes.length;
  }

  private headerLines(data: Buffer, base: number, start: number, final: boolean): number {
    const len = data.length;
    let p = start;
    while (p < len) {
      let e = data.indexOf(LF, p);
      if (e === -1) {
        if (!final) {
          const tail = data.subarray(p);
          if (tail.length > MAX_HEADER_CARRY) {
            this.appendHeader(Buffer.from(tail));
            this.midLine = true;
          } else {
            this.carry = Buffer.from(tail);
            this.carryAt = p;
          }
          return len;
        }
        e = len;
      }
      const next = e === len ? len : e + 1;
      const contentEnd = e > p && data[e - 1] === CR ? e - 1 : e;
      if (!this.midLine && contentEnd === p && e < len) {
        this.finishHeader(base + p, base + next);
        return next;
      }
      if (!this.midLine && this.headerPart !== this.root && data[p] === DASH && data[p + 1] === DASH && this.matchBoundary(data, p, contentEnd)) {
        // a boundary line before the empty line: a part with a header and no body
        this.finishHeader(base + p, base + p);
        return p;
      }
      this.appendHeader(data.subarray(p, next));
      this.midLine = false;
      p = next;
    }
    return p;
  }

  private finishHeader(headerEnd: number, bodyStart: number): void {
    const part = this.headerPart;
    part.headerEnd = headerEnd;
    part.bodyStart = bodyStart;
    const bytes = this.headerChunks.length === 1 ? this.headerChunks[0]! : Buffer.concat(this.headerChunks);
    this.headerChunks = [];
    this.headerBytes = 0;
    this.headerOverflow = false;
    const isRoot = part === this.root;
    const block = parseHeaderBlock(bytes, isRoot ? undefined : MAX_PART_FIELDS);
    if (isRoot) {
      this.topHeader = block;
      if (block.truncated) this.error('too many header fields: only the first were read');
    }
    const boundary = describe(part, block.fields);
    if (part.contentType.startsWith('multipart/')) {
      if (boundary === undefined) {
        this.error(`${part.contentType} ${part.id || 'message'} has no usable boundary parameter`);
      } else if (this.stack.length >= MAX_MIME_DEPTH) {
        this.error(`multipart nesting deeper than ${MAX_MIME_DEPTH}`);
      } else {
        part.multipart = true;
        this.stack.push({ part, delimiter: Buffer.from('--' + boundary, 'latin1'), current: null, children: 0, sawBoundary: false });
      }
    }
    if (!part.multipart) {
      part.isAttachment = !TEXT_TYPES.has(part.contentType) || (part.disposition !== undefined && part.disposition !== 'inline');
    }
    this.state = this.stack.length > 0 ? State.Body : State.Skip;
    this.midLine = false;
  }

  /** Which open multipart (stack index) a delimiter line belongs to, innermost first. */
  private matchBoundary(data: Buffer, q: number, contentEnd: number): { level: number; close: boolean } | null {
    for (let k = this.stack.length - 1; k >= 0; k--) {
      const d = this.stack[k]!.delimiter;
      if (contentEnd - q < d.length || data.compare(d, 0, d.length, q, q + d.length) !== 0) continue;
      let r = q + d.length;
      let close = false;
      if (r + 2 <= contentEnd && data[r] === DASH && data[r + 1] === DASH) {
        close = true;
        r += 2;
      }
      while (r < contentEnd && (data[r] === 0x20 || data[r] === 0x09)) r++;
      if (r === contentEnd) return { level: k, close };
    }
    return null;
  }

  private bodyLines(data: Buffer, base: number, start: number, final: boolean): number {
    const len = data.length;
    if (this.stack.length === 0) {
      this.state = State.Skip;
      return len;
    }
    const startsLine = !this.midLine;
    this.midLine = false;
    let atLineStart = startsLine;
    let search = start;
    for (;;) {
      let q: number;
      if (atLineStart && data[search] === DASH && data[search + 1] === DASH) {
        q = search;
      } else {
        const i = data.indexOf(NL_DASH_DASH, search);
        if (i === -1) break;
        q = i + 1;
      }
      let e = data.indexOf(LF, q);
      if (e === -1) {
        if (!final) {
          const tail = data.subarray(q);
          if (tail.length <= MAX_BOUNDARY_LINE) {
            this.carry = Buffer.from(tail);
            this.carryAt = q;
          } else {
            this.midLine = true;
          }
          return len;
        }
        e = len;
      }
      const next = e === len ? len : e + 1;
      const contentEnd = e > q && data[e - 1] === CR ? e - 1 : e;
      const m = this.matchBoundary(data, q, contentEnd);
      if (m) {
        const breakLen = this.byteAt(data, q - 2) === CR ? 2 : 1;
        this.onBoundary(m.level, m.close, base + q, base + next, breakLen);
        return next;
      }
      search = next;
      atLineStart = true;
      if (search >= len) break;
    }
    if (final) return len;
    // keep a trailing line that may still become a boundary line
    const lastLf = data.lastIndexOf(LF);
    const tailStart = lastLf >= start ? lastLf + 1 : start;
    const tailIsLineStart = lastLf >= start || startsLine;
    const tail = data.subarray(tailStart);
    if (tail.length === 0) return len;
    if (tailIsLineStart && tail[0] === DASH && (tail.length === 1 || tail[1] === DASH) && tail.length <= MAX_BOUNDARY_LINE) {
      this.carry = Buffer.from(tail);
      this.carryAt = tailStart;
    } else {
      this.midLine = true;
    }
    return len;
  }

  private onBoundary(level: number, close: boolean, lineStart: number, lineEnd: number, breakLen: number): void {
    const endAt = (part: MimePart): void => {
      if (part.bodyEnd < 0) part.bodyEnd = Math.max(part.bodyStart, lineStart - breakLen);
    };
    while (this.stack.length - 1 > level) {
      const inner = this.stack.pop()!;
      if (inner.current) endAt(inner.current);
      if (!inner.sawBoundary) this.error(`${inner.part.contentType} ${inner.part.id} has no boundary line`);
      endAt(inner.part);
    }
    const lvl = this.stack[level]!;
    if (lvl.current) endAt(lvl.current);
    lvl.current = null;
    lvl.sawBoundary = true;
    if (close) {
      this.stack.pop();
      this.state = this.stack.length > 0 ? State.Body : State.Skip;
      return;
    }
    if (this.parts.length >= MAX_MIME_PARTS) {
      this.error(`more than ${MAX_MIME_PARTS} MIME parts: only the first were read`);
      this.state = State.Done;
      return;
    }
    lvl.children++;
    const id = lvl.part.id ? `${lvl.part.id}.${lvl.children}` : String(lvl.children);
    const part = newPart(id, lvl.part, lineEnd);
    this.parts.push(part);
    lvl.current = part;
    this.headerPart = part;
    this.state = State.Header;
  }
}

/** Walk the MIME structure of a whole mail held in memory. */
export function scanMime(raw: Buffer): MimeScanResult {
  const scanner = new MimeScanner();
  scanner.write(raw);
  return scanner.end();
}
