// POP3 replies on the wire: status lines (RFC 1939 §3), extended response codes
// (RFC 2449 §8, RFC 3206), SASL continuations (RFC 5034 §4), the greeting's APOP
// timestamp (RFC 1939 §7), and the bodies of CAPA (RFC 2449 §5), LIST, UIDL and STAT.
// Pure functions over strings and bytes; no sockets here.

export type StatusKind = 'ok' | 'err' | 'continue';

export interface StatusLine {
  kind: StatusKind;
  /** Text after "+OK " / "-ERR " / "+ " (for a continuation: the base64 challenge). */
  text: string;
  /** The whole line without CRLF, for error messages and logs. */
  line: string;
  /** RFC 2449 response code such as "IN-USE" or "SYS/TEMP", upper-cased, without brackets. */
  code: string | undefined;
}

/**
 * Parse one status line (without its line ending). Returns undefined when the line is
 * neither +OK, -ERR nor (where allowed) a SASL continuation "+ ...".
 */
export function parseStatusLine(line: string, allowContinuation = false): StatusLine | undefined {
  // Case-insensitive: RFC 1939 says "+OK"/"-ERR" but some old servers send "+ok".
  const upper = line.slice(0, 4).toUpperCase();
  if (upper.startsWith('+OK') && (line.length === 3 || line[3] === ' ' || line[3] === '\t')) {
    const text = line.slice(4);
    return { kind: 'ok', text, line, code: parseRespCode(text) };
  }
  if (upper === '-ERR' && (line.length === 4 || line[4] === ' ' || line[4] === '\t')) {
    const text = line.slice(5);
    return { kind: 'err', text, line, code: parseRespCode(text) };
  }
  if (allowContinuation && line.startsWith('+') && (line.length === 1 || line[1] === ' ')) {
    return { kind: 'continue', text: line.slice(2).trim(), line, code: undefined };
  }
  return undefined;
}

/** "[SYS/TEMP] try later" → "SYS/TEMP" (RFC 2449 §8: resp-code is the first thing). */
export function parseRespCode(text: string): string | undefined {
  const m = /^\s*\[([^\]\s]+)\]/.exec(text);
  return m?.[1]?.toUpperCase();
}

/**
 * The APOP timestamp of a greeting (RFC 1939 §7): a msg-id "<...@...>" somewhere in the
 * text, angle brackets included, exactly as sent (the digest is computed over it).
 */
export function extractApopTimestamp(greetingText: string): string | undefined {
  const m = /<[^<>\s@]+@[^<>\s]+>/.exec(greetingText);
  return m?.[0];
}

export interface Pop3Capabilities {
  /** The CAPA lines as the server sent them. */
  lines: string[];
  user: boolean;
  top: boolean;
  uidl: boolean;
  pipelining: boolean;
  respCodes: boolean;
  /** RFC 3206 AUTH-RESP-CODE */
  authRespCode: boolean;
  stls: boolean;
  /** SASL mechanisms (RFC 5034 §6), upper-cased; empty when SASL is not advertised. */
  sasl: string[];
  implementation: string | undefined;
  /** EXPIRE: days the server keeps retrieved mail, 'never', or undefined when not advertised. */
  expire: number | 'never' | undefined;
  /** LOGIN-DELAY: minimum seconds between logins, or undefined when not advertised. */
  loginDelay: number | undefined;
}

/** Parse the lines of a CAPA response body (RFC 2449 §6). */
export function parseCapabilities(lines: string[]): Pop3Capabilities {
  const caps: Pop3Capabilities = {
    lines,
    user: false,
    top: false,
    uidl: false,
    pipelining: false,
    respCodes: false,
    authRespCode: false,
    stls: false,
    sasl: [],
    implementation: undefined,
    expire: undefined,
    loginDelay: undefined,
  };
  for (const raw of lines) {
    const line = raw.trim();
    if (!line) continue;
    const [tag = '', ...args] = line.split(/\s+/);
    switch (tag.toUpperCase()) {
      case 'USER':
        caps.user = true;
        break;
      case 'TOP':
        caps.top = true;
        break;
      case 'UIDL':
        caps.uidl = true;
        break;
      case 'PIPELINING':
        caps.pipelining = true;
        break;
      case 'RESP-CODES':
        caps.respCodes = true;
        break;
      case 'AUTH-RESP-CODE':
        caps.authRespCode = true;
        break;
      case 'STLS':
        caps.stls = true;
        break;
      case 'SASL':
        for (const mech of args) if (!caps.sasl.includes(mech.toUpperCase())) caps.sasl.push(mech.toUpperCase());
        break;
      case 'IMPLEMENTATION':
        caps.implementation = line.slice(tag.length).trim();
        break;
      case 'EXPIRE': {
        const v = args[0]?.toUpperCase();
        if (v === 'NEVER') caps.expire = 'never';
        else if (v !== undefined && /^\d+$/.test(v)) caps.expire = Number(v);
        break;
      }
      case 'LOGIN-DELAY': {
        const v = args[0];
        if (v !== undefined && /^\d+$/.test(v)) caps.loginDelay = Number(v);
        break;
      }
    }
  }
  return caps;
}

export interface ListEntry {
  seq: number;
  size: number;
}

export interface UidlEntry {
  seq: number;
  uid: string;
}

/** "+OK 2 320" → { count: 2, size: 320 } (RFC 1939 §5 STAT); undefined when malformed. */
export function parseStat(text: string): { count: number; size: number } | undefined {
  const m = /^\s*(\d+)\s+(\d+)/.exec(text);
  if (!m) return undefined;
  return { count: Number(m[1]), size: Number(m[2]) };
}

/** Body lines of LIST: "1 120". Lines that do not parse are returned in `bad`. */
export function parseListLines(lines: string[]): { entries: ListEntry[]; bad: string[] } {
  const entries: ListEntry[] = [];
  const bad: string[] = [];
  for (const line of lines) {
    if (!line.trim()) continue;
    const m = /^\s*(\d+)\s+(\d+)/.exec(line);
    if (m) entries.push({ seq: Number(m[1]), size: Number(m[2]) });
    else bad.push(line);
  }
  return { entries, bad };
}

/** Body lines of UIDL: "1 whqtswO00WBw418f9t5JxYwZ" (unique-id is 1-70 chars 0x21-0x7E). */
export function parseUidlLines(lines: string[]): { entries: UidlEntry[]; bad: string[] } {
  const entries: UidlEntry[] = [];
  const bad: string[] = [];
  for (const line of lines) {
    if (!line.trim()) continue;
    const m = /^\s*(\d+)\s+([\x21-\x7e]+)\s*$/.exec(line);
    if (m) entries.push({ seq: Number(m[1]), uid: m[2] as string });
    else bad.push(line);
  }
  return { entries, bad };
}

/** Split a multi-line body into lines without their CRLF (or bare LF). */
export function splitLines(body: Buffer): string[] {
  const text = body.toString('latin1');
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}
