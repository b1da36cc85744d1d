// Content-Transfer-Encoding decoders (RFC 2045 6.7 quoted-printable, 6.8 base64), lenient as mail
// needs: stray characters in base64 are skipped, a malformed "=" in quoted-printable stays literal.

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

export function decodeQuotedPrintable(buf: Buffer): Buffer {
  const out = Buffer.allocUnsafe(buf.length);
  let n = 0;
  const len = buf.length;
  for (let i = 0; i < len; i++) {
    const c = buf[i]!;
    if (c !== 0x3d) {
      out[n++] = c;
      continue;
    }
    const h = hexValue(buf[i + 1]);
    const l = hexValue(buf[i + 2]);
    if (h >= 0 && l >= 0) {
      out[n++] = h * 16 + l;
      i += 2;
      continue;
    }
    // soft line break: "=" then optional transport whitespace then CRLF or LF
    let j = i + 1;
    while (j < len && (buf[j] === 0x20 || buf[j] === 0x09)) j++;
    if (buf[j] === 0x0d && buf[j + 1] === 0x0a) {
      i = j + 1;
    } else if (buf[j] === 0x0a) {
      i = j;
    } else if (j === len) {
      i = j;
    } else {
      out[n++] = c;
    }
  }
  return out.subarray(0, n);
}

const NOT_BASE64 = /[^A-Za-z0-9+/]/g;
const BASE64_CHAR = /[A-Za-z0-9+/]/;

/**
 * Padding ends a quantum: base64 with "=" before more data is separately encoded pieces put one
 * after another (mailers that encode line by line, list footers appended to an encoded body),
 * and each piece is decoded on its own, as mailparser does; a stray "=" between whole quanta is
 * skipped. Dropping the "=" instead shifted
 * every later byte by 2 or 4 bits and turned the rest of the text into garbage.
 */
export function decodeBase64(buf: Buffer): Buffer {
  const s = buf.toString('latin1');
  const pad = s.indexOf('=');
  if (pad === -1 || !BASE64_CHAR.test(s.slice(pad))) return Buffer.from(s.replace(NOT_BASE64, ''), 'base64');
  const out: Buffer[] = [];
  let quanta = '';
  for (const piece of s.split(/=+/)) {
    quanta += piece.replace(NOT_BASE64, '');
    // "=" after a partial quantum is padding; after whole quanta it is a stray character
    if (quanta.length % 4 !== 0) {
      out.push(Buffer.from(quanta, 'base64'));
      quanta = '';
    }
  }
  if (quanta) out.push(Buffer.from(quanta, 'base64'));
  return Buffer.concat(out);
}

/** Decode a part body by its (lower-cased) Content-Transfer-Encoding; unknown ones pass through. */
export function decodeTransfer(body: Buffer, encoding: string): Buffer {
  if (encoding === 'base64') return decodeBase64(body);
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  return body;
}
