// Yubin's POP3 client.
//
// Standards: RFC 1939 (POP3, APOP §7), RFC 2449 (CAPA, PIPELINING, RESP-CODES),
// RFC 2595 (STLS), RFC 3206 (AUTH and SYS response codes), RFC 5034 (SASL AUTH),
// RFC 4616 (PLAIN), RFC 2195 (CRAM-MD5), XOAUTH2 (Google/Microsoft).
//
//   const client = await connectPop3({ host, encryption: 'tls', auth: { user, pass } });
//   for (const { seq, uid, size } of await client.listMessages()) ...
//   await client.retrMany(seqs, async (seq, stream) => { await store(stream); });
//   await client.deleMany(stored);   // marks only
//   await client.quit();             // the server removes marked messages now
//
// `new Pop3Client(opts)` then `connect()` (TCP/TLS, greeting, CAPA, STLS) and
// `authenticate()` gives the same in steps. Every failure is a MailError
// (../mail-error.ts): -ERR replies are classified in classify.ts, timeouts are TIMEOUT,
// a dropped connection is CONNECTION_CLOSED (and an unfinished RETR stream errors).
// Message bodies are bytes from end to end; passwords, APOP digests and SASL payloads
// never reach the logger.
//
// Layout: protocol/ is the wire format (status lines, CAPA/LIST/UIDL bodies, the
// dot-unstuffing decoder, command lines), connection.ts the transport (queue, pipelining,
// timeouts, backpressure, STLS), commands/ one file per command, classify.ts the -ERR
// classifier, timeouts.ts every limit.

import type { Readable } from 'node:stream';
import { MailError } from '../mail-error.ts';
import { GREETING_VERB, classifyPop3Error } from './classify.ts';
import { authenticate, chooseAuthMethod, type Pop3AuthOptions, type Pop3ResolvedAuthMethod } from './commands/auth.ts';
import { capa } from './commands/capa.ts';
import { dele, deleMany } from './commands/dele.ts';
import { list } from './commands/list.ts';
import { listMessages, type Pop3MessageInfo } from './commands/list-messages.ts';
import { retr, retrMany, type OnMessage, type OnRefused } from './commands/retr.ts';
import { noop, quit, rset } from './commands/session-control.ts';
import type { Pop3Session } from './commands/session.ts';
import { stat, type Pop3Stat } from './commands/stat.ts';
import { stls } from './commands/stls.ts';
import { top } from './commands/top.ts';
import { uidl } from './commands/uidl.ts';
import { Pop3Connection } from './connection.ts';
import { SILENT_LOGGER, type Pop3Logger } from './logger.ts';
import { extractApopTimestamp, type ListEntry, type Pop3Capabilities, type UidlEntry } from './protocol/response.ts';
import { DEFAULT_TIMEOUTS, PIPELINE_WINDOW, type Pop3Timeouts } from './timeouts.ts';

export type Pop3Encryption = 'none' | 'starttls' | 'tls';

export interface Pop3ClientOptions {
  host: string;
  /** Default 995 for 'tls', 110 otherwise. */
  port?: number;
  /** Default 'tls' (implicit TLS). 'starttls' fails with STARTTLS_UNSUPPORTED rather than continue in clear. */
  encryption?: Pop3Encryption;
  /** Extra trusted CA certificate(s), PEM. */
  ca?: Buffer | string;
  /** Accept any certificate. Off unless the server's settings say so. */
  allowInvalidCertificate?: boolean;
  /** Log in with APOP (same as auth.method 'apop'); fails with APOP_UNSUPPORTED if the greeting has no timestamp. */
  apop?: boolean;
  /** Credentials for authenticate() / connectPop3(). */
  auth?: Pop3AuthOptions;
  /** A pino logger or anything with the same four methods. */
  logger?: Pop3Logger;
  /** Override the limits of timeouts.ts (milliseconds). */
  timeouts?: Partial<Pop3Timeouts>;
  /** Commands in flight when pipelining; default PIPELINE_WINDOW (64). */
  pipelineWindow?: number;
}

export interface Pop3Greeting {
  /** The greeting text after "+OK ". */
  text: string;
  /** The APOP timestamp "<...@...>" when the server offered one. */
  apopTimestamp: string | undefined;
}

export class Pop3Client {
  private readonly opts: Pop3ClientOptions;
  private readonly logger: Pop3Logger;
  private readonly timeouts: Pop3Timeouts;
  private conn: Pop3Connection | undefined;
  private caps: Pop3Capabilities | undefined;
  private greet: Pop3Greeting | undefined;
  private authMethod: Pop3ResolvedAuthMethod | undefined;

  constructor(opts: Pop3ClientOptions) {
    this.opts = opts;
    this.logger = opts.logger ?? SILENT_LOGGER;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  }

  /** CAPA of the current state; undefined before connect or when the server has no CAPA. */
  get capabilities(): Pop3Capabilities | undefined {
    return this.caps;
  }

  get greeting(): Pop3Greeting | undefined {
    return this.greet;
  }

  /** The connection is encrypted (implicit TLS or after STLS). */
  get secure(): boolean {
    return this.conn?.encrypted ?? false;
  }

  /** The method that logged in, once authenticate() succeeded. */
  get authenticatedWith(): Pop3ResolvedAuthMethod | undefined {
    return this.authMethod;
  }

  /** Open the connection, read the greeting and CAPA, and run STLS when asked to. */
  async connect(): Promise<Pop3Greeting> {
    if (this.conn) throw new MailError('PROTOCOL_ERROR', 'POP3 client is already connected', { kind: 'config' });
    const encryption = this.opts.encryption ?? 'tls';
    const port = this.opts.port ?? (encryption === 'tls' ? 995 : 110);
    const conn = await Pop3Connection.open({
      host: this.opts.host,
      port,
      implicitTls: encryption === 'tls',
      tls: { ca: this.opts.ca, allowInvalidCertificate: this.opts.allowInvalidCertificate },
      timeouts: this.timeouts,
      logger: this.logger,
    });
    this.conn = conn;
    try {
      const hello = await conn.greeting();
      if (hello.status.kind !== 'ok') throw classifyPop3Error(GREETING_VERB, hello.status.line, 'greeting');
      this.greet = { text: hello.status.text, apopTimestamp: extractApopTimestamp(hello.status.text) };
      this.caps = await capa(this.session());
      if (encryption === 'starttls') {
        await stls(this.session());
        // RFC 2595 §4: forget what was learned before TLS
        this.caps = await capa(this.session());
      }
      conn.pipelining = this.caps?.pipelining ?? false;
      this.logger.info(
        { event: 'pop3.connected', host: this.opts.host, port, encryption, secure: conn.encrypted, capa: this.caps !== undefined, implementation: this.caps?.implementation },
        'POP3 connected',
      );
      return this.greet;
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Log in with opts.auth (or the given credentials); then re-read CAPA (RFC 2449 §5). */
  async authenticate(auth: Pop3AuthOptions | undefined = this.opts.auth): Promise<void> {
    if (!auth) throw new MailError('AUTH_FAILED', 'POP3 authenticate() without credentials', { kind: 'config' });
    const session = this.session();
    const method = this.opts.apop ? 'apop' : chooseAuthMethod(auth, this.caps);
    this.logger.debug({ event: 'pop3.auth.start', method, user: auth.user }, 'POP3 login');
    await authenticate(session, auth, method, this.greet?.apopTimestamp);
    this.authMethod = method;
    if (this.caps) {
      this.caps = await capa(session);
      session.conn.pipelining = this.caps?.pipelining ?? false;
    }
    this.logger.info({ event: 'pop3.auth.ok', method, user: auth.user }, 'POP3 logged in');
  }

  /** STAT: message count and total octets. */
  stat(): Promise<Pop3Stat> {
    return this.run(stat);
  }

  /** LIST: [{ seq, size }]. */
  list(): Promise<ListEntry[]> {
    return this.run(list);
  }

  /** UIDL: [{ seq, uid }]; UIDL_UNSUPPORTED (config) when the server lacks it. */
  uidl(): Promise<UidlEntry[]> {
    return this.run(uidl);
  }

  /** LIST and UIDL joined: [{ seq, uid, size }] (both sent at once when pipelining). */
  listMessages(): Promise<Pop3MessageInfo[]> {
    return this.run(listMessages);
  }

  /** RETR: the message's exact bytes as a stream; read it to the end before the next command. */
  retr(seq: number): Promise<Readable> {
    return this.run((s) => retr(s, seq));
  }

  /** RETR a batch, pipelined when possible; `onMessage` is awaited for each, in order. */
  retrMany(seqs: readonly number[], onMessage: OnMessage, onRefused?: OnRefused): Promise<void> {
    return this.run((s) => retrMany(s, seqs, onMessage, onRefused));
  }

  /** TOP: header plus the first `lines` body lines. */
  top(seq: number, lines: number): Promise<Buffer> {
    return this.run((s) => top(s, seq, lines));
  }

  /** DELE: mark for deletion; the server removes it at a successful quit(). */
  dele(seq: number): Promise<void> {
    return this.run((s) => dele(s, seq));
  }

  /** DELE a batch, pipelined when possible. */
  deleMany(seqs: readonly number[]): Promise<void> {
    return this.run((s) => deleMany(s, seqs));
  }

  /** RSET: unmark every message marked with DELE. */
  rset(): Promise<void> {
    return this.run(rset);
  }

  noop(): Promise<void> {
    return this.run(noop);
  }

  /** QUIT: commit the deletions and close. A -ERR means some were not removed. */
  async quit(): Promise<void> {
    await this.run(quit);
    this.logger.debug({ event: 'pop3.quit' }, 'POP3 session ended');
  }

  /** Drop the connection without QUIT: nothing marked with DELE is removed (RFC 1939 §6). */
  close(): void {
    this.conn?.close();
  }

  private run<T>(fn: (session: Pop3Session) => Promise<T>): Promise<T> {
    try {
      return fn(this.session());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private session(): Pop3Session {
    const conn = this.conn;
    if (!conn || conn.closed) {
      throw new MailError('CONNECTION_CLOSED', 'POP3 client is not connected', { kind: 'transient' });
    }
    return { conn, capabilities: this.caps, logger: this.logger, pipelineWindow: Math.max(1, this.opts.pipelineWindow ?? PIPELINE_WINDOW) };
  }
}

/** Connect and log in; the client is ready for commands. Closes the connection on failure. */
export async function connectPop3(opts: Pop3ClientOptions): Promise<Pop3Client> {
  const client = new Pop3Client(opts);
  await client.connect();
  try {
    await client.authenticate();
  } catch (err) {
    client.close();
    throw err;
  }
  return client;
}
