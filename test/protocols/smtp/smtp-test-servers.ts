// In-process SMTP servers for the SMTP client tests: smtp-server (real TLS, AUTH, SIZE) and a
// scripted raw `net` server for byte-exact vendor replies, drops and command transcripts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import { isMailError, type MailError } from '../../../src/protocols/mail-error.ts';
import type { SmtpSendOptions } from '../../../src/protocols/smtp/smtp-client.ts';

export interface TestCert {
  key: string;
  cert: string;
}

const certs = new Map<string, TestCert>();

/** A self-signed certificate (by default for localhost / 127.0.0.1), made once per test process. */
export function testCert(subjectAltName = 'IP:127.0.0.1,DNS:localhost'): TestCert {
  const cached = certs.get(subjectAltName);
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'yubin-smtp-cert-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', `subjectAltName=${subjectAltName}`, '-keyout', keyPath, '-out', certPath],
    { stdio: 'ignore' },
  );
  const cert = { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8') };
  certs.set(subjectAltName, cert);
  return cert;
}

export interface ReceivedMail {
  from: string | false;
  to: string[];
  raw: Buffer;
  secure: boolean;
  user: unknown;
}

export interface RunningSmtpServer {
  port: number;
  connections: number;
  mailFromCount: number;
  auths: Array<{ method: string; username: string | undefined }>;
  mails: ReceivedMail[];
  sessions: SMTPServerSession[];
  close(): Promise<void>;
}

/** smtp-server on an ephemeral loopback port; counts connections, MAIL FROMs, AUTHs and keeps each mail. */
export async function startSmtpServer(options: SMTPServerOptions = {}): Promise<RunningSmtpServer> {
  const state = { connections: 0, mailFromCount: 0, auths: [] as RunningSmtpServer['auths'], mails: [] as ReceivedMail[], sessions: [] as SMTPServerSession[] };
  const server = new SMTPServer({
    disableReverseLookup: true,
    logger: false,
    hideENHANCEDSTATUSCODES: true,
    authOptional: true,
    ...options,
    onConnect(session, cb) {
      state.connections++;
      state.sessions.push(session);
      if (options.onConnect) options.onConnect(session, cb);
      else cb();
    },
    onMailFrom(address, session, cb) {
      state.mailFromCount++;
      if (options.onMailFrom) options.onMailFrom(address, session, cb);
      else cb();
    },
    onAuth(auth, session, cb) {
      state.auths.push({ method: auth.method, username: auth.username });
      if (options.onAuth) options.onAuth(auth, session, cb);
      else cb(new Error('no AUTH configured'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        state.mails.push({
          from: session.envelope.mailFrom && session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          secure: session.secure,
          user: session.user,
        });
        if (stream.sizeExceeded) {
          const err = Object.assign(new Error('Message exceeds fixed maximum message size'), { responseCode: 552 });
          cb(err);
        } else {
          cb();
        }
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.server.address() as net.AddressInfo;
  // the counters live on `state`, which is the object returned
  return Object.assign(state, {
    port: address.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

export interface ScriptedReplies {
  /** null: never greet */
  greeting?: string | null;
  /** EHLO keywords after the first line, e.g. ['SIZE 1000', 'STARTTLS']. */
  ehlo?: string[];
  mail?: (from: string, n: number) => string;
  rcpt?: (to: string, n: number) => string;
  data?: () => string;
  /** Reply after the final '.', per message (1-based). */
  dataEnd?: (n: number) => string;
  /** Drop the connection after this many bytes of message data. */
  dropAfterDataBytes?: number;
  /** Close the connection after sending this reply to RCPT (e.g. 421). */
  closeAfterRcpt?: (reply: string) => boolean;
  /** Drop the connection on receiving this command line, without replying to it. */
  dropAt?: (line: string) => boolean;
  /** Close the connection after sending this reply to the end of a message. */
  closeAfterDataEnd?: (reply: string) => boolean;
}

export interface ScriptedServer {
  port: number;
  /** Every command line received, in order, over all connections. */
  commands: string[];
  connections: number;
  /** Messages received (ended with "."), whatever the reply to them. */
  messages: number;
  /** The command lines of each read from the socket (and '<end of data>' where a message ended in it): what came in one write shares a packet. */
  packets: string[][];
  close(): Promise<void>;
}

/** A raw SMTP server answering by script, byte for byte. */
export async function startScriptedServer(replies: ScriptedReplies = {}): Promise<ScriptedServer> {
  const commands: string[] = [];
  const packets: string[][] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let messages = 0;
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = '';
    let inData = false;
    let dataBytes = 0;
    let mails = 0;
    let rcpts = 0;
    let acceptedRcpts = 0;
    const send = (line: string): void => {
      if (!socket.destroyed) socket.write(line + '\r\n');
    };
    if (replies.greeting !== null) send(replies.greeting ?? '220 scripted.example ESMTP');
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      const packet: string[] = [];
      packets.push(packet);
      for (;;) {
        if (inData) {
          dataBytes += buffer.length;
          if (replies.dropAfterDataBytes !== undefined && dataBytes >= replies.dropAfterDataBytes) {
            socket.destroy();
            return;
          }
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) {
            // keep the tail in case the end marker is split across chunks
            buffer = buffer.slice(-4);
            dataBytes -= 4;
            return;
          }
          buffer = buffer.slice(end + 5);
          inData = false;
          messages++;
          packet.push('<end of data>');
          const reply = replies.dataEnd ? replies.dataEnd(messages) : '250 2.0.0 Ok: queued as 1234';
          send(reply);
          if (replies.closeAfterDataEnd?.(reply)) {
            socket.end();
            return;
          }
          continue;
        }
        const nl = buffer.indexOf('\r\n');
        if (nl < 0) return;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        commands.push(line);
        packet.push(line);
        if (replies.dropAt?.(line)) {
          socket.destroy();
          return;
        }
        const verb = line.split(' ')[0]?.toUpperCase() ?? '';
        if (verb === 'EHLO') {
          const kws = replies.ehlo ?? ['PIPELINING', '8BITMIME'];
          const lines = ['scripted.example', ...kws];
          lines.forEach((l, i) => send(`250${i === lines.length - 1 ? ' ' : '-'}${l}`));
        } else if (verb === 'HELO') {
          send('250 scripted.example');
        } else if (verb === 'MAIL') {
          mails++;
          rcpts = 0;
          acceptedRcpts = 0;
          send(replies.mail ? replies.mail(line, mails) : '250 2.1.0 Ok');
        } else if (verb === 'RCPT') {
          rcpts++;
          const reply = replies.rcpt ? replies.rcpt(line, rcpts) : '250 2.1.5 Ok';
          send(reply);
          if (reply.startsWith('2')) acceptedRcpts++;
          if (replies.closeAfterRcpt?.(reply)) socket.end();
        } else if (verb === 'DATA') {
          // as Postfix does: no DATA without a recipient (which a pipelining client sends anyway)
          const reply = replies.data ? replies.data() : acceptedRcpts > 0 ? '354 End data with <CR><LF>.<CR><LF>' : '554 5.5.1 Error: no valid recipients';
          send(reply);
          if (reply.startsWith('354')) {
            inData = true;
            dataBytes = 0;
            // the message may already be in the buffer (pipelined)
            buffer = '\r\n' + buffer;
            dataBytes = -2;
          }
        } else if (verb === 'RSET' || verb === 'NOOP') {
          send('250 2.0.0 Ok');
        } else if (verb === 'QUIT') {
          send('221 2.0.0 Bye');
          socket.end();
        } else {
          send('502 5.5.2 Error: command not recognized');
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    commands,
    packets,
    get connections() {
      return connections;
    },
    get messages() {
      return messages;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A free loopback TCP port (closed again before returning). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** SmtpSendOptions for a test server on 127.0.0.1: plain, no AUTH, no size limit. */
export function clientOptions(port: number, over: Partial<SmtpSendOptions> = {}): SmtpSendOptions {
  return { host: '127.0.0.1', port, encryption: 'none', auth: null, maxMessageBytes: null, name: 'client.example', ...over };
}

/** The MailError `promise` rejects with (fails the test if it resolves or rejects with anything else). */
export async function rejection(promise: Promise<unknown>): Promise<MailError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isMailError(err), `expected a MailError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the promise to reject');
}
