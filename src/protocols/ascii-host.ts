// The name a connection uses for a mail server: an internationalized domain name in its
// ASCII form (xn--…), because that is what SNI carries and what certificates name; an IP
// literal or an ASCII name as it is. Yubin stores and shows the Unicode form.
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

export function asciiHost(host: string): string {
  if (isIP(host) || /^[\x21-\x7e]*$/.test(host)) return host;
  return domainToASCII(host) || host;
}
