// Full decode of a stored mail when it is opened: text, HTML and the attachment list through
// mailparser's simpleParser, with Japanese made right where mailparser is not. Before parsing,
// inline text parts in ISO-2022-JP (CP50220 characters, JIS X 0201 katakana), CP932, EUC-JP, or
// with no or a wrong charset (7-bit ISO-2022-JP, raw Shift_JIS) are decoded here (charset.ts) and
// handed to mailparser as UTF-8; each attachment's header gets its filename as decoded here
// (RFC 2231 and encoded-words in any charset, raw Shift_JIS). Subject and addresses come from
// headers.ts, which reads raw 8-bit and 7-bit JIS header values too. Never throws.
import { isAscii, isUtf8 } from 'node:buffer';
import { simpleParser } from 'mailparser';
import type { ParsedMail } from 'mailparser';
import { decodeBytes, hasJisEscape, isSupportedCharset, normalizeCharset } from './charset.ts';
import type { Address } from './headers.ts';
import { headerMetadata, structureErrors } from './metadata.ts';
import { scanMime } from './mime-scanner.ts';
import type { MimePart, MimeScanResult } from './mime-scanner.ts';
import { decodeTransfer } from './transfer-encoding.ts';

export interface DecodedAttachment {
  filename: string | null;
  contentType: string;
  /** decoded size in bytes */
  size: number;
  /** with angle brackets as in the header, null when none */
  contentId: string | null;
}

export interface DecodedMessage {
  subject: string | null;
  from: Address | null;
  to: Address[];
  cc: Address[];
  /** ISO 8601 (UTC) */
  date: string | null;
  messageId: string | null;
  text: string | null;
  html: string | null;
  attachments: DecodedAttachment[];
  /** null when the mail read cleanly; else what was wrong (malformed mail, or the parser failed) */
  error: string | null;
}

const FILENAME_HEADER = 'x-yubin-filename';
const JAPANESE = new Set(['iso-2022-jp', 'cp932', 'euc-jp']);

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isInlineText(part: MimePart): boolean {
  return !part.multipart && !part.isAttachment && (part.contentType === 'text/plain' || part.contentType === 'text/html');
}

/** Whether mailparser would read this text body wrongly, so it is decoded here instead. */
function needsOwnDecoding(part: MimePart, bytes: Buffer): boolean {
  const cs = part.charset ? normalizeCharset(part.charset) : '';
  if (JAPANESE.has(cs)) return true;
  const ascii = isAscii(bytes);
  if (ascii) return hasJisEscape(bytes);
  if (cs === '' || cs === 'us-ascii') return true;
  if (cs === 'utf-8') return !isUtf8(bytes);
  return !isSupportedCharset(cs); // mailparser would read an unknown charset as UTF-8; it is sniffed here
}

function partText(raw: Buffer, part: MimePart): string {
  const bytes = decodeTransfer(raw.subarray(part.bodyStart, part.bodyEnd), part.transferEncoding);
  return decodeBytes(bytes, part.charset);
}

/** Header lines of a part without the named fields (and their continuation lines). */
function headerWithout(raw: Buffer, part: MimePart, drop: ReadonlySet<string>): string {
  const text = raw.toString('latin1', part.headerStart, part.headerEnd);
  const lines = text.split(/(?<=\n)/);
  let skipping = false;
  let out = '';
  for (const line of lines) {
    if (line[0] === ' ' || line[0] === '\t') {
      if (!skipping) out += line;
      continue;
    }
    const colon = line.indexOf(':');
    skipping = colon > 0 && drop.has(line.slice(0, colon).trim().toLowerCase());
    if (!skipping) out += line;
  }
  if (out.length > 0 && !out.endsWith('\n')) out += '\r\n';
  return out;
}

function wrapBase64(b64: string, eol: string): string {
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join(eol);
}

interface Edit {
  start: number;
  end: number;
  bytes: Buffer;
}

/** Attached mails mailparser reads as part of this one (mailsplit's rule): inline and not transfer-encoded. */
function isEmbeddedMessage(part: MimePart): boolean {
  return part.contentType === 'message/rfc822' && part.disposition === 'inline' && ['', '7bit', '8bit', 'binary'].includes(part.transferEncoding);
}
/** Attached mails inside attached mails that are prepared too. */
const MAX_EMBEDDED_DEPTH = 8;

/** The raw mail with Japanese text parts turned into UTF-8 and decoded filenames added. */
function prepareForMailparser(raw: Buffer, scan: MimeScanResult, depth = 0): Buffer {
  const eol = raw.indexOf('\r\n') !== -1 ? '\r\n' : '\n';
  const edits: Edit[] = [];
  const drop = new Set(['content-type', 'content-transfer-encoding', FILENAME_HEADER]);
  for (const part of scan.parts) {
    if (part.multipart) continue;
    if (isEmbeddedMessage(part)) {
      // mailparser shows an inline message/rfc822 part's text and lists its attachments, so
      // its parts need the same treatment (the scanner does not walk into attached mails)
      if (depth >= MAX_EMBEDDED_DEPTH || part.bodyEnd <= part.bodyStart) continue;
      const inner = raw.subarray(part.bodyStart, part.bodyEnd);
      const prepared = prepareForMailparser(inner, scanMime(inner), depth + 1);
      if (prepared !== inner) edits.push({ start: part.bodyStart, end: part.bodyEnd, bytes: prepared });
    } else if (isInlineText(part)) {
      const bytes = decodeTransfer(raw.subarray(part.bodyStart, part.bodyEnd), part.transferEncoding);
      if (!needsOwnDecoding(part, bytes)) continue;
      const text = decodeBytes(bytes, part.charset);
      let ct = `${part.contentType}; charset=utf-8`;
      const format = part.params.get('format');
      const delsp = part.params.get('delsp');
      if (format && /^[a-z]+$/i.test(format)) ct += `; format=${format}`;
      if (delsp && /^[a-z]+$/i.test(delsp)) ct += `; delsp=${delsp}`;
      const header = headerWithout(raw, part, drop) + `Content-Type: ${ct}${eol}Content-Transfer-Encoding: base64${eol}`;
      const body = wrapBase64(Buffer.from(text, 'utf8').toString('base64'), eol);
      edits.push({ start: part.headerStart, end: part.bodyEnd, bytes: Buffer.from(header + eol + body, 'latin1') });
    } else if (part.isAttachment && part.filename !== null) {
      const line = `X-Yubin-Filename: ${encodeURIComponent(part.filename)}${eol}`;
      edits.push({ start: part.headerStart, end: part.headerStart, bytes: Buffer.from(line, 'latin1') });
    }
  }
  if (edits.length === 0) return raw;
  edits.sort((a, b) => a.start - b.start);
  const pieces: Buffer[] = [];
  let at = 0;
  for (const e of edits) {
    if (e.start < at) continue; // overlapping edits cannot happen with a sane walk; skip if they do
    pieces.push(raw.subarray(at, e.start), e.bytes);
    at = e.end;
  }
  pieces.push(raw.subarray(at));
  return Buffer.concat(pieces);
}

function attachmentFromMailparser(a: ParsedMail['attachments'][number]): DecodedAttachment {
  let filename: string | null = a.filename ?? null;
  const own = a.headers.get(FILENAME_HEADER);
  if (typeof own === 'string') {
    try {
      filename = decodeURIComponent(own.trim());
    } catch {
      // keep mailparser's name
    }
  }
  return { filename, contentType: a.contentType, size: a.size, contentId: a.contentId ?? null };
}

/** What can be had without mailparser: used when it fails. */
function fallbackBody(raw: Buffer, scan: MimeScanResult): Pick<DecodedMessage, 'text' | 'html' | 'attachments'> {
  const texts: string[] = [];
  let html: string | null = null;
  const attachments: DecodedAttachment[] = [];
  for (const part of scan.parts) {
    if (part.multipart) continue;
    try {
      if (isInlineText(part)) {
        if (part.contentType === 'text/html') html ??= partText(raw, part);
        else texts.push(partText(raw, part));
      } else if (part.isAttachment) {
        const size = decodeTransfer(raw.subarray(part.bodyStart, part.bodyEnd), part.transferEncoding).length;
        attachments.push({ filename: part.filename, contentType: part.contentType, size, contentId: part.contentId });
      }
    } catch {
      // a part that cannot be decoded is left out
    }
  }
  return { text: texts.length ? texts.join('\n') : null, html, attachments };
}

/**
 * The body of a multipart mail in which no part was found (no boundary parameter, or no line
 * with it): mailparser gives nothing, so the body is shown as text rather than not at all.
 */
function unsplitBody(raw: Buffer, scan: MimeScanResult): string | null {
  if (!scan.root.contentType.startsWith('multipart/') || scan.parts.length > 1) return null;
  const text = decodeBytes(raw.subarray(scan.root.bodyStart), undefined);
  return text.trim() === '' ? null : text;
}

/** Decode a stored mail for display. Never throws (nor rejects). */
export async function decodeMessage(raw: Buffer): Promise<DecodedMessage> {
  const errors: string[] = [];
  const result: DecodedMessage = { subject: null, from: null, to: [], cc: [], date: null, messageId: null, text: null, html: null, attachments: [], error: null };
  let scan: MimeScanResult | null = null;
  try {
    scan = scanMime(raw);
    errors.push(...structureErrors(scan));
    Object.assign(result, headerMetadata(scan.header.fields, errors));
  } catch (err) {
    errors.push(`MIME walk failed: ${describeError(err)}`);
  }
  let input = raw;
  if (scan) {
    try {
      input = prepareForMailparser(raw, scan);
    } catch (err) {
      errors.push(`Japanese pre-decoding failed: ${describeError(err)}`);
    }
  }
  try {
    const parsed = await simpleParser(input, { skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true });
    result.text = typeof parsed.text === 'string' ? parsed.text : null;
    result.html = typeof parsed.html === 'string' ? parsed.html : null;
    result.attachments = parsed.attachments.map(attachmentFromMailparser);
    if (scan && result.text === null && result.html === null && result.attachments.length === 0) result.text = unsplitBody(raw, scan);
  } catch (err) {
    errors.push(`mailparser failed: ${describeError(err)}`);
    if (scan) {
      try {
        Object.assign(result, fallbackBody(raw, scan));
      } catch {
        // headers only
      }
    }
  }
  result.error = errors.length ? errors.join('; ') : null;
  return result;
}

/** One attachment of a stored mail, decoded (index as in DecodedMessage.attachments); null if there is none. */
export async function decodeAttachment(raw: Buffer, index: number): Promise<(DecodedAttachment & { content: Buffer }) | null> {
  let input = raw;
  try {
    input = prepareForMailparser(raw, scanMime(raw));
  } catch {
    // parse the raw bytes as they are
  }
  try {
    const parsed = await simpleParser(input, { skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true });
    const a = parsed.attachments[index];
    return a ? { ...attachmentFromMailparser(a), content: a.content } : null;
  } catch {
    return null;
  }
}
