// The connection test for the outgoing side: SMTP submission (RFC 5321, EHLO
// extensions, STARTTLS RFC 3207, implicit TLS RFC 8314, AUTH RFC 4954, SIZE RFC 1870).
//
// dns → tcp → tls → greeting → capabilities run on a probe connection of our own
// (with STARTTLS the greeting comes before tls, as on the wire); auth then logs in
// through the SMTP client (nodemailer's SMTPConnection) on a second connection and
// QUITs without sending anything.
import net from 'node:net';
import type { MailServer } from '../domain/mail-server.ts';
import { MailError } from '../protocols/mail-error.ts';
import { SmtpSession, type SmtpAuthMechanism } from '../protocols/smtp/smtp-client.ts';
import { formatBytes } from './connection-test-messages.ts';
import { ProbeConnection, readSmtpReply, withTimeout } from './connection-test-probe.ts';
import { oneLine, openProbe, readGreeting, type ConnectionTestWarning, type StageRecorder } from './connection-test-stages.ts';
import type { ConnectionTestCredentials } from './connection-test.ts';

type Outgoing = MailServer['outgoing'];

export type OutgoingCredentials = Pick<ConnectionTestCredentials, 'username' | 'password' | 'smtpUsername' | 'smtpPassword' | 'accessToken' | 'oauthFailure'>;

export interface EhloInfo {
  /** The extension lines after the first (the greeting line of the EHLO reply). */
  extensions: string[];
  starttls: boolean;
  /** AUTH mechanisms, upper-cased (both "AUTH PLAIN" and the old "AUTH=PLAIN"). */
  auth: string[];
  /** SIZE limit in octets; 0 = no fixed limit; null = SIZE not advertised. */
  size: number | null;
}

/** Parse the lines of a 250 reply to EHLO (RFC 5321 §4.1.1.1). */
export function parseEhlo(lines: string[]): EhloInfo {
  const extensions = lines.slice(1).map((l) => l.trim()).filter(Boolean);
  const auth = new Set<string>();
  let size: number | null = null;
  let starttls = false;
  for (const ext of extensions) {
    const [keyword = '', ...args] = ext.split(/[\s=]+/);
    const k = keyword.toUpperCase();
    if (k === 'STARTTLS') starttls = true;
    else if (k === 'AUTH') for (const a of args) auth.add(a.toUpperCase());
    else if (k === 'SIZE') size = args[0] !== undefined && /^\d+$/.test(args[0]) ? Number(args[0]) : 0;
  }
  return { extensions, starttls, auth: [...auth], size };
}

/** EHLO's argument: our address literal, which no server can call malformed (RFC 5321 §4.1.3). */
function ehloName(conn: ProbeConnection): string {
  const addr = (conn.socket.localAddress ?? '127.0.0.1').replace(/^::ffff:/i, '');
  return net.isIPv6(addr) ? `[IPv6:${addr}]` : `[${addr}]`;
}

async function ehlo(conn: ProbeConnection): Promise<{ code: number; lines: string[]; text: string }> {
  conn.write(`EHLO ${ehloName(conn)}`);
  return readSmtpReply(conn, 'EHLO');
}

export async function testSmtp(rec: StageRecorder, outgoing: Outgoing, creds: OutgoingCredentials): Promise<void> {
  const conn = await openProbe(
    rec,
    outgoing,
    (c) => smtpGreeting(rec, c),
    async (c) => {
      const first = await ehlo(c);
      if (first.code !== 250) throw new MailError('STARTTLS_UNSUPPORTED', `SMTP EHLO refused: ${first.text}`, { kind: 'tls', command: 'EHLO', response: first.text, responseCode: first.code });
      if (!parseEhlo(first.lines).starttls) {
        throw new MailError('STARTTLS_UNSUPPORTED', 'the server does not offer STARTTLS', { kind: 'tls', command: 'EHLO', response: oneLine(first.lines.join(' / ')) });
      }
      c.write('STARTTLS');
      const go = await readSmtpReply(c, 'STARTTLS');
      if (go.code !== 220) throw new MailError('STARTTLS_UNSUPPORTED', `SMTP STARTTLS refused: ${go.text}`, { kind: 'tls', command: 'STARTTLS', response: go.text, responseCode: go.code });
    },
  );
  try {
    await smtpCapabilities(rec, outgoing, conn);
  } finally {
    conn.close('QUIT');
  }
  await smtpLogin(rec, outgoing, creds);
}

async function smtpGreeting(rec: StageRecorder, conn: ProbeConnection): Promise<void> {
  const reply = await readGreeting(rec, () => readSmtpReply(conn, 'greeting'));
  if (reply.code !== 220) {
    rec.failWith(
      'greeting',
      new MailError('GREETING_FAILED', `SMTP greeting: ${reply.text}`, {
        kind: reply.code >= 500 ? 'permanent' : 'transient',
        command: 'greeting',
        response: reply.text,
        responseCode: reply.code,
      }),
    );
  }
  const text = reply.lines.join(' / ');
  rec.pass('greeting', [rec.msg('connectionTest.greeting.ok', { text: oneLine(`${reply.code} ${text}`) })], { code: reply.code, text });
}

async function smtpCapabilities(rec: StageRecorder, outgoing: Outgoing, conn: ProbeConnection): Promise<void> {
  const reply = await rec.run('capabilities', () => ehlo(conn));
  if (reply.code !== 250) {
    rec.failWith(
      'capabilities',
      new MailError(reply.code >= 500 ? 'SERVER_PERMANENT' : 'SERVER_TEMPORARY', `SMTP EHLO refused: ${reply.text}`, {
        kind: reply.code >= 500 ? 'permanent' : 'transient',
        command: 'EHLO',
        response: reply.text,
        responseCode: reply.code,
      }),
    );
  }
  const info = parseEhlo(reply.lines);
  const mechanism = outgoing.auth.mechanism;
  const details = { extensions: info.extensions, starttls: info.starttls, auth: info.auth, size: info.size, mechanism };
  const keywords = [...new Set(info.extensions.map((e) => e.split(/\s+/)[0]!.toUpperCase()))];
  const sentences = [rec.msg('connectionTest.capabilities.list', { list: keywords.join(' ') || '-' })];
  if (info.auth.length) sentences.push(rec.msg('connectionTest.capabilities.sasl', { list: info.auth.join(' ') }));
  if (mechanism !== null && !info.auth.includes(mechanism)) {
    if (info.auth.length === 0) {
      const fail = [...sentences, rec.msg('connectionTest.capabilities.smtpAuthMissing', { mechanism })];
      if (info.starttls && !conn.encrypted) fail.push(rec.msg('connectionTest.capabilities.smtpAuthAfterTls'));
      rec.fail('capabilities', 'AUTH_UNSUPPORTED', fail, details);
    }
    rec.fail('capabilities', 'AUTH_UNSUPPORTED', [...sentences, rec.msg('connectionTest.capabilities.smtpMechanismMissing', { mechanism, offered: info.auth.join(' ') })], details);
  }
  const warnings: ConnectionTestWarning[] = [];
  if (info.size !== null && info.size > 0) {
    sentences.push(rec.msg('connectionTest.capabilities.size', { size: formatBytes(rec.lang, info.size) }));
    if (outgoing.maxMessageBytes !== null && info.size < outgoing.maxMessageBytes) {
      sentences.push(rec.msg('connectionTest.capabilities.sizeBelowLimit', { size: formatBytes(rec.lang, info.size), limit: formatBytes(rec.lang, outgoing.maxMessageBytes) }));
      warnings.push('SIZE_BELOW_LIMIT');
    }
  }
  if (outgoing.encryption === 'none' && info.starttls) {
    sentences.push(rec.msg('connectionTest.capabilities.starttlsOffered'));
    warnings.push('STARTTLS_AVAILABLE');
  }
  rec.pass('capabilities', sentences, details, warnings);
}

async function smtpLogin(rec: StageRecorder, outgoing: Outgoing, creds: OutgoingCredentials): Promise<void> {
  const mechanism = outgoing.auth.mechanism;
  if (mechanism === null) {
    rec.pass('auth', [rec.msg('connectionTest.auth.smtpNone')], { mechanism: null });
    return;
  }
  if (mechanism === 'XOAUTH2') {
    if (creds.oauthFailure) rec.fail('auth', creds.oauthFailure.code, [creds.oauthFailure.message], { mechanism, user: creds.username });
    if (!creds.accessToken) {
      rec.pass('auth', [rec.msg('connectionTest.auth.oauthNotTested')], { mechanism }, ['AUTH_NOT_TESTED']);
      return;
    }
  }
  const own = outgoing.auth.useAccountCredentials || mechanism === 'XOAUTH2';
  const user = own ? creds.username : creds.smtpUsername;
  const pass = own ? creds.password : creds.smtpPassword;
  const who = { mechanism, user: user ?? null, useAccountCredentials: own };
  if (!user || (pass === null && mechanism !== 'XOAUTH2')) {
    rec.fail('auth', 'AUTH_FAILED', [rec.msg(own ? 'connectionTest.auth.noPassword' : 'connectionTest.auth.smtpNoCredentials')], who);
  }
  const t = rec.ctx.timeouts;
  let session: SmtpSession | undefined;
  try {
    await rec.run(
      'auth',
      async () => {
        // the constructor checks the settings and may throw: inside the stage
        const s = new SmtpSession({
          host: outgoing.host,
          port: outgoing.port,
          encryption: outgoing.encryption,
          ca: rec.ctx.ca,
          allowInvalidCertificate: outgoing.allowInvalidCertificate,
          auth: mechanism === 'XOAUTH2' ? { mechanism, user, accessToken: creds.accessToken ?? '' } : { mechanism: mechanism as SmtpAuthMechanism, user, pass: pass ?? '' },
          maxMessageBytes: outgoing.maxMessageBytes,
          timeouts: { connection: t.tcp + t.tls, greeting: t.reply, socket: t.login },
        });
        session = s;
        await withTimeout(s.connect(), t.login, 'SMTP login', () => s.close());
        // nothing is sent: QUIT right after the login
        await withTimeout(s.quit(), t.reply, 'QUIT', () => s.close()).catch(() => undefined);
      },
      () => who,
    );
    rec.pass('auth', [rec.msg('connectionTest.auth.ok', { user, method: `AUTH ${mechanism}` })], who);
  } finally {
    session?.close();
  }
}
