// The recipients CSV of a bulk delivery (一斉配信) read in the browser, for the preview
// before anything is sent: decode the file's bytes, parse it, find the address column,
// and find the rows the server will skip (invalid or duplicate address).
//
// The server decides (src/send/csv.ts, src/send/address.ts, src/send/bulk-service.ts).
// Parsing is the server's own code (src/send/csv-parse.ts); decoding and the address
// check cannot reach the browser bundle (iconv-lite, node:url), so those follow the
// server step for step, and test/e2e/bulk-delivery.test.ts checks with random
// input that both give the same answer. The file goes to the API as its bytes
// (recipientsCsvBase64), so the server reads exactly what was previewed.
// RFC 4180 (CSV), RFC 5321 §4.1.2 (Mailbox).

import { parseCsv } from '../../../src/send/csv-parse.ts';
import type { CsvEncoding, CsvTable } from '../../../src/send/csv-parse.ts';

export type { CsvEncoding, CsvError, CsvProblem, CsvRow, CsvTable } from '../../../src/send/csv-parse.ts';

/** Header names taken as the address column (as bulk-service.ts ADDRESS_COLUMNS), compared trimmed and lower-cased. */
export const ADDRESS_COLUMNS = ['email', 'e-mail', 'email address', 'e-mail address', 'mail', 'mail address', 'address', 'メールアドレス', 'メール', 'アドレス', '宛先'];

/** Decode a CSV file's bytes as the server does: BOMs decide; else UTF-8 if valid, else Shift_JIS (CP932). */
export function decodeCsvBytes(bytes: Uint8Array): { text: string; encoding: CsvEncoding } {
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { text: new TextDecoder('utf-8').decode(bytes.subarray(3)), encoding: 'utf-8' };
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return { text: decodeUtf16(bytes.subarray(2), true), encoding: 'utf-16le' };
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return { text: decodeUtf16(bytes.subarray(2), false), encoding: 'utf-16be' };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8' };
  } catch {
    // the Encoding Standard's Shift_JIS is Windows-31J, iconv's cp932 on the server
    return { text: new TextDecoder('shift_jis').decode(bytes), encoding: 'shift_jis' };
  }
}

/** UTF-16 code units as they are, like iconv: a lone surrogate stays, an odd last byte is dropped (TextDecoder would show U+FFFD). */
function decodeUtf16(bytes: Uint8Array, littleEndian: boolean): string {
  const units = new Uint16Array(bytes.length >> 1);
  for (let i = 0; i < units.length; i++) {
    const a = bytes[2 * i]!;
    const b = bytes[2 * i + 1]!;
    units[i] = littleEndian ? a | (b << 8) : (a << 8) | b;
  }
  const CHUNK = 0x8000;
  let text = '';
  for (let i = 0; i < units.length; i += CHUNK) text += String.fromCharCode(...units.subarray(i, i + CHUNK));
  return text;
}

/** Parse CSV text with the server's own parser (src/send/csv-parse.ts). */
export function parseCsvText(input: string): CsvTable {
  return parseCsv(input);
}

/** The column the server takes as the address when none is named; -1 when there is none. */
export function detectAddressColumn(header: string[]): number {
  return header.findIndex((h) => ADDRESS_COLUMNS.includes(h.toLowerCase()));
}

const LOCAL = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+$/;
const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/**
 * The domain in ASCII (IDNA) as node's domainToASCII gives it, undefined when it fails.
 * Node sets the hostname of a ws: URL (WHATWG URL "hostname" setter) and reads it back,
 * so this does the same: a host ends at / ? # or \\ (the rest is dropped) and a port is an
 * error. The setter keeps the old host on failure, hence the two different starting hosts.
 */
function domainToAscii(domain: string): string | undefined {
  if (domain === '') return undefined;
  const a = new URL('ws://x');
  const b = new URL('ws://y');
  a.hostname = domain;
  b.hostname = domain;
  return a.hostname === b.hostname ? a.hostname : undefined;
}

/** The address as the server would send to it, or undefined when the server skips the row as invalid. */
export function normalizeAddress(raw: string): string | undefined {
  const value = raw.trim();
  const at = value.lastIndexOf('@');
  if (at <= 0 || at === value.length - 1) return undefined;
  const local = value.slice(0, at);
  if (local.length > 64 || !LOCAL.test(local)) return undefined;
  // as src/send/address.ts: characters a domain name cannot hold are refused first
  if (/[\s/?#\\%@:[\]<>"]/.test(value.slice(at + 1))) return undefined;
  const domain = domainToAscii(value.slice(at + 1).toLowerCase());
  if (!domain) return undefined;
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels[labels.length - 1]!)) return undefined;
  const address = `${local}@${domain}`;
  return address.length <= 254 ? address : undefined;
}

export interface ExpectedSkip {
  row: number;
  line: number;
  address: string;
  reason: 'invalid_address' | 'duplicate';
  /** duplicate: the row that has the address first */
  firstRow?: number | undefined;
}

export interface Recipient {
  row: number;
  address: string;
  /** every named column of the row: the merge fields */
  fields: Record<string, string>;
}

/** Rows → the recipients and the rows skipped for an invalid or duplicate address (the suppression list is the server's). */
export function planRecipients(table: CsvTable, addressIndex: number): { recipients: Recipient[]; skipped: ExpectedSkip[] } {
  const recipients: Recipient[] = [];
  const skipped: ExpectedSkip[] = [];
  const firstRowOf = new Map<string, number>();
  if (addressIndex < 0) return { recipients, skipped };
  for (const r of table.rows) {
    const raw = r.values[addressIndex] ?? '';
    const address = normalizeAddress(raw);
    if (!address) {
      skipped.push({ row: r.row, line: r.line, address: raw, reason: 'invalid_address' });
      continue;
    }
    const key = address.trim().toLowerCase();
    const first = firstRowOf.get(key);
    if (first !== undefined) {
      skipped.push({ row: r.row, line: r.line, address: raw.trim(), reason: 'duplicate', firstRow: first });
      continue;
    }
    firstRowOf.set(key, r.row);
    const fields: Record<string, string> = {};
    table.header.forEach((h, i) => {
      if (h !== '') fields[h] = r.values[i] ?? '';
    });
    recipients.push({ row: r.row, address, fields });
  }
  return { recipients, skipped };
}

/** Bytes → base64, in chunks (a 50 MB file does not fit one String.fromCharCode call). */
export function bytesToBase64(bytes: Uint8Array): string {
  const CHUNK = 0x8000;
  let binary = '';
  for (let i = 0; i < bytes.length; i += CHUNK) binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(binary);
}
