// The DATA payload of SMTP (RFC 5321 §4.5.2): a line that starts with "." gets a second
// one, and the message ends with CRLF "." CRLF. The receiver removes the stuffed dots, so it
// reads back exactly the bytes given here when they use CRLF line ends and end with CRLF, as
// composed mail does. Bare CR or LF (RFC 5321 §2.3.8 forbids them on the wire) are sent as
// CRLF, as nodemailer did.
//
// Done with Buffer.indexOf (native memchr-like scans) over the bytes, never a regular
// expression over a string: a 10 KB mail costs a handful of scans and no copy (the result is
// a list of slices of the original to be written with writev). A message may come as
// chunks (bulk mail shares its large segments with every other mail of its delivery); a
// line's leading dot is then looked for across their joins too.

const DOT = Buffer.from('.');
const CRLF = Buffer.from('\r\n');
const END = Buffer.from('.\r\n');
const CRLF_END = Buffer.from('\r\n.\r\n');
const LF_DOT = Buffer.from('\n.');

/**
 * The message (one buffer, or chunks that make it in order) as DATA payload, terminator
 * included, as slices to write in order. `crlf`: the caller built the message with CRLF line
 * ends only (compose-bulk's segments), so the look for bare CR or LF is skipped: a scan per
 * line, the dearest part of this otherwise.
 */
export function dotStuff(message: Buffer | readonly Buffer[], crlf = false): Buffer[] {
  let chunks = Buffer.isBuffer(message) ? [message] : message;
  if (!crlf) {
    const whole = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    chunks = [hasBareLineBreak(whole) ? toCrlf(whole) : whole];
  }
  const out: Buffer[] = [];
  let lineStart = true;
  // the message's last two bytes, across chunks
  let beforeLast = -1;
  let last = -1;
  for (const bytes of chunks) {
    if (bytes.length === 0) continue;
    if (lineStart && bytes[0] === 0x2e) out.push(DOT);
    let from = 0;
    for (let at = bytes.indexOf(LF_DOT); at >= 0; at = bytes.indexOf(LF_DOT, at + 2)) {
      // up to and including the LF, then the extra dot; the line's own dot starts the next slice
      out.push(bytes.subarray(from, at + 1), DOT);
      from = at + 1;
    }
    out.push(from === 0 ? bytes : bytes.subarray(from));
    beforeLast = bytes.length >= 2 ? bytes[bytes.length - 2]! : last;
    last = bytes[bytes.length - 1]!;
    lineStart = last === 0x0a;
  }
  out.push(last === -1 || (beforeLast === 0x0d && last === 0x0a) ? END : CRLF_END);
  return out;
}

/** The message's size in bytes. */
export function messageSize(message: Buffer | readonly Buffer[]): number {
  if (Buffer.isBuffer(message)) return message.length;
  let n = 0;
  for (const c of message) n += c.length;
  return n;
}

/** A CR not followed by LF, or an LF not preceded by CR. */
export function hasBareLineBreak(bytes: Buffer): boolean {
  for (let at = bytes.indexOf(0x0a); at >= 0; at = bytes.indexOf(0x0a, at + 1)) {
    if (at === 0 || bytes[at - 1] !== 0x0d) return true;
  }
  for (let at = bytes.indexOf(0x0d); at >= 0; at = bytes.indexOf(0x0d, at + 1)) {
    if (bytes[at + 1] !== 0x0a) return true;
  }
  return false;
}

// the rare slow path: every CR, LF or CRLF becomes CRLF
function toCrlf(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b !== 0x0d && b !== 0x0a) continue;
    parts.push(bytes.subarray(from, i), CRLF);
    if (b === 0x0d && bytes[i + 1] === 0x0a) i++;
    from = i + 1;
  }
  parts.push(bytes.subarray(from));
  return Buffer.concat(parts);
}
