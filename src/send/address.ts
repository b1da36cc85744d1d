// Recipient addresses (RFC 5321 §4.1.2 Mailbox, dot-atom local parts only): what Yubin
// will put into RCPT TO. Stricter than RFC 5322 on purpose (no quoted local parts, no
// comments, no route addresses), looser in one place: Japanese mobile carriers issued
// local parts with consecutive or trailing dots ("taro..yamada@docomo.ne.jp") that still
// receive mail, so dots are allowed anywhere in the local part.
import { domainToASCII } from 'node:url';
import type { FieldIssue } from '../domain/errors.ts';

/** RFC 5321 §4.5.3.1: local part ≤ 64 octets, the whole path ≤ 256 (254 without the brackets). */
export const MAX_LOCAL_PART = 64;
export const MAX_ADDRESS = 254;

const LOCAL = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+$/;
const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/**
 * The address as Yubin sends it (trimmed, domain lower-cased and IDNA-encoded), or
 * undefined when it cannot be a recipient.
 */
export function normalizeRecipient(raw: string): string | undefined {
  const value = raw.trim();
  const at = value.lastIndexOf('@');
  if (at <= 0 || at === value.length - 1) return undefined;
  const local = value.slice(0, at);
  const domainRaw = value.slice(at + 1);
  if (local.length > MAX_LOCAL_PART || !LOCAL.test(local)) return undefined;
  // an IP literal ([192.0.2.1]) is legal but never what a bulk list means; and
  // domainToASCII would cut "example.com/x" at the slash and decode "%41": refuse
  // every character a domain name cannot hold before asking it
  if (/[\s/?#\\%@:[\]<>"]/.test(domainRaw)) return undefined;
  const domain = domainToASCII(domainRaw.toLowerCase());
  if (!domain) return undefined;
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels[labels.length - 1]!)) return undefined;
  const address = `${local}@${domain}`;
  return address.length <= MAX_ADDRESS ? address : undefined;
}

/** The key that makes two spellings of one address the same (duplicates, suppressions). */
export function recipientKey(address: string): string {
  return address.trim().toLowerCase();
}

/** RFC 5322 §3.6.4 msg-id, its brackets optional: printable ASCII with one "@", no "<", ">" or space inside. */
const MESSAGE_ID = /^(?:<([!-;=?A-~]+@[!-;=?A-~]+)>|([!-;=?A-~]+@[!-;=?A-~]+))$/;
/** Longer is no Message-ID a mail system made (RFC 5322 only bounds the line, at 998). */
export const MAX_MESSAGE_ID = 250;

/**
 * A Message-ID a mail answers or refers to (In-Reply-To, References), with its angle
 * brackets, or undefined when it is not one. Trimmed; the brackets may be left out.
 */
export function normalizeMessageId(raw: string): string | undefined {
  const m = MESSAGE_ID.exec(raw.trim());
  const id = m && (m[1] ?? m[2]);
  return id && id.length + 2 <= MAX_MESSAGE_ID ? `<${id}>` : undefined;
}

/** A Reply-To address as typed (single and bulk sends): normalized, or null with a field error in `issues`. */
export function replyToAddress(raw: string | null | undefined, issues: FieldIssue[]): string | null {
  if (!raw) return null;
  const address = normalizeRecipient(raw);
  if (!address) issues.push({ path: 'replyTo', key: 'send.address', params: { address: raw } });
  return address ?? null;
}
