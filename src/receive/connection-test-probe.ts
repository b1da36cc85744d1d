// The connection test's own wire work: the DNS lookup, the TCP connect, the TLS
// handshake (implicit, or after a STARTTLS / STLS exchange done here by hand) with
// everything worth saying about the certificate, and a small line reader for the
// greeting and capability replies (POP3 RFC 1939/2449, IMAP RFC 9051, SMTP RFC 5321).
//
// The handshake always runs with rejectUnauthorized: false so that a bad certificate
// can be described rather than only refused; the verdict (authorized, host name
// match via tls.checkServerIdentity) is then made here. Nothing secret is ever sent
// on a probe connection: logging in is done afterwards by the protocol clients, which
// verify certificates themselves.
import dns from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import { asciiHost } from '../protocols/ascii-host.ts';
import { wrongProtocolError } from '../protocols/greeting.ts';
import { fromSocketError, MailError } from '../protocols/mail-error.ts';

/** A reply line longer than this is not a mail server talking. */
export const MAX_PROBE_LINE_BYTES = 64 * 1024;
/** Lines in one multi-line reply (CAPA, CAPABILITY, EHLO) before giving up. */
export const MAX_PROBE_REPLY_LINES = 1_000;
/** After QUIT / LOGOUT on a probe connection, how long the server may take to close. */
export const PROBE_CLOSE_TIMEOUT = 2_000;
/** The certificate expires within this many days: a warning. */
export const CERT_EXPIRY_WARNING_DAYS = 14;

const DAY_MS = 86_400_000;

/** Reject with TIMEOUT unless `promise` settles within `ms`; `onTimeout` cleans up. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout?.();
      reject(new MailError('TIMEOUT', `${what} timed out after ${ms} ms`, { kind: 'transient', command: what }));
    }, ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolve a host name (all addresses, as the clients' connect would); an IP literal is returned as is. */
export async function resolveHost(host: string, timeoutMs: number): Promise<{ literal: boolean; addresses: ResolvedAddress[] }> {
  const family = net.isIP(host);
  if (family) return { literal: true, addresses: [{ address: host, family }] };
  try {
    const addresses = await withTimeout(dns.promises.lookup(host, { all: true }), timeoutMs, 'DNS lookup');
    return { literal: false, addresses: addresses.map((a) => ({ address: a.address, family: a.family })) };
  } catch (err) {
    throw fromSocketError(err, 'DNS lookup');
  }
}

/** Open a TCP connection; `ms` is how long it took. */
export function tcpConnect(host: string, port: number, timeoutMs: number): Promise<{ socket: net.Socket; ms: number }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new MailError('TIMEOUT', `TCP connect to ${host}:${port} timed out after ${timeoutMs} ms`, { kind: 'transient', command: 'CONNECT' }));
    }, timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(fromSocketError(err, 'CONNECT'));
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      // whoever takes the socket over listens too; this one only keeps a late error from crashing
      socket.on('error', () => {});
      socket.setNoDelay(true);
      resolve({ socket, ms: Number((process.hrtime.bigint() - started) / 1_000_000n) });
    });
  });
}

export interface TlsSettings {
  ca?: Buffer | string | undefined;
}

/** TLS over an open socket (a fresh TCP connection, or the plain socket after STARTTLS). */
export function tlsHandshake(socket: net.Socket, host: string, settings: TlsSettings, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secured = tls.connect({
      socket,
      host,
      // SNI must not be an IP address (RFC 6066 §3)
      servername: net.isIP(host) ? undefined : asciiHost(host),
      ca: settings.ca,
      // judged in inspectCertificate() so that a bad certificate can be described
      rejectUnauthorized: false,
      // the same floor as the protocol clients
      minVersion: 'TLSv1.2',
    });
    const timer = setTimeout(() => {
      secured.destroy();
      reject(new MailError('TIMEOUT', `TLS handshake with ${host} timed out after ${timeoutMs} ms`, { kind: 'transient', command: 'TLS' }));
    }, timeoutMs);
    secured.once('error', (err) => {
      clearTimeout(timer);
      secured.destroy();
      const mapped = fromSocketError(err, 'TLS');
      // anything going wrong inside the handshake is a TLS failure (e.g. a plain-text server on a TLS port)
      reject(mapped.code === 'TLS_FAILED' || mapped.code === 'TIMEOUT' ? mapped : new MailError('TLS_FAILED', mapped.message, { kind: 'tls', command: 'TLS', cause: err }));
    });
    secured.once('secureConnect', () => {
      clearTimeout(timer);
      secured.removeAllListeners('error');
      secured.on('error', () => {});
      resolve(secured);
    });
  });
}

export interface CertificateReport {
  /** Chain verified and the host name matches. */
  valid: boolean;
  /** Why not: an OpenSSL/Node code such as DEPTH_ZERO_SELF_SIGNED_CERT or ERR_TLS_CERT_ALTNAME_INVALID. */
  problem: string | undefined;
  expiresSoon: boolean;
  details: {
    protocol: string | null;
    cipher: string | null;
    authorized: boolean;
    authorizationError: string | null;
    hostnameMatches: boolean;
    hostnameError: string | null;
    subject: string;
    issuer: string;
    subjectAltName: string | null;
    validFrom: string | null;
    validTo: string | null;
    daysUntilExpiry: number | null;
    fingerprint256: string | null;
  };
}

/** Everything the TLS stage says about the peer's certificate. */
export function inspectCertificate(socket: tls.TLSSocket, host: string, now: Date = new Date()): CertificateReport {
  const cert = socket.getPeerCertificate(false);
  const has = cert && Object.keys(cert).length > 0;
  const identityError = has ? tls.checkServerIdentity(asciiHost(host), cert) : new Error('no certificate');
  const validTo = has && cert.valid_to ? new Date(cert.valid_to) : undefined;
  const validFrom = has && cert.valid_from ? new Date(cert.valid_from) : undefined;
  const days = validTo && !Number.isNaN(validTo.getTime()) ? Math.floor((validTo.getTime() - now.getTime()) / DAY_MS) : null;
  const authError = socket.authorizationError ? String((socket.authorizationError as unknown as { code?: string }).code ?? socket.authorizationError) : null;
  // Node already folds the host name check into `authorized` when the chain is good
  const chainOk = socket.authorized || authError === 'ERR_TLS_CERT_ALTNAME_INVALID';
  const hostnameError = identityError ? ((identityError as NodeJS.ErrnoException).code ?? identityError.message) : null;
  const problem = !chainOk ? (authError ?? 'UNABLE_TO_VERIFY_LEAF_SIGNATURE') : hostnameError ?? undefined;
  return {
    valid: problem === undefined,
    problem,
    expiresSoon: days !== null && days >= 0 && days < CERT_EXPIRY_WARNING_DAYS,
    details: {
      protocol: socket.getProtocol() ?? null,
      cipher: socket.getCipher()?.name ?? null,
      authorized: chainOk,
      authorizationError: authError,
      hostnameMatches: identityError === undefined,
      hostnameError,
      subject: has ? describeName(cert.subject) : '',
      issuer: has ? describeName(cert.issuer) : '',
      subjectAltName: has ? (cert.subjectaltname ?? null) : null,
      validFrom: validFrom && !Number.isNaN(validFrom.getTime()) ? validFrom.toISOString() : null,
      validTo: validTo && !Number.isNaN(validTo.getTime()) ? validTo.toISOString() : null,
      daysUntilExpiry: days,
      fingerprint256: has ? (cert.fingerprint256 ?? null) : null,
    },
  };
}

function describeName(name: tls.Certificate | undefined): string {
  if (!name) return '';
  const parts: string[] = [];
  for (const key of ['CN', 'O', 'OU', 'C'] as const) {
    const v = name[key] as string | string[] | undefined;
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) parts.push(`${key}=${one}`);
  }
  return parts.join(', ');
}

/**
 * A line-oriented view of a probe socket: read reply lines (CRLF or LF), write command
 * lines, and hand the socket over for a STARTTLS upgrade.
 */
export class ProbeConnection {
  socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly lines: string[] = [];
  private waiter: { resolve: (line: string) => void; reject: (err: Error) => void } | undefined;
  private failure: MailError | undefined;
  private readonly timeoutMs: number;

  constructor(socket: net.Socket, timeoutMs: number) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    this.attach();
  }

  get encrypted(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  /** The next reply line, without its line ending. */
  readLine(what: string): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.failure) return Promise.reject(this.failure);
    return withTimeout(
      new Promise<string>((resolve, reject) => {
        this.waiter = { resolve, reject };
      }),
      this.timeoutMs,
      what,
      () => {
        this.waiter = undefined;
      },
    );
  }

  write(line: string): void {
    this.socket.write(line + '\r\n');
  }

  /** Stop reading the plain socket and run TLS over it (after the server's go-ahead). */
  async upgrade(host: string, settings: TlsSettings, timeoutMs: number): Promise<tls.TLSSocket> {
    this.detach();
    // bytes the server sent after its go-ahead would be read as if they came over TLS
    // (STARTTLS command injection, CVE-2011-0411 and kin): drop them
    this.buffer = Buffer.alloc(0);
    this.lines.length = 0;
    const secured = await tlsHandshake(this.socket, host, settings, timeoutMs);
    this.socket = secured;
    this.attach();
    return secured;
  }

  /** Send `goodbye` (QUIT / LOGOUT) if given and close without waiting for much. */
  close(goodbye?: string): void {
    const socket = this.socket;
    this.detach();
    socket.on('error', () => {});
    if (goodbye && !socket.destroyed && socket.writable) {
      socket.end(goodbye + '\r\n');
      setTimeout(() => socket.destroy(), PROBE_CLOSE_TIMEOUT).unref();
    } else {
      socket.destroy();
    }
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf(0x0a)) >= 0) {
      const raw = this.buffer.subarray(0, nl);
      this.buffer = this.buffer.subarray(nl + 1);
      this.push(raw.toString('utf8').replace(/\r$/, ''));
    }
    if (this.buffer.length > MAX_PROBE_LINE_BYTES) {
      this.fail(new MailError('PROTOCOL_ERROR', `a reply line longer than ${MAX_PROBE_LINE_BYTES} bytes`, { kind: 'transient' }));
      this.socket.destroy();
    }
  };

  private readonly onError = (err: Error): void => this.fail(fromSocketError(err));
  private readonly onEnd = (): void => this.fail(new MailError('CONNECTION_CLOSED', 'the server closed the connection', { kind: 'transient' }));

  private push(line: string): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve(line);
    } else {
      this.lines.push(line);
    }
  }

  private fail(err: MailError): void {
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.failure);
  }

  private attach(): void {
    this.socket.on('data', this.onData);
    this.socket.on('error', this.onError);
    this.socket.on('end', this.onEnd);
    this.socket.on('close', this.onEnd);
  }

  private detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('error', this.onError);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
  }
}

/** POP3 multi-line body (after a +OK status line): lines up to ".", dot-unstuffed. */
export async function readPop3Body(conn: ProbeConnection, what: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const line = await conn.readLine(what);
    if (line === '.') return out;
    out.push(line.startsWith('..') ? line.slice(1) : line);
    if (out.length > MAX_PROBE_REPLY_LINES) throw new MailError('PROTOCOL_ERROR', `${what}: reply has too many lines`, { kind: 'transient', command: what });
  }
}

/** IMAP: the untagged lines and the tagged completion for `tag`. */
export async function readImapReply(conn: ProbeConnection, tag: string, what: string): Promise<{ untagged: string[]; tagged: string }> {
  const untagged: string[] = [];
  for (;;) {
    const line = await conn.readLine(what);
    if (line.startsWith(tag + ' ')) return { untagged, tagged: line };
    untagged.push(line);
    if (untagged.length > MAX_PROBE_REPLY_LINES) throw new MailError('PROTOCOL_ERROR', `${what}: reply has too many lines`, { kind: 'transient', command: what });
  }
}

/** SMTP: one reply, possibly multi-line ("250-..." then "250 ..."). */
export async function readSmtpReply(conn: ProbeConnection, what: string): Promise<{ code: number; lines: string[]; text: string }> {
  const lines: string[] = [];
  for (;;) {
    const line = await conn.readLine(what);
    const m = /^(\d{3})([ -]?)(.*)$/.exec(line);
    if (!m && what === 'greeting' && lines.length === 0) throw wrongProtocolError('SMTP', line);
    if (!m) throw new MailError('PROTOCOL_ERROR', `${what}: not an SMTP reply: ${line.slice(0, 200)}`, { kind: 'transient', command: what, response: line });
    lines.push(m[3] ?? '');
    if (m[2] !== '-') return { code: Number(m[1]), lines, text: lines.length ? `${m[1]} ${lines.join(' / ')}` : m[1]! };
    if (lines.length > MAX_PROBE_REPLY_LINES) throw new MailError('PROTOCOL_ERROR', `${what}: reply has too many lines`, { kind: 'transient', command: what });
  }
}
