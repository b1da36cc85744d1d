// The POP3 transport: one TCP or TLS socket, the queue of commands waiting for their
// replies, timeouts, pipelining (RFC 2449 §6.6), the STLS upgrade (RFC 2595 §4) and
// backpressure for message bodies. It knows how replies are framed (a status line, then
// for some commands a dot-terminated body) but not what any command means: that is in
// commands/. Replies are matched to commands strictly in order.
//
// Failure model: anything that leaves the byte stream in an unknown state (timeout,
// socket error or close, a line that is not a POP3 status line) is fatal: the socket is
// destroyed, every waiting command is rejected, and an unfinished message stream emits
// the error, so a partial message can never look complete.

import net from 'node:net';
import tls from 'node:tls';
import { Readable } from 'node:stream';
import { asciiHost } from '../ascii-host.ts';
import { wrongProtocolError } from '../greeting.ts';
import { fromSocketError, MailError } from '../mail-error.ts';
import type { Pop3Logger } from './logger.ts';
import { MultilineDecoder } from './protocol/multiline-decoder.ts';
import type { Pop3Command } from './protocol/request.ts';
import { parseStatusLine, type StatusLine } from './protocol/response.ts';
import { MAX_STATUS_LINE_BYTES, type Pop3Timeouts } from './timeouts.ts';

const LF = 0x0a;
const EMPTY = Buffer.alloc(0);

export interface TlsSettings {
  ca?: Buffer | string | undefined;
  allowInvalidCertificate?: boolean | undefined;
}

export interface ConnectionOptions {
  host: string;
  port: number;
  /** Implicit TLS from the first byte (POP3S, port 995). */
  implicitTls: boolean;
  tls: TlsSettings;
  timeouts: Pop3Timeouts;
  logger: Pop3Logger;
}

export interface Pop3Reply {
  status: StatusLine;
  /** The unstuffed body of a +OK multi-line reply; undefined otherwise. */
  body: Buffer | undefined;
}

export interface Pop3StreamReply {
  status: StatusLine;
  /** On +OK: the unstuffed body as it arrives. Errors if the connection fails before the end. */
  stream: Readable | undefined;
  /** On +OK: settles when the body's terminator has been read (or the connection failed). */
  done: Promise<void> | undefined;
}

export interface SendOptions {
  /** A +OK reply is followed by a dot-terminated body. */
  multiline?: boolean;
  /** "+ challenge" is a valid reply (inside AUTH). */
  continuation?: boolean;
  /** STLS: stop reading the plain socket right after this command's +OK. */
  upgrade?: boolean;
}

interface Entry {
  cmd: Pop3Command | undefined; // undefined: the greeting
  label: string;
  written: boolean;
  multiline: boolean;
  continuation: boolean;
  upgrade: boolean;
  timeout: number;
  phase: 'status' | 'body';
  status: StatusLine | undefined;
  decoder: MultilineDecoder | undefined;
  chunks: Buffer[];
  bytes: number;
  streaming: boolean;
  stream: BodyStream | undefined;
  settleDone: ((err?: Error) => void) | undefined;
  resolve: (value: Pop3Reply | Pop3StreamReply) => void;
  reject: (err: Error) => void;
}

/** A message body stream whose consumer's pace controls the socket. */
class BodyStream extends Readable {
  /** The consumer wants more: false from a push() that filled the buffer until the next _read(). */
  hungry = true;
  constructor(private readonly onPull: () => void) {
    super();
  }
  override _read(): void {
    this.hungry = true;
    this.onPull();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // a consumer that gives up early: the rest of the body is read and dropped
    cb(err);
    this.onPull();
  }
}

export class Pop3Connection {
  private socket: net.Socket;
  private readonly queue: Entry[] = [];
  private rx: Buffer = EMPTY;
  private paused = false;
  private timer: NodeJS.Timeout | undefined;
  private timerEntry: Entry | undefined;
  private timerPhase: 'status' | 'body' | undefined;
  private failure: MailError | undefined;
  private quitting = false;
  /** Send every command at once instead of waiting for the previous reply. */
  pipelining = false;
  private secure: boolean;

  private constructor(
    socket: net.Socket,
    private readonly opts: ConnectionOptions,
  ) {
    this.socket = socket;
    this.secure = opts.implicitTls;
    this.attach(socket);
  }

  /** Open the TCP connection (and the TLS session for implicit TLS). */
  static async open(opts: ConnectionOptions): Promise<Pop3Connection> {
    const { host, port, logger } = opts;
    logger.debug({ event: 'pop3.connect', host, port, tls: opts.implicitTls }, 'connecting');
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = opts.implicitTls ? tls.connect({ host, port, ...tlsOptions(host, opts.tls) }) : net.connect({ host, port });
      const ready = opts.implicitTls ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => {
        s.destroy();
        reject(new MailError('TIMEOUT', `POP3 connect to ${host}:${port} timed out after ${opts.timeouts.connect} ms`, { kind: 'transient' }));
      }, opts.timeouts.connect);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        s.destroy();
        reject(fromSocketError(err));
      };
      s.once('error', onError);
      s.once(ready, () => {
        clearTimeout(timer);
        s.removeListener('error', onError);
        resolve(s);
      });
    });
    socket.setKeepAlive(true);
    return new Pop3Connection(socket, opts);
  }

  get closed(): boolean {
    return this.failure !== undefined;
  }

  get encrypted(): boolean {
    return this.secure;
  }

  /** Wait for the server greeting (the reply to no command). */
  greeting(): Promise<Pop3Reply> {
    return this.enqueue(undefined, 'greeting', {}, this.opts.timeouts.greeting) as Promise<Pop3Reply>;
  }

  /** Send a command; resolves with its reply, +OK or -ERR (the caller classifies -ERR). */
  send(cmd: Pop3Command, options: SendOptions = {}): Promise<Pop3Reply> {
    return this.enqueue(cmd, cmd.logAs, options, this.opts.timeouts.command) as Promise<Pop3Reply>;
  }

  /** Send a command whose +OK body is delivered as a stream (RETR). */
  sendStreaming(cmd: Pop3Command): Promise<Pop3StreamReply> {
    return this.enqueue(cmd, cmd.logAs, { multiline: true }, this.opts.timeouts.command, true) as Promise<Pop3StreamReply>;
  }

  /** Group the writes of a batch into as few TCP segments as possible. */
  batch<T>(fn: () => T): T {
    this.socket.cork();
    try {
      return fn();
    } finally {
      process.nextTick(() => this.socket.uncork());
    }
  }

  /** After QUIT's +OK: close without treating the server's close as an error. */
  finish(): void {
    this.quitting = true;
    const socket = this.socket;
    socket.end();
    // a server that never closes its side must not keep the socket (and the process) alive
    setTimeout(() => socket.destroy(), 5_000).unref();
    this.fail(new MailError('CONNECTION_CLOSED', 'POP3 connection closed after QUIT', { kind: 'transient' }), false, false);
  }

  /** Drop the connection now; commands still waiting fail with CONNECTION_CLOSED. */
  close(): void {
    this.quitting = true;
    this.fail(new MailError('CONNECTION_CLOSED', 'POP3 connection closed by the client', { kind: 'transient' }), false);
  }

  /**
   * STLS: after the +OK, wrap the socket in TLS (RFC 2595 §4). Anything the server sent
   * after the +OK would have come before encryption and could be an injected reply
   * (CVE-2011-0411 style), so it is refused.
   */
  async upgradeToTls(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.rx.length > 0) {
      const err = new MailError('PROTOCOL_ERROR', 'POP3 server sent data after +OK to STLS before the TLS handshake', { kind: 'tls', command: 'STLS' });
      this.fail(err);
      throw err;
    }
    const raw = this.socket;
    const { host, logger, timeouts } = this.opts;
    const secured = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: raw, host, ...tlsOptions(host, this.opts.tls) });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new MailError('TIMEOUT', `POP3 TLS handshake timed out after ${timeouts.tlsHandshake} ms`, { kind: 'transient', command: 'STLS' }));
      }, timeouts.tlsHandshake);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        s.destroy();
        const mapped = fromSocketError(err, 'STLS');
        reject(mapped.code === 'TLS_FAILED' || mapped.code === 'TIMEOUT' ? mapped : new MailError('TLS_FAILED', `POP3 TLS handshake failed: ${mapped.message}`, { kind: 'tls', command: 'STLS', cause: err }));
      };
      s.once('error', onError);
      s.once('secureConnect', () => {
        clearTimeout(timer);
        s.removeListener('error', onError);
        resolve(s);
      });
    }).catch((err: MailError) => {
      this.fail(err, false);
      throw err;
    });
    this.socket = secured;
    this.secure = true;
    this.attach(secured);
    logger.debug({ event: 'pop3.tls.upgraded', protocol: secured.getProtocol(), cipher: secured.getCipher().name }, 'STLS done');
  }

  // --- queue --------------------------------------------------------------------------

  private enqueue(cmd: Pop3Command | undefined, label: string, options: SendOptions, timeout: number, streaming = false): Promise<Pop3Reply | Pop3StreamReply> {
    if (this.failure) return Promise.reject(this.failureFor(label));
    return new Promise((resolve, reject) => {
      const entry: Entry = {
        cmd,
        label,
        written: cmd === undefined,
        multiline: options.multiline ?? false,
        continuation: options.continuation ?? false,
        upgrade: options.upgrade ?? false,
        timeout,
        phase: 'status',
        status: undefined,
        decoder: undefined,
        chunks: [],
        bytes: 0,
        streaming,
        stream: undefined,
        settleDone: undefined,
        resolve,
        reject,
      };
      const canWrite = this.queue.length === 0 || (this.pipelining && this.queue.every((e) => e.written));
      this.queue.push(entry);
      if (canWrite) this.write(entry);
      this.refreshTimer();
    });
  }

  private write(entry: Entry): void {
    if (!entry.cmd || entry.written) return;
    entry.written = true;
    this.opts.logger.debug({ event: 'pop3.command', command: entry.cmd.logAs }, `C: ${entry.cmd.logAs}`);
    this.socket.write(entry.cmd.line + '\r\n');
  }

  /** The head entry got its complete reply. */
  private shift(): void {
    this.queue.shift();
    const next = this.queue[0];
    if (next && !next.written) {
      // not pipelining: the next command goes out only now
      this.write(next);
      if (this.pipelining) for (const e of this.queue) this.write(e);
    }
  }

  // --- reading ------------------------------------------------------------------------

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
  }

  private detach(socket: net.Socket): void {
    socket.removeListener('data', this.onData);
    socket.removeListener('error', this.onError);
    socket.removeListener('end', this.onEnd);
    socket.removeListener('close', this.onEnd);
  }

  private readonly onError = (err: Error): void => {
    this.fail(fromSocketError(err, this.queue[0]?.label));
  };

  private readonly onEnd = (): void => {
    if (this.quitting && this.queue.length === 0) {
      this.fail(new MailError('CONNECTION_CLOSED', 'POP3 connection closed', { kind: 'transient' }), false);
      return;
    }
    const head = this.queue[0];
    const during = head ? ` while waiting for the reply to ${head.label}` : '';
    this.fail(new MailError('CONNECTION_CLOSED', `POP3 server closed the connection${during}`, { kind: 'transient', command: head?.label }));
  };

  private readonly onData = (chunk: Buffer): void => {
    if (this.failure) return;
    const buf = this.rx.length > 0 ? Buffer.concat([this.rx, chunk]) : chunk;
    this.rx = EMPTY;
    try {
      this.process(buf);
    } catch (err) {
      this.fail(err instanceof MailError ? err : new MailError('PROTOCOL_ERROR', String(err), { kind: 'transient', cause: err }));
      return;
    }
    this.flow();
    this.refreshTimer(true);
  };

  private process(buf: Buffer): void {
    let off = 0;
    while (off < buf.length && !this.failure) {
      const head = this.queue[0];
      if (!head) {
        const text = buf.toString('latin1', off, Math.min(buf.length, off + 200));
        throw new MailError('PROTOCOL_ERROR', `POP3 server sent data nobody asked for: ${JSON.stringify(text)}`, { kind: 'transient', response: text });
      }
      if (head.phase === 'status') {
        const lf = buf.indexOf(LF, off);
        const end = lf === -1 ? buf.length : lf;
        if (end - off > MAX_STATUS_LINE_BYTES) {
          throw new MailError('PROTOCOL_ERROR', `POP3 reply line to ${head.label} is longer than ${MAX_STATUS_LINE_BYTES} bytes`, { kind: 'transient', command: head.label });
        }
        if (lf === -1) {
          this.rx = Buffer.from(buf.subarray(off));
          return;
        }
        let line = buf.toString('utf8', off, lf);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        off = lf + 1;
        this.onStatus(head, line);
        if (head.upgrade && head.status?.kind === 'ok') {
          // STLS: the rest belongs to TLS; keep any stray bytes for upgradeToTls to refuse
          this.rx = Buffer.from(buf.subarray(off));
          this.detach(this.socket);
          return;
        }
      } else {
        const decoder = head.decoder as MultilineDecoder;
        const r = decoder.feed(off === 0 ? buf : buf.subarray(off));
        off += r.consumed;
        if (r.data.length > 0) this.onBody(head, r.data);
        if (r.done) this.onBodyEnd(head);
      }
    }
  }

  private onStatus(head: Entry, line: string): void {
    const status = parseStatusLine(line, head.continuation);
    const logged = status?.kind === 'continue' ? '+ ****' : line;
    this.opts.logger.debug({ event: 'pop3.reply', command: head.label, reply: logged }, `S: ${logged}`);
    if (!status) {
      // a first line that is neither +OK nor -ERR: another protocol's port
      if (head.cmd === undefined) throw wrongProtocolError('POP3', line);
      throw new MailError('PROTOCOL_ERROR', `POP3 server answered ${head.label} with a line that is not +OK/-ERR: ${JSON.stringify(line.slice(0, 200))}`, {
        kind: 'transient',
        command: head.label,
        response: line.slice(0, 512),
      });
    }
    head.status = status;
    if (status.kind === 'ok' && head.multiline) {
      head.phase = 'body';
      // a message body (RETR) ends only at CRLF.CRLF; a bare LF in it is data
      head.decoder = new MultilineDecoder({ bareLfEndsLine: !head.streaming });
      if (head.streaming) {
        const stream = new BodyStream(() => this.flow());
        // Without a listener an 'error' would crash the process; consumers still see it
        // through pipeline(), finished(), async iteration and their own listeners.
        stream.on('error', () => {});
        let settle!: (err?: Error) => void;
        const done = new Promise<void>((resolve, reject) => {
          settle = (err) => (err ? reject(err) : resolve());
        });
        done.catch(() => {});
        head.stream = stream;
        head.settleDone = settle;
        head.resolve({ status, stream, done });
      }
      return;
    }
    this.shift();
    if (head.streaming) head.resolve({ status, stream: undefined, done: undefined });
    else head.resolve({ status, body: undefined });
  }

  private onBody(head: Entry, data: Buffer): void {
    head.bytes += data.length;
    if (head.stream) {
      if (!head.stream.destroyed) head.stream.hungry = head.stream.push(data);
    } else {
      head.chunks.push(data);
    }
  }

  private onBodyEnd(head: Entry): void {
    this.shift();
    const status = head.status as StatusLine;
    this.opts.logger.debug({ event: 'pop3.body.done', command: head.label, bytes: head.bytes }, `S: ${head.bytes} bytes`);
    if (head.stream) {
      if (!head.stream.destroyed) head.stream.push(null);
      head.settleDone?.();
    } else {
      head.resolve({ status, body: Buffer.concat(head.chunks, head.bytes) });
    }
  }

  /** Pause the socket while the stream being filled has a full buffer; resume otherwise. */
  private flow(): void {
    if (this.failure) return;
    const head = this.queue[0];
    const s = head?.phase === 'body' ? head.stream : undefined;
    const full = s !== undefined && !s.destroyed && !s.hungry;
    if (full && !this.paused) {
      this.paused = true;
      this.socket.pause();
      this.refreshTimer();
    } else if (!full && this.paused) {
      this.paused = false;
      this.socket.resume();
      this.refreshTimer();
    }
  }

  // --- timeouts and failure -----------------------------------------------------------

  /**
   * One timer for the reply at the head of the queue: a deadline for its status line
   * (not extended by a slow drip), then an idle limit for its body (extended by data).
   * No timer while the socket is paused for a slow consumer.
   */
  private refreshTimer(gotData = false): void {
    const head = this.queue[0];
    if (!head || !head.written || this.paused || this.failure) {
      this.clearTimer();
      return;
    }
    if (this.timer && this.timerEntry === head && this.timerPhase === head.phase && !(gotData && head.phase === 'body')) return;
    this.clearTimer();
    const ms = head.phase === 'body' ? this.opts.timeouts.dataIdle : head.timeout;
    const what = head.phase === 'body' ? `no data for ${ms} ms in the reply to ${head.label}` : `no reply to ${head.label} within ${ms} ms`;
    this.timerEntry = head;
    this.timerPhase = head.phase;
    this.timer = setTimeout(() => {
      this.fail(new MailError('TIMEOUT', `POP3 timeout: ${what}`, { kind: 'transient', command: head.label }));
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerEntry = undefined;
    this.timerPhase = undefined;
  }

  private failureFor(label: string): MailError {
    const f = this.failure as MailError;
    return new MailError(f.code, f.message, { kind: f.kind, command: label, response: f.response, cause: f });
  }

  private fail(err: MailError, log = true, destroy = true): void {
    if (this.failure) return;
    this.failure = err;
    this.clearTimer();
    if (log) this.opts.logger.warn({ event: 'pop3.connection.failed', code: err.code, command: err.command, err: err.message }, 'POP3 connection failed');
    const pending = this.queue.splice(0);
    this.detach(this.socket);
    this.socket.on('error', () => {}); // late errors after a deliberate close
    if (destroy || pending.length > 0) this.socket.destroy();
    for (const entry of pending) {
      const e = entry.label === err.command ? err : new MailError(err.code, err.message, { kind: err.kind, command: entry.label, response: err.response, cause: err });
      if (entry.stream) {
        entry.stream.destroy(e);
        entry.settleDone?.(e);
      } else {
        entry.reject(e);
      }
    }
  }
}

function tlsOptions(host: string, settings: TlsSettings): tls.ConnectionOptions {
  return {
    // SNI must not be an IP address (RFC 6066 §3)
    servername: net.isIP(host) ? undefined : asciiHost(host),
    ca: settings.ca,
    rejectUnauthorized: settings.allowInvalidCertificate !== true,
    minVersion: 'TLSv1.2',
  };
}
