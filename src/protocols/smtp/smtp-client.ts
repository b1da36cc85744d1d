// Sending mail over SMTP (RFC 5321) with STARTTLS (RFC 3207), implicit TLS (RFC 8314), SMTP
// AUTH (RFC 4954: PLAIN, LOGIN, CRAM-MD5, XOAUTH2), the SIZE extension (RFC 1870) and
// PIPELINING (RFC 2920). This module decides the policy (encryption, certificate checks, size
// limits, timeouts, logging) and turns everything that goes wrong into a MailError (see
// smtp-reply.ts).
//
// Two layers speak the protocol. nodemailer's SMTPConnection does the handshake — greeting,
// EHLO, STARTTLS, AUTH with each mechanism — and then hands its socket over (`takeOver`):
// the mail transactions run on our own SmtpWire (smtp-wire.ts, smtp-transaction.ts), because
// SMTPConnection sends MAIL FROM, each RCPT TO, DATA and the message one round trip at a time
// and cannot pipeline, which capped a session at about half of Postfix's smtp-source.
//
//   sendMail(options, envelope, raw)   one connection, one message, QUIT
//   new SmtpSession(options)           connect once, send many (bulk delivery), quit
//
// Calls on a session are queued. A `send` made while the previous one is still on the wire
// lets the session write the next message's MAIL FROM, RCPT TO… and DATA right after the
// previous message's data (RFC 2920 §3.1), so that a stream of mails costs one round trip
// each; if the connection is gone before the server answered that MAIL FROM, the message is
// sent again on a new connection (nothing of it was accepted).
//
// Per-recipient results: a recipient refused at RCPT TO is reported in `rejected` with its
// code, reply and MailError; it is never thrown, also when every recipient is refused (then
// `sent` is false). Everything that fails the whole message (connection, TLS, AUTH, MAIL FROM,
// the reply after the data, the size limits) is thrown as a MailError.
import type net from 'node:net';
import { connect as tcpSocket } from 'node:net';
import { format } from 'node:util';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import type { Logger as NodemailerLogger } from 'nodemailer/lib/shared/index.js';
import { asciiHost } from '../ascii-host.ts';
import { fromSocketError, MailError } from '../mail-error.ts';
import { parseSmtpReply, smtpErrorToMailError } from './smtp-reply.ts';
import type { SmtpErrorContext, SmtpOutcome } from './smtp-reply.ts';
import { messageSize } from './dot-stuffing.ts';
import { envelopeCommands, SendCancelledError, sendTransaction } from './smtp-transaction.ts';
import { SmtpWire } from './smtp-wire.ts';

export { SendCancelledError };

/** TCP connect, and the TLS handshake with encryption 'tls'. */
export const CONNECTION_TIMEOUT = 30_000;
/** From connect to the server's 220 greeting (RFC 5321 §4.5.3.2.1 allows 5 minutes; real servers greet at once). */
export const GREETING_TIMEOUT = 30_000;
/** Inactivity on an open connection: RFC 5321 §4.5.3.2.6 gives the reply to the end of DATA 10 minutes. */
export const SOCKET_TIMEOUT = 10 * 60_000;
/** How long QUIT may wait for the server's 221 before the connection is just closed. */
export const QUIT_TIMEOUT = 5_000;

export type SmtpEncryption = 'none' | 'starttls' | 'tls';
export type SmtpAuthMechanism = 'PLAIN' | 'LOGIN' | 'CRAM-MD5' | 'XOAUTH2';

export interface SmtpAuth {
  mechanism: SmtpAuthMechanism;
  user: string;
  /** PLAIN, LOGIN, CRAM-MD5 */
  pass?: string | undefined;
  /** XOAUTH2 (an OAuth 2.0 access token, refreshed by the caller) */
  accessToken?: string | undefined;
}

/** The pino methods used here; a pino logger (or a child of one) fits. */
export interface SmtpLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** pino's: whether `debug` writes anything (when it does not, nodemailer is given no logger) */
  isLevelEnabled?(level: string): boolean;
}

export interface SmtpTimeouts {
  connection: number;
  greeting: number;
  socket: number;
}

export interface SmtpSendOptions {
  host: string;
  port: number;
  /**
   * 'tls': TLS from the first byte. 'starttls': STARTTLS is required; a server that does not
   * offer it fails with STARTTLS_UNSUPPORTED before anything (credentials, MAIL FROM) is sent.
   * 'none': plain text, and STARTTLS is not tried even when offered, so the setting means
   * exactly what it says.
   */
  encryption: SmtpEncryption;
  /** Extra trusted CA certificates (PEM), e.g. for a company CA. */
  ca?: string | Buffer | Array<string | Buffer> | undefined;
  /** Accept any certificate (self-signed, expired, wrong host). Off unless a server says otherwise. */
  allowInvalidCertificate?: boolean | undefined;
  auth: SmtpAuth | null;
  /** Refuse larger messages before connecting. null: no limit of ours (the server's SIZE still applies). */
  maxMessageBytes: number | null;
  /** EHLO name; nodemailer's default (the host name, or [127.0.0.1]) otherwise. */
  name?: string | undefined;
  logger?: SmtpLogger | undefined;
  /** Log the SMTP commands and replies at debug level (credentials are masked). */
  transcript?: boolean | undefined;
  timeouts?: Partial<SmtpTimeouts> | undefined;
}

/** A message's bytes: one buffer, or chunks that make it in order (written as they are, never joined). */
export type SmtpMessage = Buffer | readonly Buffer[];

export interface SmtpEnvelope {
  from: string;
  to: string[];
}

export interface SmtpRecipientResult {
  address: string;
  outcome: SmtpOutcome;
  /** Accepted: the reply to the end of DATA. Rejected: the reply to RCPT TO. */
  code?: number | undefined;
  reply?: string | undefined;
}

export interface SmtpRecipientRejection extends SmtpRecipientResult {
  outcome: 'temporary' | 'permanent' | 'auth';
  error: MailError;
}

export interface SmtpSendResult {
  /** The server took the message for at least one recipient. */
  sent: boolean;
  accepted: SmtpRecipientResult[];
  rejected: SmtpRecipientRejection[];
  /** The reply to the end of DATA (absent when every recipient was refused). */
  code?: number | undefined;
  reply?: string | undefined;
  messageBytes: number;
}

type Done<T> = (err?: Error | null, value?: T) => void;

// One SMTPConnection during the handshake, and whether it is still open ('end' seen or not).
interface Link {
  conn: SMTPConnection;
  open: boolean;
}

// What SMTPConnection (nodemailer 7.0.13, pinned in package.json) keeps about the connection
// once its handshake is done: read once by `takeOver`.
interface SmtpConnectionInternals {
  _socket: net.Socket;
  _supportedExtensions: string[];
  _maxAllowedSize: number;
  _responseQueue: string[];
  _remainder: string;
  _destroyed: boolean;
  _onSocketData: (chunk: Buffer) => void;
  _onSocketError: (err: Error) => void;
  _onSocketClose: () => void;
  _onSocketEnd: () => void;
  _onSocketTimeout: () => void;
}

/** Send one message on its own connection: connect, authenticate, send, QUIT. */
export async function sendMail(opts: SmtpSendOptions, envelope: SmtpEnvelope, raw: SmtpMessage): Promise<SmtpSendResult> {
  checkMessageSize(opts, raw);
  const session = new SmtpSession(opts);
  try {
    const result = await session.send(envelope, raw);
    await session.quit();
    return result;
  } finally {
    session.close();
  }
}

/**
 * One SMTP connection reused for many messages. Calls are queued, so concurrent `send`s go
 * one after the other. After a failed transaction the session sends RSET; when the server
 * closed the connection (421, a drop, a timeout) the next `send` connects again.
 */
export class SmtpSession {
  readonly #opts: SmtpSendOptions;
  readonly #timeouts: SmtpTimeouts;
  readonly #log: SmtpLogger | undefined;
  #wire: SmtpWire | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  /** The calls waiting in #queue, in order: a send's envelope can be written early, nothing else can. */
  readonly #waiting: Array<QueuedSend | null> = [];

  constructor(opts: SmtpSendOptions) {
    validateOptions(opts);
    this.#opts = opts;
    this.#timeouts = {
      connection: opts.timeouts?.connection ?? CONNECTION_TIMEOUT,
      greeting: opts.timeouts?.greeting ?? GREETING_TIMEOUT,
      socket: opts.timeouts?.socket ?? SOCKET_TIMEOUT,
    };
    this.#log = opts.logger;
  }

  /** An authenticated connection is open. */
  get connected(): boolean {
    return this.#wire?.open === true;
  }

  /** Connect, secure and authenticate now (send() does it on demand). */
  connect(): Promise<void> {
    return this.#enqueue(null, async () => {
      if (!this.connected) await this.#connect();
    });
  }

  /**
   * Send one message. `opts.crlf`: the caller vouches that every line of `raw` ends in CRLF (no
   * bare CR or LF to mend). `opts.startBy` (ms since the epoch): a message still waiting then
   * is not sent but fails with SendCancelledError (`late`), even when its commands were
   * pipelined already (the connection is closed before its data).
   */
  send(envelope: SmtpEnvelope, raw: SmtpMessage, opts: { crlf?: boolean | undefined; startBy?: number | undefined } = {}): Promise<SmtpSendResult> {
    const queued: QueuedSend = { envelope, raw, crlf: opts.crlf === true, written: null, cancelled: false, startBy: opts.startBy ?? Number.POSITIVE_INFINITY };
    return this.#enqueue(queued, () => this.#send(queued));
  }

  /** QUIT politely; never throws. */
  quit(): Promise<void> {
    return this.#enqueue(null, () => this.#quit());
  }

  /** Close the connection at once. Sends still waiting in the queue fail with SendCancelledError, unsent. */
  close(): void {
    for (const w of this.#waiting) if (w) w.cancelled = true;
    this.#dropConnection();
  }

  /** Close the connection; the next send connects again. */
  #dropConnection(): void {
    const wire = this.#wire;
    this.#wire = null;
    wire?.destroy();
  }

  #enqueue<T>(entry: QueuedSend | null, task: () => Promise<T>): Promise<T> {
    this.#waiting.push(entry);
    const start = (): Promise<T> => {
      this.#waiting.shift();
      return task();
    };
    const run = this.#queue.then(start, start);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** After a message's data: the next queued send's command group, if it is next in line and can go. */
  #writeAhead(wire: SmtpWire): string[] {
    const next = this.#waiting[0];
    if (!next || next.written || !wire.extensions.has('PIPELINING') || Date.now() >= next.startBy) return [];
    try {
      checkMessageSize(this.#opts, next.raw);
      if (next.envelope.to.length === 0) return [];
      const group = envelopeCommands(wire, next.envelope, next.raw);
      next.written = group;
      return group;
    } catch {
      return []; // it fails on its own turn, with its own error
    }
  }

  async #connect(): Promise<void> {
    const { host, port, encryption } = this.#opts;
    this.#log?.debug({ event: 'smtp.connect.start', host, port, encryption }, 'connecting');
    if (this.#opts.allowInvalidCertificate && encryption !== 'none') {
      this.#log?.warn({ event: 'smtp.tls.unverified', host, port }, 'TLS certificate verification is off for this server');
    }
    let socket: net.Socket;
    try {
      socket = await tcpConnect(host, port, this.#timeouts.connection);
    } catch (err) {
      const error = smtpErrorToMailError(err, { command: 'CONNECT' });
      this.#log?.warn({ event: 'smtp.connect.failed', host, port, ...errorFields(error) }, 'SMTP connection failed');
      throw error;
    }
    const conn = new SMTPConnection({
      connection: socket,
      // the TLS name: an IDN as certificates carry it
      host: asciiHost(host),
      port,
      secure: encryption === 'tls',
      // 'none' never upgrades. 'starttls' does not use nodemailer's requireTLS, which sends
      // STARTTLS even to a server that did not offer it: STARTTLS is taken when offered, and
      // the check below refuses to go on if the connection is still plain.
      ignoreTLS: encryption === 'none',
      requireTLS: false,
      opportunisticTLS: false,
      name: this.#opts.name,
      tls: {
        rejectUnauthorized: !this.#opts.allowInvalidCertificate,
        ...(this.#opts.ca === undefined ? {} : { ca: this.#opts.ca }),
      },
      connectionTimeout: this.#timeouts.connection,
      greetingTimeout: this.#timeouts.greeting,
      socketTimeout: this.#timeouts.socket,
      // nodemailer builds and formats each log line before the logger sees it: none at all
      // unless our debug level is on
      logger: this.#log && this.#log.isLevelEnabled?.('debug') !== false ? wireLogger(this.#log) : false,
      transactionLog: this.#opts.transcript === true,
    });
    const link: Link = { conn, open: true };
    let wire: SmtpWire;
    // nodemailer emits 'error' outside any call too (a drop between two calls), and its
    // plain socket under a STARTTLS one keeps nodemailer's handler: always listened to
    conn.on('error', (err) => this.#log?.debug({ event: 'smtp.connection.error', host, port, err: err.message }, 'connection error'));
    conn.once('end', () => {
      link.open = false;
    });
    try {
      await call<void>(link, { command: 'CONN', connecting: true }, (done) => conn.connect(done));
      if (encryption === 'starttls' && !conn.secure) {
        throw new MailError('STARTTLS_UNSUPPORTED', `${host}:${port} does not offer STARTTLS, which the settings require`, {
          kind: 'tls',
          command: 'STARTTLS',
        });
      }
      const auth = this.#opts.auth;
      if (auth) {
        await call<void>(link, { command: `AUTH ${auth.mechanism}` }, (done) => conn.login(loginArgs(link, auth), done));
      }
      if (!link.open) throw new MailError('CONNECTION_CLOSED', 'the server closed the connection', { kind: 'transient', command: 'CONN' });
      wire = takeOver(conn, this.#timeouts.socket, this.#opts.transcript === true ? this.#log : undefined);
    } catch (err) {
      // also when the server already closed: close() is what clears nodemailer's greeting and
      // connection timers, which otherwise kept the process alive ~30 s (`yubin send` to a
      // server that hangs up at once)
      conn.close();
      const error = smtpErrorToMailError(err, { command: 'CONN', connecting: true });
      this.#log?.warn({ event: 'smtp.connect.failed', host, port, ...errorFields(error) }, 'SMTP connection failed');
      throw error;
    }
    this.#wire = wire;
    this.#log?.info(
      { event: 'smtp.connect.done', host, port, encryption, secure: conn.secure, auth: this.#opts.auth?.mechanism ?? null, pipelining: wire.extensions.has('PIPELINING') },
      'SMTP connection ready',
    );
  }

  async #send(queued: QueuedSend): Promise<SmtpSendResult> {
    if (queued.cancelled) throw new SendCancelledError();
    if (!queued.written && Date.now() >= queued.startBy) throw new SendCancelledError(true);
    const { envelope, raw } = queued;
    checkMessageSize(this.#opts, raw);
    if (envelope.to.length === 0) {
      throw new MailError('COMMAND_FAILED', 'no recipients', { kind: 'permanent', command: 'RCPT TO' });
    }
    // a reply nobody asked for (a server timing the idle connection out) would put every later reply one place off
    if (!queued.written && this.#wire && this.#wire.unsolicited > 0) this.#dropConnection();
    if (!this.connected) {
      queued.written = null;
      await this.#connect();
    }
    const wire = this.#wire;
    if (!wire) throw new MailError('CONNECTION_CLOSED', 'the connection closed', { kind: 'transient', command: 'MAIL FROM' });

    let result: SmtpSendResult;
    let wroteAhead = false;
    const after = (): string[] => {
      const group = this.#writeAhead(wire);
      wroteAhead = group.length > 0;
      return group;
    };
    try {
      result = await sendTransaction(wire, envelope, raw, { written: queued.written ?? undefined, after, crlf: queued.crlf, startBy: queued.startBy });
    } catch (err) {
      if (err instanceof SendCancelledError) {
        this.#dropConnection(); // its transaction is still open on the server
        throw err;
      }
      if (queued.written && isUnansweredMailFrom(err)) {
        // written after the previous message, and the connection ended before the server
        // said anything to it: nothing of this message was taken, so it goes again
        this.#dropConnection();
        queued.written = null;
        return this.#send(queued);
      }
      // after the end of the data the transaction is over; RSET there would cancel the
      // next message's MAIL FROM already on its way
      if (!wroteAhead) await this.#resetAfterFailure(wire);
      const error = smtpErrorToMailError(err, { command: 'MAIL FROM' });
      this.#log?.warn({ event: 'smtp.send.failed', ...errorFields(error) }, 'SMTP send failed');
      throw error;
    }
    if (!result.sent) {
      await this.#resetAfterFailure(wire);
      this.#log?.warn({ event: 'smtp.send.rejected', rejected: result.rejected.map((r) => ({ code: r.code, outcome: r.outcome })) }, 'every recipient was refused');
      return result;
    }
    this.#log?.info({ event: 'smtp.send.done', accepted: result.accepted.length, rejected: result.rejected.length, code: result.code }, 'message sent');
    return result;
  }

  // A failed transaction may leave MAIL FROM open on the server; RSET clears it so the next
  // message starts clean. If even that fails the connection is closed (the next send reconnects).
  async #resetAfterFailure(wire: SmtpWire): Promise<void> {
    if (!wire.open) return;
    wire.command(['RSET']);
    const reply = await wire.next('RSET').catch(() => '');
    if (parseSmtpReply(reply).code !== 250) wire.destroy();
  }

  async #quit(): Promise<void> {
    const wire = this.#wire;
    this.#wire = null;
    if (!wire?.open) return;
    wire.command(['QUIT']);
    const timer = setTimeout(() => wire.destroy(), QUIT_TIMEOUT);
    await wire.next('QUIT').catch(() => undefined);
    wire.end();
    await wire.whenClosed();
    clearTimeout(timer);
    this.#log?.debug({ event: 'smtp.quit', host: this.#opts.host }, 'SMTP connection closed');
  }
}

/**
 * Take the socket from SMTPConnection once its handshake is done: its listeners come off,
 * it is marked destroyed (so it reacts to nothing any more) and what it learnt from EHLO goes
 * to the SmtpWire that speaks from here on.
 */
function takeOver(conn: SMTPConnection, socketTimeout: number, transcript: SmtpLogger | undefined): SmtpWire {
  const c = conn as unknown as SmtpConnectionInternals;
  const socket = c._socket;
  if (c._responseQueue.length > 0 || c._remainder.trim() !== '') {
    throw new MailError('PROTOCOL_ERROR', 'the server sent more than was asked for during the handshake', { kind: 'transient', command: 'CONN' });
  }
  socket.removeListener('data', c._onSocketData);
  socket.removeListener('error', c._onSocketError);
  socket.removeListener('close', c._onSocketClose);
  socket.removeListener('end', c._onSocketEnd);
  socket.removeListener('timeout', c._onSocketTimeout);
  c._destroyed = true;
  return new SmtpWire(socket, { extensions: c._supportedExtensions, maxSize: c._maxAllowedSize, socketTimeout, transcript });
}

interface QueuedSend {
  envelope: SmtpEnvelope;
  raw: SmtpMessage;
  crlf: boolean;
  /** its command group, once it went out after the previous message's data */
  written: string[] | null;
  /** close() came first: never sent */
  cancelled: boolean;
  /** not started after this time (ms since the epoch; Infinity: no limit) */
  startBy: number;
}

/** No reply at all to MAIL FROM: the connection closed, failed or timed out first. */
function isUnansweredMailFrom(err: unknown): boolean {
  return err instanceof MailError && err.command === 'MAIL FROM' && err.response === undefined && err.kind === 'transient';
}

/** Refused before any connection: larger than the configured limit. */
function checkMessageSize(opts: SmtpSendOptions, raw: SmtpMessage): void {
  const size = messageSize(raw);
  if (opts.maxMessageBytes !== null && size > opts.maxMessageBytes) {
    throw new MailError('MESSAGE_TOO_LARGE', `the message is ${size} bytes, over the server's limit of ${opts.maxMessageBytes} bytes`, {
      kind: 'permanent',
    });
  }
}

function validateOptions(opts: SmtpSendOptions): void {
  const config = (message: string): MailError => new MailError('COMMAND_FAILED', message, { kind: 'config' });
  if (!opts.host || /[\s\x00-\x1f]/.test(opts.host)) throw config('SMTP host is missing or invalid');
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) throw config(`SMTP port ${opts.port} is invalid`);
  if (opts.maxMessageBytes !== null && !(opts.maxMessageBytes > 0)) throw config('maxMessageBytes must be positive or null');
  const auth = opts.auth;
  if (auth) {
    const missing = auth.mechanism === 'XOAUTH2' ? !auth.accessToken : auth.pass === undefined;
    // a control character would break the SASL string (NUL in PLAIN, ^A in XOAUTH2)
    if (!auth.user || /[\x00-\x1f]/.test(auth.user) || missing) {
      throw new MailError('AUTH_FAILED', `SMTP AUTH ${auth.mechanism} needs a user name and ${auth.mechanism === 'XOAUTH2' ? 'an access token' : 'a password'}`, {
        kind: 'config',
        command: `AUTH ${auth.mechanism}`,
      });
    }
  }
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpSocket({ host, port });
    // SMTP is a conversation of short lines: do not let Nagle hold them back
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new MailError('TIMEOUT', `connecting to ${host}:${port} timed out`, { kind: 'transient', command: 'CONNECT' }));
    }, timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(fromSocketError(err, 'CONNECT'));
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.setKeepAlive(true);
      resolve(socket);
    });
  });
}

// Run one SMTPConnection call. nodemailer reports some failures only as an 'error' event
// (a drop or a timeout in the middle of a command) and never calls back, so the event and
// the end of the connection settle the call too. Rejects with a MailError whose `cause` is
// what nodemailer gave.
function call<T>(link: Link, ctx: SmtpErrorContext, start: (done: Done<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (!link.open) {
      reject(new MailError('CONNECTION_CLOSED', 'the connection is closed', { kind: 'transient', command: ctx.command }));
      return;
    }
    let settled = false;
    const finish = (err: unknown, value?: T): void => {
      if (settled) return;
      settled = true;
      link.conn.off('error', onError);
      link.conn.off('end', onEnd);
      if (err) reject(smtpErrorToMailError(err, ctx));
      else resolve(value as T);
    };
    const onError = (err: Error): void => finish(err);
    const onEnd = (): void => finish(new MailError('CONNECTION_CLOSED', 'the server closed the connection', { kind: 'transient', command: ctx.command }));
    link.conn.on('error', onError);
    link.conn.on('end', onEnd);
    try {
      start((err, value) => finish(err ?? null, value));
    } catch (err) {
      finish(err);
    }
  });
}

function loginArgs(link: Link, auth: SmtpAuth): Parameters<SMTPConnection['login']>[0] {
  if (auth.mechanism !== 'XOAUTH2') {
    return { credentials: { user: auth.user, pass: auth.pass ?? '' }, method: auth.mechanism } as Parameters<SMTPConnection['login']>[0];
  }
  const token = auth.accessToken ?? '';
  // nodemailer asks for a new token when the server refused the first one; refreshing is
  // the caller's job, so that is the end, with the server's refusal as the reply
  const provider = {
    getToken(renew: boolean, cb: (err: Error | null, accessToken?: string) => void): void {
      if (!renew) return cb(null, token);
      const last = link.conn.lastServerResponse;
      cb(Object.assign(new Error('XOAUTH2 access token refused'), typeof last === 'string' ? { response: last } : {}));
    },
    buildXOAuth2Token(accessToken: string): string {
      return Buffer.from(`user=${auth.user}\x01auth=Bearer ${accessToken}\x01\x01`, 'utf-8').toString('base64');
    },
  };
  return { oauth2: provider } as unknown as Parameters<SMTPConnection['login']>[0];
}

function errorFields(error: MailError): Record<string, unknown> {
  return { code: error.code, kind: error.kind, command: error.command, responseCode: error.responseCode, response: error.response };
}

// nodemailer's bunyan-style logger calls (level(meta, message, ...args)) → our logger at debug.
// nodemailer masks credentials in what it logs ("/* secret */").
function wireLogger(log: SmtpLogger): NodemailerLogger {
  const write = (level: string) => (meta: object, message: string, ...args: unknown[]): void => {
    log.debug({ event: 'smtp.wire', nodemailerLevel: level, ...meta }, format(message, ...args));
  };
  return {
    level: () => undefined,
    trace: write('trace'),
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    fatal: write('fatal'),
  };
}
