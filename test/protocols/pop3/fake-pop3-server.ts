// An in-process POP3 server for protocol tests: a raw node:net (or node:tls) server on
// an ephemeral 127.0.0.1 port whose every connection is driven by the test's own async
// script, byte by byte if need be. `serveMailbox` is a small, correct POP3 server for
// the parts of a test that are not about faults.

import net from 'node:net';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dotStuff } from '../../../src/protocols/pop3/protocol/multiline-decoder.ts';

export interface FakeSession {
  /** Every command line received so far, in order (including ones not yet taken). */
  readonly received: string[];
  readonly secure: boolean;
  /** Write raw bytes. */
  write(data: string | Buffer): Promise<void>;
  /** Write one line plus CRLF. */
  line(text: string): Promise<void>;
  /** Write `data` one byte at a time, yielding to the event loop between bytes. */
  drip(data: string | Buffer): Promise<void>;
  /** The next command line the client sent (without CRLF). */
  next(): Promise<string>;
  /** Wait until at least `n` command lines are waiting to be taken, without taking them. */
  waitForPending(n: number): Promise<void>;
  /** Command lines received but not yet taken by next(). */
  pendingCount(): number;
  /** STLS on the server side: TLS handshake over the current socket. */
  startTls(): Promise<void>;
  /** Close the connection abruptly (RST). */
  destroy(): void;
  /** Close gracefully (FIN). */
  end(): void;
  /** Resolves when the client has closed. */
  readonly closed: Promise<void>;
  readonly socket: net.Socket;
}

export type Script = (session: FakeSession) => Promise<void>;

export interface FakeServer {
  port: number;
  /** Errors thrown by scripts (a test should assert this is empty). */
  errors: unknown[];
  sessions: FakeSession[];
  close(): Promise<void>;
}

export interface FakeServerOptions {
  /** Implicit TLS from the first byte. */
  tls?: boolean;
  /** Certificate for tls / startTls (defaults to testCertificate()). */
  cert?: TestCertificate;
}

export async function startFakePop3Server(script: Script, options: FakeServerOptions = {}): Promise<FakeServer> {
  const errors: unknown[] = [];
  const sessions: FakeSession[] = [];
  const sockets = new Set<net.Socket>();
  const onConnection = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const session = createSession(socket, options.tls === true, () => options.cert ?? testCertificate());
    sessions.push(session);
    script(session).catch((err: unknown) => {
      errors.push(err);
      session.destroy();
    });
  };
  const server = options.tls
    ? tls.createServer({ key: (options.cert ?? testCertificate()).key, cert: (options.cert ?? testCertificate()).cert }, onConnection)
    : net.createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    errors,
    sessions,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function createSession(initial: net.Socket, secure: boolean, cert: () => TestCertificate): FakeSession {
  let socket = initial;
  let rx = Buffer.alloc(0);
  const lines: string[] = [];
  const received: string[] = [];
  let waiters: (() => void)[] = [];
  let closedResolve!: () => void;
  const closed = new Promise<void>((resolve) => (closedResolve = resolve));
  let isClosed = false;

  const onData = (chunk: Buffer): void => {
    rx = Buffer.concat([rx, chunk]);
    let lf: number;
    while ((lf = rx.indexOf(0x0a)) !== -1) {
      let line = rx.subarray(0, lf).toString('utf8');
      if (line.endsWith('\r')) line = line.slice(0, -1);
      rx = rx.subarray(lf + 1);
      lines.push(line);
      received.push(line);
    }
    const w = waiters;
    waiters = [];
    for (const fn of w) fn();
  };
  const onClose = (): void => {
    isClosed = true;
    closedResolve();
    const w = waiters;
    waiters = [];
    for (const fn of w) fn();
  };
  const attach = (s: net.Socket): void => {
    s.on('data', onData);
    s.on('close', onClose);
  };
  attach(socket);

  const waitFor = async (cond: () => boolean): Promise<void> => {
    while (!cond()) {
      if (isClosed) throw new Error(`fake POP3 server: client closed the connection (received so far: ${JSON.stringify(received)})`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };

  const write = (data: string | Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      if (socket.destroyed) {
        reject(new Error('fake POP3 server: write after close'));
        return;
      }
      socket.write(data, (err) => (err ? reject(err) : resolve()));
    });

  const session: FakeSession = {
    received,
    get secure() {
      return secure;
    },
    get socket() {
      return socket;
    },
    closed,
    write,
    line: (text) => write(text + '\r\n'),
    async drip(data) {
      const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      for (let i = 0; i < buf.length; i++) {
        await write(buf.subarray(i, i + 1));
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
    async next() {
      await waitFor(() => lines.length > 0);
      return lines.shift() as string;
    },
    async waitForPending(n) {
      await waitFor(() => lines.length >= n);
    },
    pendingCount: () => lines.length,
    async startTls() {
      if (rx.length > 0) throw new Error('fake POP3 server: client sent data before the TLS handshake');
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      const { key, cert: certPem } = cert();
      const secured = new tls.TLSSocket(socket, { isServer: true, key, cert: certPem });
      secured.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        secured.once('secure', () => resolve());
        secured.once('error', reject);
        secured.once('close', () => reject(new Error('fake POP3 server: closed during TLS handshake')));
      });
      socket = secured;
      secure = true;
      attach(secured);
    },
    destroy() {
      socket.resetAndDestroy();
    },
    end() {
      socket.end();
    },
  };
  return session;
}

// --- a small correct POP3 server --------------------------------------------------------

export interface Mailbox {
  /** Messages by position (seq = index + 1), exact bytes. */
  messages: Buffer[];
  /** UIDs by position; default "uid-<seq>". */
  uids?: string[];
  user?: string;
  pass?: string;
  /** Greeting text after "+OK ". */
  greeting?: string;
  /** CAPA lines; null: the server answers CAPA with -ERR (RFC 1939-only). */
  capa?: string[] | null;
  /** CAPA lines after STLS; default: the same without STLS. */
  capaAfterTls?: string[];
  /** Answer UIDL with -ERR. */
  noUidl?: boolean;
  /** Offer STLS. */
  stls?: boolean;
  /** Accept these SASL mechanisms (upper-case). */
  sasl?: string[];
  /** XOAUTH2 access token that is accepted. */
  accessToken?: string;
  /** How to write a reply; default one write per reply. */
  send?: (session: FakeSession, data: Buffer) => Promise<void>;
  /**
   * Called with each command line before it is answered (for pipelining checks, faults);
   * returning true means the hook answered it itself.
   */
  onCommand?: (session: FakeSession, line: string) => Promise<boolean | void>;
  /** Messages removed at QUIT (seq numbers), filled in by the server. */
  deletedAtQuit?: number[];
}

export const DEFAULT_CAPA = ['CAPA', 'TOP', 'UIDL', 'RESP-CODES', 'USER', 'SASL PLAIN LOGIN CRAM-MD5 XOAUTH2', 'IMPLEMENTATION fake-pop3'];

/** Serve one POP3 session over `session` until QUIT or close. */
export async function serveMailbox(session: FakeSession, box: Mailbox): Promise<void> {
  const user = box.user ?? 'alice';
  const pass = box.pass ?? 'alice-pw';
  const greeting = box.greeting ?? 'fake POP3 ready <1896.697170952@fake.test>';
  const timestamp = /<[^>]+>/.exec(greeting)?.[0];
  const send = (data: string | Buffer): Promise<void> => {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return box.send ? box.send(session, buf) : session.write(buf);
  };
  const multi = (status: string, body: Buffer): Promise<void> => send(Buffer.concat([Buffer.from(status + '\r\n'), dotStuff(body), Buffer.from('.\r\n')]));
  const deleted = new Set<number>();
  let authed = false;
  let pendingUser: string | undefined;
  const exists = (arg: string | undefined): number | undefined => {
    const n = Number(arg);
    return Number.isInteger(n) && n >= 1 && n <= box.messages.length && !deleted.has(n) ? n : undefined;
  };
  const login = async (ok: boolean): Promise<void> => {
    if (ok) {
      authed = true;
      await send(`+OK logged in\r\n`);
    } else {
      await send('-ERR [AUTH] Authentication failed.\r\n');
    }
  };

  await send(`+OK ${greeting}\r\n`);
  for (;;) {
    let line: string;
    try {
      line = await session.next();
    } catch {
      return;
    }
    if (box.onCommand && (await box.onCommand(session, line)) === true) continue;
    const [verbRaw = '', ...args] = line.split(' ');
    const verb = verbRaw.toUpperCase();
    if (verb === 'CAPA') {
      if (box.capa === null) await send('-ERR Unknown command\r\n');
      else {
        const lines = session.secure ? (box.capaAfterTls ?? (box.capa ?? DEFAULT_CAPA).filter((l) => l !== 'STLS')) : (box.capa ?? DEFAULT_CAPA);
        await multi('+OK Capability list follows', Buffer.from(lines.map((l) => l + '\r\n').join('')));
      }
    } else if (verb === 'STLS' && !authed && box.stls && !session.secure) {
      await send('+OK Begin TLS negotiation now\r\n');
      await session.startTls();
    } else if (verb === 'USER' && !authed) {
      pendingUser = args[0];
      await send('+OK\r\n');
    } else if (verb === 'PASS' && !authed) {
      await login(pendingUser === user && args.join(' ') === pass);
    } else if (verb === 'APOP' && !authed && timestamp) {
      const digest = createHash('md5').update(timestamp + pass).digest('hex');
      await login(args[0] === user && args[1] === digest);
    } else if (verb === 'AUTH' && !authed && args[0] && (box.sasl ?? ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2']).includes(args[0].toUpperCase())) {
      const mech = args[0].toUpperCase();
      const b64 = (s: string): string => Buffer.from(s).toString('base64');
      const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');
      if (mech === 'PLAIN') {
        await send('+ \r\n');
        await login(unb64(await session.next()) === `\0${user}\0${pass}`);
      } else if (mech === 'LOGIN') {
        await send(`+ ${b64('Username:')}\r\n`);
        const u = unb64(await session.next());
        await send(`+ ${b64('Password:')}\r\n`);
        const p = unb64(await session.next());
        await login(u === user && p === pass);
      } else if (mech === 'CRAM-MD5') {
        const challenge = '<12345.67890@fake.test>';
        await send(`+ ${b64(challenge)}\r\n`);
        const expected = `${user} ${createHmac('md5', pass).update(challenge).digest('hex')}`;
        await login(unb64(await session.next()) === expected);
      } else if (mech === 'XOAUTH2') {
        await send('+ \r\n');
        const got = unb64(await session.next());
        if (got === `user=${user}\x01auth=Bearer ${box.accessToken}\x01\x01`) await login(true);
        else {
          await send(`+ ${b64('{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}')}\r\n`);
          const empty = await session.next();
          await send(empty === '' ? '-ERR [AUTH] Invalid credentials\r\n' : '-ERR protocol\r\n');
        }
      }
    } else if (verb === 'QUIT') {
      box.deletedAtQuit = [...deleted].sort((a, b) => a - b);
      await send('+OK bye\r\n');
      session.end();
      return;
    } else if (!authed) {
      await send('-ERR Unknown command or not logged in\r\n');
    } else if (verb === 'STAT') {
      const live = box.messages.map((m, i) => ({ m, seq: i + 1 })).filter((x) => !deleted.has(x.seq));
      await send(`+OK ${live.length} ${live.reduce((a, x) => a + x.m.length, 0)}\r\n`);
    } else if (verb === 'LIST' && args.length === 0) {
      const body = box.messages.map((m, i) => (deleted.has(i + 1) ? '' : `${i + 1} ${m.length}\r\n`)).join('');
      await multi('+OK scan listing follows', Buffer.from(body));
    } else if (verb === 'UIDL' && args.length === 0) {
      if (box.noUidl) await send('-ERR Unknown command: UIDL\r\n');
      else {
        const body = box.messages.map((_, i) => (deleted.has(i + 1) ? '' : `${i + 1} ${box.uids?.[i] ?? `uid-${i + 1}`}\r\n`)).join('');
        await multi('+OK unique-id listing follows', Buffer.from(body));
      }
    } else if (verb === 'RETR') {
      const n = exists(args[0]);
      if (n === undefined) await send(`-ERR There's no message ${args[0]}.\r\n`);
      else await multi(`+OK ${(box.messages[n - 1] as Buffer).length} octets`, box.messages[n - 1] as Buffer);
    } else if (verb === 'TOP') {
      const n = exists(args[0]);
      if (n === undefined) await send(`-ERR There's no message ${args[0]}.\r\n`);
      else await multi('+OK', topOf(box.messages[n - 1] as Buffer, Number(args[1])));
    } else if (verb === 'DELE') {
      const n = exists(args[0]);
      if (n === undefined) await send(`-ERR There's no message ${args[0]}.\r\n`);
      else {
        deleted.add(n);
        await send('+OK Marked to be deleted.\r\n');
      }
    } else if (verb === 'RSET') {
      deleted.clear();
      await send('+OK\r\n');
    } else if (verb === 'NOOP') {
      await send('+OK\r\n');
    } else {
      await send('-ERR Unknown command\r\n');
    }
  }
}

function topOf(message: Buffer, lines: number): Buffer {
  const sep = message.indexOf('\r\n\r\n');
  if (sep === -1) return message;
  let end = sep + 4;
  for (let i = 0; i < lines && end < message.length; i++) {
    const lf = message.indexOf(0x0a, end);
    end = lf === -1 ? message.length : lf + 1;
  }
  return message.subarray(0, end);
}

// --- certificates -----------------------------------------------------------------------

export interface TestCertificate {
  key: string;
  cert: string;
}

let cached: TestCertificate | undefined;

/**
 * A self-signed certificate for localhost / 127.0.0.1, made once per process with the
 * openssl command (node:crypto cannot create X.509 certificates).
 */
export function testCertificate(): TestCertificate {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'yubin-pop3-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-sha256',
        '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    cached = { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
    return cached;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
