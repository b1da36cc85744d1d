// Streaming decoder for the body of a POP3 multi-line response (RFC 1939 §3): removes
// the byte-stuffed leading "." of a line and finds the terminating "CRLF.CRLF", however
// the TCP stream happens to be cut. Works on bytes only: message bodies are never turned
// into strings, so 8-bit content (Shift_JIS, binary) passes through exactly, and there is
// no limit on line length.
//
// The body starts right after the status line's CRLF, i.e. at the start of a line. A
// line is terminated by CRLF (RFC 1939 §3); the terminator is a line that is exactly
// ".\r\n". Any other line starting with "." has that first "." stripped.
//
// A bare LF inside a CRLF message is not a line end: a server that stuffs only the lines it
// splits at CRLF sends "text\n.\r\n" unstuffed, and taking that for the terminator would
// end the mail early and pass the truncated bytes off as complete (then deleted from the
// server: mail lost; and what follows would be read as the next replies). So once a body
// has shown a CRLF, only CRLF ends its lines; a body of bare-LF lines only (a server that
// serves its LF files as they are) still ends at "\n.\r\n". With `bareLfEndsLine` (the
// short listings — CAPA, LIST, UIDL — of sloppy servers) a bare LF always starts a line.

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

export interface MultilineDecoderOptions {
  /** A bare LF (no CR before it) always starts a line; default true. Message bodies: false (then only until the first CRLF). */
  bareLfEndsLine?: boolean;
}

export class MultilineDecoder {
  private state: State = State.LineStart;
  /** Mid: the last byte seen was CR (a LF now ends the line) */
  private lastWasCr = false;
  /** a CRLF has been seen in this body: from now on a bare LF is data (unless bareLfEndsLine) */
  private sawCrlf = false;
  private readonly bareLfEndsLine: boolean;

  constructor(options: MultilineDecoderOptions = {}) {
    this.bareLfEndsLine = options.bareLfEndsLine ?? true;
  }

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
            this.lastWasCr = chunk[n - 1] === CR;
            i = n;
          } else {
            const crlf = lf > i ? chunk[lf - 1] === CR : this.lastWasCr;
            parts.push(chunk.subarray(i, lf + 1));
            i = lf + 1;
            this.lastWasCr = false;
            if (crlf) this.sawCrlf = true;
            if (crlf || this.bareLfEndsLine || !this.sawCrlf) this.state = State.LineStart;
          }
          break;
        }
        case State.LineStart:
          if (chunk[i] === DOT) {
            this.state = State.Dot;
            i++;
          } else {
            this.state = State.Mid;
            this.lastWasCr = false;
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
            this.lastWasCr = false;
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
          this.lastWasCr = true;
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

/**
 * Byte-stuff a message for a multi-line response (used by tests and fake servers), with the
 * decoder's idea of a line: lines end at CRLF, or at a bare LF while no CRLF has come yet.
 */
export function dotStuff(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let lineStart = 0;
  let sawCrlf = false;
  while (lineStart < body.length) {
    let lf = body.indexOf(LF, lineStart);
    while (lf !== -1 && sawCrlf && (lf === 0 || body[lf - 1] !== CR)) lf = body.indexOf(LF, lf + 1);
    if (lf > 0 && body[lf - 1] === CR && lf - 1 >= lineStart) sawCrlf = true;
    const end = lf === -1 ? body.length : lf + 1;
    if (body[lineStart] === DOT) parts.push(Buffer.from('.'));
    parts.push(body.subarray(lineStart, end));
    lineStart = end;
  }
  return Buffer.concat(parts);
}
