// Builds the raw RFC 5322 / MIME message of an outgoing mail and its SMTP envelope, with
// nodemailer's MailComposer. Bcc recipients are in the envelope only, never in a header.
//
// Charset: 'utf-8' (the default) is nodemailer's own output. 'iso-2022-jp' (RFC 1468) is what
// nodemailer cannot write, so this module fills the gap (encoder in compose-iso2022jp.ts):
//   - text parts: Content-Type: text/plain; charset=ISO-2022-JP (text/html likewise) with
//     Content-Transfer-Encoding: 7bit, or base64 for a part with a line over 998 octets;
//   - From / To / Cc / Reply-To display names and the Subject: =?ISO-2022-JP?B?…?= words;
//   - everything else (Message-ID, Date, multipart structure, attachments) stays nodemailer's.
// The rule when ISO-2022-JP cannot carry the text: if any character of the subject, a display
// name, the text or the HTML is outside the ISO-2022-JP repertoire (CP50220-style: JIS X 0208
// plus NEC row 13 such as ①㈱ and the NEC-selected IBM extensions; see compose-iso2022jp.ts),
// the whole mail is written as UTF-8 and `charsetFallback` lists those characters. A recipient
// always reads back exactly what was written; the mail is never altered to fit the charset.
import { domainToASCII } from 'node:url';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';
import type MimeNode from 'nodemailer/lib/mime-node/index.js';
import { randomUUID } from 'node:crypto';
import { encodeIso2022JpBody, encodeIso2022JpWords, unrepresentableIso2022Jp } from './compose-iso2022jp.ts';
import { isBlankSubject, subjectLine } from './subject.ts';
// nodemailer's encoded-words keep every character whole (before any header is written)
import './mime-words.ts';

export type MailCharset = 'utf-8' | 'iso-2022-jp';

export interface MailAddress {
  name?: string | null | undefined;
  address: string;
}

export interface ComposeAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

export interface ComposeInput {
  from: MailAddress;
  to?: Array<string | MailAddress> | undefined;
  cc?: Array<string | MailAddress> | undefined;
  /** In the envelope only: never written to a header. */
  bcc?: Array<string | MailAddress> | undefined;
  replyTo?: string | MailAddress | null | undefined;
  /** Message-ID of the mail this one answers, with or without the angle brackets. */
  inReplyTo?: string | null | undefined;
  references?: string[] | string | null | undefined;
  subject: string;
  text?: string | null | undefined;
  html?: string | null | undefined;
  attachments?: ComposeAttachment[] | undefined;
  charset?: MailCharset | undefined;
  /** Fixed Message-ID (with or without angle brackets); a random one on the sender's domain otherwise. */
  messageId?: string | undefined;
  date?: Date | undefined;
  /** An unsubscribe link (http(s), ASCII): List-Unsubscribe and List-Unsubscribe-Post headers (listUnsubscribeHeaders). */
  listUnsubscribe?: string | null | undefined;
}

export interface ComposedMail {
  raw: Buffer;
  /** With angle brackets, as in the header. */
  messageId: string;
  envelope: { from: string; to: string[] };
  /** The charset the mail was written in. */
  charset: MailCharset;
  /** Set when 'iso-2022-jp' was asked for but the mail had to be written as UTF-8. */
  charsetFallback?: { requested: 'iso-2022-jp'; characters: string[] } | undefined;
}

/** Bodies longer than this get their transfer encoding chosen here (bodyTextEncoding). */
export const LARGE_BODY_CHARS = 256 * 1024;

/**
 * nodemailer's own rule for a text body's transfer encoding (quoted-printable when it has
 * more Latin letters than 8-bit and control characters, else base64), counted in a loop:
 * nodemailer counts with String.match(/…/g), an array of one string per character, which
 * spent seconds in GC on a body of megabytes while the server could answer nothing else.
 */
export function bodyTextEncoding(parts: string[]): 'quoted-printable' | 'base64' {
  let latin = 0;
  let other = 0;
  for (const text of parts) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) latin++;
      else if (c <= 0x08 || c === 0x0b || c === 0x0c || (c >= 0x0e && c <= 0x1f) || c >= 0x80) other++;
    }
  }
  return other < latin ? 'quoted-printable' : 'base64';
}

export async function composeMail(input: ComposeInput): Promise<ComposedMail> {
  const to = normalizeList(input.to);
  const cc = normalizeList(input.cc);
  const bcc = normalizeList(input.bcc);
  const replyTo = input.replyTo ? normalizeAddress(input.replyTo) : undefined;
  const from = normalizeAddress(input.from);
  if (to.length + cc.length + bcc.length === 0) throw new TypeError('composeMail: no recipient in to, cc or bcc');
  const subject = subjectLine(input.subject);
  // text in its canonical form, CRLF line ends (RFC 2045 §6.8, RFC 2046 §4.1.1): base64 (most
  // Japanese mail) carries the bytes as they are, and a bare LF would reach the reader
  const body = { text: canonicalLines(input.text), html: canonicalLines(input.html) };

  let charset: MailCharset = input.charset ?? 'utf-8';
  let charsetFallback: ComposedMail['charsetFallback'];
  if (charset === 'iso-2022-jp') {
    const names = [from, ...to, ...cc, ...(replyTo ? [replyTo] : [])].map((a) => a.name ?? '');
    const characters = unrepresentableIso2022Jp([subject, ...names, body.text ?? '', body.html ?? ''].join('\n'));
    if (characters.length > 0) {
      charset = 'utf-8';
      charsetFallback = { requested: 'iso-2022-jp', characters };
    }
  }

  const envelope = {
    from: from.address,
    to: dedupe([...to, ...cc, ...bcc].map((a) => a.address)),
  };
  const options: Mail.Options & { newline: string } = {
    newline: '\r\n',
    envelope: envelope as MimeNode.Envelope,
    messageId: input.messageId,
    date: input.date,
    inReplyTo: input.inReplyTo ?? undefined,
    references: input.references ?? undefined,
    attachments: (input.attachments ?? []).map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: a.content,
      contentTransferEncoding: 'base64' as const,
    })),
    disableFileAccess: true,
    disableUrlAccess: true,
  };

  let raw: Buffer;
  let messageId: string;
  if (charset === 'utf-8') {
    Object.assign(options, {
      from: toNodemailer(from),
      to: to.length ? to.map(toNodemailer) : undefined,
      cc: cc.length ? cc.map(toNodemailer) : undefined,
      replyTo: replyTo ? toNodemailer(replyTo) : undefined,
      subject,
      text: body.text ?? (body.html == null ? '' : undefined),
      html: body.html ?? undefined,
    } satisfies Mail.Options);
    const big = (body.text?.length ?? 0) + (body.html?.length ?? 0) > LARGE_BODY_CHARS;
    if (big) options.textEncoding = bodyTextEncoding([body.text ?? '', body.html ?? '']);
    const node = new MailComposer(options).compile();
    messageId = node.messageId();
    raw = await node.build();
  } else {
    ({ raw, messageId } = await composeIso2022Jp(options, { from, to, cc, replyTo, subject, text: body.text, html: body.html }));
  }
  if (input.listUnsubscribe) {
    // at the end of the header, where compose-bulk writes them too
    const end = raw.indexOf('\r\n\r\n');
    raw = Buffer.concat([raw.subarray(0, end), Buffer.from(`\r\n${listUnsubscribeHeaders(input.listUnsubscribe)}`, 'latin1'), raw.subarray(end)]);
  }
  return { raw, messageId, envelope, charset, ...(charsetFallback ? { charsetFallback } : {}) };
}

/**
 * The headers of a one-click unsubscribe link (RFC 2369 §3.2, RFC 8058 §3.1), without the
 * last line break: mail clients show an unsubscribe button, and a mailbox provider POSTs
 * `List-Unsubscribe=One-Click` to the link for its user.
 */
export function listUnsubscribeHeaders(url: string): string {
  return `List-Unsubscribe: <${url}>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click`;
}

interface Iso2022JpFields {
  from: MailAddress;
  to: MailAddress[];
  cc: MailAddress[];
  replyTo: MailAddress | undefined;
  subject: string;
  text: string | null | undefined;
  html: string | null | undefined;
}

// nodemailer writes the structure; the ISO-2022-JP text parts go in as random ASCII
// placeholders (7bit, charset kept since they hold no non-ASCII) that are swapped for the
// encoded bytes afterwards, and the text-bearing headers are written here and put first.
async function composeIso2022Jp(options: Mail.Options, f: Iso2022JpFields): Promise<{ raw: Buffer; messageId: string }> {
  const swaps = new Map<string, Buffer>();
  const alternatives: Mail.Attachment[] = [];
  const addPart = (subtype: 'plain' | 'html', content: string): void => {
    const contentType = `text/${subtype}; charset=ISO-2022-JP`;
    const { bytes, fits7bit } = encodeIso2022JpBody(content);
    if (!fits7bit) {
      alternatives.push({ contentType, content: bytes, contentTransferEncoding: 'base64' });
      return;
    }
    // ends with CRLF when the text does, so that nodemailer adds the final line break
    // exactly when it would for a UTF-8 text
    const placeholder = `yubin-iso2022jp-${randomUUID()}` + (bytes.subarray(-2).toString('latin1') === '\r\n' ? '\r\n' : '');
    swaps.set(placeholder, bytes);
    alternatives.push({ contentType, content: placeholder, contentTransferEncoding: '7bit' });
  };
  if (f.text != null || f.html == null) addPart('plain', f.text ?? '');
  if (f.html != null) addPart('html', f.html);

  const node = new MailComposer({ ...options, alternatives }).compile();
  const messageId = node.messageId();
  let body = (await node.build()).toString('latin1');
  for (const [placeholder, bytes] of swaps) {
    const at = body.indexOf(placeholder);
    if (at < 0 || body.indexOf(placeholder, at + 1) >= 0) throw new Error('composeMail: ISO-2022-JP part placeholder not found exactly once');
    body = body.slice(0, at) + bytes.toString('latin1') + body.slice(at + placeholder.length);
  }

  const headers = [addressHeader('From', [f.from])];
  if (f.to.length) headers.push(addressHeader('To', f.to));
  if (f.cc.length) headers.push(addressHeader('Cc', f.cc));
  if (f.replyTo) headers.push(addressHeader('Reply-To', [f.replyTo]));
  if (!isBlankSubject(f.subject)) headers.push(iso2022JpSubjectHeader(f.subject));
  return { raw: Buffer.from(headers.join('\r\n') + '\r\n' + body, 'latin1'), messageId };
}

// ---- header writing for the ISO-2022-JP path ----------------------------------------------

/** The Subject header line(s) of an ISO-2022-JP mail, folded, without the final CRLF. */
export function iso2022JpSubjectHeader(subject: string): string {
  return fold('Subject', textTokens(subject));
}

const MAX_LINE = 76;

/** Join atoms with single spaces, folding (CRLF + space) before an atom that would pass MAX_LINE. */
function fold(name: string, atoms: string[]): string {
  let out = `${name}:`;
  let lineLength = out.length;
  for (const atom of atoms) {
    if (lineLength + 1 + atom.length > MAX_LINE && lineLength > name.length + 1) {
      out += '\r\n ' + atom;
      lineLength = 1 + atom.length;
    } else {
      out += ' ' + atom;
      lineLength += 1 + atom.length;
    }
  }
  return out;
}

// Unstructured text (RFC 5322 §3.2.5): plain when it is printable ASCII that cannot be read as
// an encoded-word, otherwise ISO-2022-JP encoded-words.
function textTokens(text: string): string[] {
  const plain = /^[\x20-\x7e]*$/.test(text) && !text.includes('=?') && !/^ | $| {2}/.test(text);
  // a word longer than a header line may be (998 octets) is encoded, as encoded-words split
  if (plain && !text.split(' ').some((w) => w.length > 900)) return text === '' ? [] : text.split(' ');
  return encodeIso2022JpWords(text);
}

const ATOM_PHRASE = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

function addressHeader(name: string, addresses: MailAddress[]): string {
  const atoms: string[] = [];
  addresses.forEach((a, i) => {
    const last = i === addresses.length - 1;
    const addr = a.name ? `<${a.address}>` : a.address;
    if (a.name) {
      if (/^[\x20-\x7e]*$/.test(a.name) && !a.name.includes('=?')) {
        atoms.push(ATOM_PHRASE.test(a.name) ? a.name : `"${a.name.replace(/[\\"]/g, '\\$&')}"`);
      } else {
        atoms.push(...encodeIso2022JpWords(a.name));
      }
    }
    atoms.push(last ? addr : addr + ',');
  });
  return fold(name, atoms);
}

// ---- addresses -----------------------------------------------------------------------------

function normalizeList(list: Array<string | MailAddress> | undefined): MailAddress[] {
  return (list ?? []).map(normalizeAddress);
}

/** Trimmed, the domain lower-cased and in ASCII (punycode); throws a TypeError on what is not an address. */
export function normalizeAddress(value: string | MailAddress): MailAddress {
  const a = typeof value === 'string' ? { address: value } : value;
  const address = a.address.trim();
  if (!/^[^\s<>()",;\\@]+@[^\s<>()",;\\@]+$/.test(address)) throw new TypeError(`composeMail: not a mail address: ${JSON.stringify(a.address)}`);
  const at = address.lastIndexOf('@');
  const given = address.slice(at + 1);
  // letters, digits and hyphens with a top-level name of letters (no IPv4-like host, no
  // Punycode label) come out of domainToASCII as they went in, lower-cased: skip the lookup
  // (~1 µs a bulk mail)
  const domain = /^[a-z0-9.-]*\.[a-z]+$/i.test(given) && !/(^|\.)xn--/i.test(given) ? given.toLowerCase() : domainToASCII(given.toLowerCase()) || given;
  const name = (a.name ?? '').replace(/[\r\n]+/g, ' ').trim();
  return { address: `${address.slice(0, at)}@${domain}`, ...(name ? { name } : {}) };
}

function toNodemailer(a: MailAddress): Mail.Address | string {
  return a.name ? { name: a.name, address: a.address } : a.address;
}

function dedupe(addresses: string[]): string[] {
  const seen = new Set<string>();
  return addresses.filter((a) => {
    const key = a.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** CRLF for every line end (CR, LF or CRLF); null and undefined as they are. */
export function canonicalLines<T extends string | null | undefined>(text: T): T {
  return (typeof text === 'string' && /\r(?!\n)|(?<!\r)\n/.test(text) ? text.replace(/\r\n|\r|\n/g, '\r\n') : text) as T;
}
