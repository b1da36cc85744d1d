// Metadata of a received mail, computed at receive time from the raw bytes without a full MIME
// parse: From/To/Cc/Subject/Date/Message-ID from the top header, size and SHA-256 of the exact
// bytes, attachment names from a walk of the part headers (mime-scanner.ts). Never throws: a
// mail that cannot be read gets parseError and whatever could be extracted. The collector form
// takes the mail in chunks and keeps only headers in memory.
import { createHash } from 'node:crypto';
import { decodeEncodedWords, getField, parseAddressList, parseMessageId } from './headers.ts';
import type { Address, HeaderField } from './headers.ts';
import { parseMailDate } from './mail-date.ts';
import { MimeScanner } from './mime-scanner.ts';
import type { MimeScanResult } from './mime-scanner.ts';

export type { Address } from './headers.ts';

export interface MailMetadata {
  from: Address | null;
  to: Address[];
  cc: Address[];
  subject: string | null;
  /** ISO 8601 (UTC) from the Date field; null when missing or unparseable */
  date: string | null;
  /** with angle brackets, e.g. '<abc@example.jp>' */
  messageId: string | null;
  size: number;
  /** hex SHA-256 of the exact bytes */
  sha256: string;
  attachmentNames: string[];
  hasAttachments: boolean;
  parseError: string | null;
}

export interface MetadataCollector {
  update(chunk: Uint8Array): void;
  /** The metadata of everything given to update(); later calls return the same object. */
  end(): MailMetadata;
}

/** Attachment names kept in the metadata of one mail. */
export const MAX_ATTACHMENT_NAMES = 500;
/** Addresses kept per address field. */
export const MAX_ADDRESSES = 1_000;
const MAX_SUBJECT_CHARS = 10_000;

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function firstAddress(fields: readonly HeaderField[]): Address | null {
  const raw = getField(fields, 'from');
  return raw === undefined ? null : (parseAddressList(raw)[0] ?? null);
}

function allAddresses(fields: readonly HeaderField[], name: string): Address[] {
  const list: Address[] = [];
  for (const f of fields) {
    if (f.name !== name) continue;
    for (const a of parseAddressList(f.value)) if (list.length < MAX_ADDRESSES) list.push(a);
  }
  return list;
}

function subjectOf(fields: readonly HeaderField[]): string | null {
  const raw = getField(fields, 'subject');
  return raw === undefined ? null : decodeEncodedWords(raw).slice(0, MAX_SUBJECT_CHARS);
}

function dateOf(fields: readonly HeaderField[]): string | null {
  const raw = getField(fields, 'date');
  return raw === undefined ? null : parseMailDate(raw);
}

function messageIdOf(fields: readonly HeaderField[]): string | null {
  const raw = getField(fields, 'message-id');
  return raw === undefined ? null : parseMessageId(raw);
}

function attempt<T, A>(errors: string[], what: string, fallback: T, fn: (fields: readonly HeaderField[], arg: A) => T, fields: readonly HeaderField[], arg: A): T {
  try {
    return fn(fields, arg);
  } catch (err) {
    errors.push(`${what}: ${describeError(err)}`);
    return fallback;
  }
}

/** Top-header fields → metadata fields; each one guarded so one bad field spoils no other. */
export function headerMetadata(fields: readonly HeaderField[], errors: string[]): Pick<MailMetadata, 'from' | 'to' | 'cc' | 'subject' | 'date' | 'messageId'> {
  return {
    from: attempt(errors, 'From', null, firstAddress, fields, undefined),
    to: attempt(errors, 'To', [], allAddresses, fields, 'to'),
    cc: attempt(errors, 'Cc', [], allAddresses, fields, 'cc'),
    subject: attempt(errors, 'Subject', null, subjectOf, fields, undefined),
    date: attempt(errors, 'Date', null, dateOf, fields, undefined),
    messageId: attempt(errors, 'Message-ID', null, messageIdOf, fields, undefined),
  };
}

/** What was wrong with a mail's header and MIME structure, worst first; empty when nothing. */
export function structureErrors(scan: MimeScanResult): string[] {
  const errors: string[] = [];
  const { fields, malformedLines } = scan.header;
  if (fields.length === 0) errors.push('no header fields');
  else if (scan.noSeparator && malformedLines > 0) errors.push('no empty line between header and body');
  else if (malformedLines > 0) errors.push(`${malformedLines} malformed header line(s)`);
  errors.push(...scan.errors);
  return errors;
}

function fromScan(scan: MimeScanResult | null, sha256: string, size: number, errors: string[]): MailMetadata {
  const meta: MailMetadata = {
    from: null,
    to: [],
    cc: [],
    subject: null,
    date: null,
    messageId: null,
    size,
    sha256,
    attachmentNames: [],
    hasAttachments: false,
    parseError: null,
  };
  if (scan) {
    try {
      Object.assign(meta, headerMetadata(scan.header.fields, errors));
      errors.unshift(...structureErrors(scan));
      for (const part of scan.parts) {
        if (part.multipart || !part.isAttachment) continue;
        meta.hasAttachments = true;
        if (part.filename !== null && meta.attachmentNames.length < MAX_ATTACHMENT_NAMES) meta.attachmentNames.push(part.filename);
      }
    } catch (err) {
      errors.push(describeError(err));
    }
  }
  meta.parseError = errors.length ? errors.join('; ') : null;
  return meta;
}

/**
 * Metadata from chunks: hashes incrementally and keeps only the top header and part headers, so
 * a 50 MB mail is never buffered. update() and end() never throw.
 */
export function createMetadataCollector(): MetadataCollector {
  const hash = createHash('sha256');
  let scanner: MimeScanner | null = new MimeScanner();
  let size = 0;
  const errors: string[] = [];
  let result: MailMetadata | null = null;
  return {
    update(chunk: Uint8Array): void {
      if (result) return;
      if (!(chunk instanceof Uint8Array)) {
        errors.push('update() was given something that is not bytes');
        return;
      }
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      hash.update(buf);
      size += buf.length;
      if (!scanner) return;
      try {
        scanner.write(buf);
      } catch (err) {
        errors.push(`MIME walk failed: ${describeError(err)}`);
        scanner = null;
      }
    },
    end(): MailMetadata {
      if (result) return result;
      let scan: MimeScanResult | null = null;
      if (scanner) {
        try {
          scan = scanner.end();
        } catch (err) {
          errors.push(`MIME walk failed: ${describeError(err)}`);
        }
      }
      result = fromScan(scan, hash.digest('hex'), size, errors);
      return result;
    },
  };
}

/** Metadata of one mail held in memory. Never throws. */
export function extractMetadata(raw: Buffer): MailMetadata {
  const collector = createMetadataCollector();
  collector.update(raw);
  return collector.end();
}
