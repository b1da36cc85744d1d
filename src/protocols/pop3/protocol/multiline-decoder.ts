// Streaming decoder for the body of a POP3 multi-line response (RFC 1939 §3): removes
// the byte-stuffed leading "." of a line and finds the terminating "CRLF.CRLF", however
// the TCP stream happens to be cut. Works on bytes only: message bodies are never turned
// into strings, so 8-bit content (Shift_JIS, binary) passes through exactly, and there is
// no limit on line length.
//
// The body starts right after the status line's CRLF, i.e. at the start of a line. A
// line is "terminated" by LF (CRLF on the wire); the terminator is a line that is
// exactly ".\r\n". Any other line starting with "." has that first "." stripped.

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const CR_ONLY = Buffer.from([CR]);

const State = {
  LineStart: 0,
  /** a "." at the start of a line */
  Dot: 1,
  /** ".\r" at the start of a line */
  DotCr: 2,
  /** inside a line */
  Mid: 3,
  Done: 4,
} as const;
type State = (typeof State)[keyof typeof State];

export interface DecodeResult {
  /** Unstuffed body bytes found in this chunk, possibly empty. */
  data: Buffer;
  /** How many bytes of the chunk belong to the body (all of them until the terminator). */
  consumed: number;
  /** The terminator has been seen; bytes after `consumed` belong to the next reply. */
  done: boolean;
}

const EMPTY = Buffer.alloc(0);

export class MultilineDecoder {
  private state: State = State.LineStart;

  get done(): boolean {
    return this.state === State.Done;
  }

  feed(chunk: Buffer): DecodeResult {
    if (this.state === State.Done) return { data: EMPTY, consumed: 0, done: true };
    const parts: Buffer[] = [];
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case State.Mid: {
          const lf = chunk.indexOf(LF, i);
          if (lf === -1) {
            parts.push(chunk.subarray(i));
            i = n;
          } else {
            parts.push(chunk.subarray(i, lf + 1));
            i = lf + 1;
            this.state = State.LineStart;
          }
          break;
        }
        case State.LineStart:
          if (chunk[i] === DOT) {
            this.state = State.Dot;
            i++;
          } else {
            this.state = State.Mid;
          }
          break;
        case State.Dot:
          // ".\r" might be the terminator; anything else means the "." was stuffing
          // (or, from a careless server, a bare "." that RFC 1939 still says to strip).
          if (chunk[i] === CR) {
            this.state = State.DotCr;
            i++;
          } else {
            this.state = State.Mid;
          }
          break;
        case State.DotCr:
          if (chunk[i] === LF) {
            this.state = State.Done;
            return { data: join(parts), consumed: i + 1, done: true };
          }
          // ".\r" + something else: a line that started with a stuffed ".\r"
          parts.push(CR_ONLY);
          this.state = State.Mid;
          break;
      }
    }
    return { data: join(parts), consumed: n, done: false };
  }
}

function join(parts: Buffer[]): Buffer {
  if (parts.length === 0) return EMPTY;
  if (parts.length === 1) return parts[0] as Buffer;
  return Buffer.concat(parts);
}

/** Byte-stuff a message for a multi-line response (used by tests and fake servers). */
export function dotStuff(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let lineStart = 0;
  while (lineStart < body.length) {
    const lf = body.indexOf(LF, lineStart);
    const end = lf === -1 ? body.length : lf + 1;
    if (body[lineStart] === DOT) parts.push(Buffer.from('.'));
    parts.push(body.subarray(lineStart, end));
    lineStart = end;
  }
  return Buffer.concat(parts);
}
