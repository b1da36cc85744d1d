// Host names for mail servers: a domain name (IDN allowed, checked in its ASCII
// form) or an IPv4/IPv6 literal. ≤ 253 characters; no spaces, control
// characters, schemes, paths or ports.
import { isIP } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';

export const MAX_HOST_LENGTH = 253;
const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/i;

export function normalizeHost(raw: string): string | null {
  if (raw.length === 0 || raw.length > MAX_HOST_LENGTH) return null;
   
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) return null;
  let host = raw;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (isIP(host)) return host.toLowerCase();
  // domainToASCII reads a URL's host: it would decode "%41" and cut at "/" — refuse what no
  // domain name holds before asking it
  if (/[/:@?#\\%]/.test(host)) return null;
  const trimmedDot = host.endsWith('.') ? host.slice(0, -1) : host;
  const ascii = domainToASCII(trimmedDot);
  if (!ascii || ascii.length > MAX_HOST_LENGTH) return null;
  const labels = ascii.split('.');
  if (!labels.every((l) => LABEL.test(l))) return null;
  // all-numeric dotted names that are not valid IPv4 (e.g. 999.1.1.1) are typos
  if (labels.every((l) => /^\d+$/.test(l))) return null;
  // the name as it is connected to: full-width letters typed with a Japanese IME, soft hyphens
  // and zero-width spaces pass the check above only in their mapped form (ｐｏｐ → pop), and
  // stored as typed they resolved but failed TLS's host name check. An IDN stays in Unicode.
  return /^[\x21-\x7e]+$/.test(trimmedDot) ? trimmedDot.toLowerCase() : domainToUnicode(ascii);
}
