// An SMTP connection after its handshake (greeting, EHLO, STARTTLS, AUTH): commands out,
// replies in (RFC 5321 §4.2, multi-line replies joined with "\n" as nodemailer reports them),
// in order, any number outstanding — which is what PIPELINING (RFC 2920) needs. The
// transaction itself (MAIL FROM, RCPT TO, DATA) is smtp-transaction.ts.
//
// A reply is awaited with `next(command)`; when the connection closes, fails or stays silent
// past the socket timeout, every outstanding and later `next` rejects with a MailError naming
// its own command (CONNECTION_CLOSED, TIMEOUT, or the socket error).
import type net from 'node:net';
import { fromSocketError, MailError } from '../mail-error.ts';

export interface SmtpWireLogger {
  debug(obj: object, msg?: string): void;
}

export interface SmtpWireInit {
  /** EHLO keywords, upper case (PIPELINING, SIZE, 8BITMIME, SMTPUTF8…). */
  extensions: Iterable<string>;
  /** The SIZE the server announced; 0 when none. */
  maxSize: number;
  /** Inactivity timeout while a reply is awaited. */
  socketTimeout: number;
  /** Log commands and replies at debug level (the handshake, where the credentials go, is not on this wire). */
  transcript?: SmtpWireLogger | undefined;
}

interface Waiter {
  command: string;
  resolve: (reply: string) => void;
  reject: (err: MailError) => void;
}

export class SmtpWire {
  readonly extensions: ReadonlySet<string>;
  readonly maxSize: number;
  readonly #socket: net.Socket;
  readonly #transcript: SmtpWireLogger | undefined;
  #text = '';
  #lines: string[] = [];
  readonly #replies: string[] = [];
  readonly #waiters: Waiter[] = [];
  #failure: ((command: string) => MailError) | null = null;

  constructor(socket: net.Socket, init: SmtpWireInit) {
    this.#socket = socket;
    this.extensions = new Set(init.extensions);
    this.maxSize = init.maxSize;
    this.#transcript = init.transcript;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail((command) => fromSocketError(err, command)));
    // 'end' comes after the last 'data': every reply the server sent has been handed out
    socket.once('end', () => this.#fail(closed));
    socket.once('close', () => this.#fail(closed));
    socket.setTimeout(init.socketTimeout);
    socket.on('timeout', () => {
      if (this.#waiters.length === 0) return;
      this.#fail((command) => new MailError('TIMEOUT', `no reply to ${command} within ${init.socketTimeout} ms`, { kind: 'transient', command }));
    });
    socket.resume();
  }

  /** Still usable: not closed, failed or timed out. */
  get open(): boolean {
    return this.#failure === null;
  }

  /** Replies that arrived with nobody waiting for them (a server speaking out of turn). */
  get unsolicited(): number {
    return this.#replies.length;
  }

  /** Write command lines (CRLF added) in one write. */
  command(lines: string[]): void {
    if (this.#transcript) for (const line of lines) this.#transcript.debug({ event: 'smtp.wire', tnx: 'client' }, line);
    this.#socket.write(Buffer.from(lines.join('\r\n') + '\r\n', 'utf-8'));
  }

  /** Write raw bytes (the DATA payload), then optional command lines, as one writev. */
  data(chunks: Buffer[], then: string[] = []): void {
    if (this.#transcript) this.#transcript.debug({ event: 'smtp.wire', tnx: 'client' }, `<message, ${chunks.reduce((n, c) => n + c.length, 0)} bytes>`);
    this.#socket.cork();
    for (const c of chunks) this.#socket.write(c);
    if (then.length) this.command(then);
    this.#socket.uncork();
  }

  /** The next reply, in order. */
  next(command: string): Promise<string> {
    const ready = this.#replies.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.#failure) return Promise.reject(this.#failure(command));
    return new Promise((resolve, reject) => this.#waiters.push({ command, resolve, reject }));
  }

  /**
   * The next replies, one per command, in order, once all are in: each the reply, or the
   * MailError naming its command when it cannot come (the connection closed, failed, timed
   * out). Never rejects. One promise for a pipelined group instead of one per command.
   */
  nextSettled(commands: readonly string[]): Promise<(string | MailError)[]> {
    const out: (string | MailError)[] = new Array(commands.length);
    let left = commands.length;
    return new Promise((resolve) => {
      const settle = (i: number, value: string | MailError): void => {
        out[i] = value;
        if (--left === 0) resolve(out);
      };
      if (left === 0) resolve(out);
      for (let i = 0; i < commands.length; i++) {
        const command = commands[i]!;
        const ready = this.#replies.shift();
        if (ready !== undefined) settle(i, ready);
        else if (this.#failure) settle(i, this.#failure(command));
        else this.#waiters.push({ command, resolve: (reply) => settle(i, reply), reject: (err) => settle(i, err) });
      }
    });
  }

  /** Close politely (FIN); the server's close ends the socket. */
  end(): void {
    this.#fail(closed);
    this.#socket.end();
  }

  /** Close at once. */
  destroy(): void {
    this.#fail(closed);
    this.#socket.destroy();
  }

  /** Resolves once the socket is fully closed. */
  whenClosed(): Promise<void> {
    if (this.#socket.closed) return Promise.resolve();
    return new Promise((resolve) => this.#socket.once('close', () => resolve()));
  }

  #onData(chunk: Buffer): void {
    // latin1 keeps every byte as one character (nodemailer reads replies the same way)
    const text = this.#text + chunk.toString('latin1');
    let from = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
      const line = text.charCodeAt(nl - 1) === 0x0d ? text.slice(from, nl - 1) : text.slice(from, nl);
      from = nl + 1;
      if (line.trim() === '') continue;
      this.#lines.push(line);
      // "250-…" continues a multi-line reply; "250 …" or "250" ends it
      if (line.length > 3 && line.charCodeAt(3) === 0x2d) continue;
      const reply = this.#lines.join('\n');
      this.#lines = [];
      if (this.#transcript) this.#transcript.debug({ event: 'smtp.wire', tnx: 'server' }, reply);
      const waiter = this.#waiters.shift();
      if (waiter) waiter.resolve(reply);
      else this.#replies.push(reply);
    }
    this.#text = text.slice(from);
  }

  #fail(failure: (command: string) => MailError): void {
    if (this.#failure) return;
    this.#failure = failure;
    this.#socket.setTimeout(0);
    for (const w of this.#waiters.splice(0)) w.reject(failure(w.command));
  }
}

function closed(command: string): MailError {
  return new MailError('CONNECTION_CLOSED', 'the server closed the connection', { kind: 'transient', command });
}
