// The connection test for the incoming side: POP3 (RFC 1939, CAPA RFC 2449, STLS
// RFC 2595, APOP) and IMAP4 (RFC 9051 / 3501, STARTTLS, UIDPLUS RFC 4315).
//
// dns → tcp → tls → greeting → capabilities run on a probe connection of our own
// (with STARTTLS the greeting comes before tls, as on the wire); auth and mailbox
// then use the real clients (our Pop3Client, imapflow) on a second connection, so
// what is tested is what the receive run does. Read-only: POP3 ends with QUIT and
// never sends DELE, IMAP opens INBOX with EXAMINE.
import { ImapFlow } from 'imapflow';
import type { MailServer } from '../domain/mail-server.ts';
import { wrongProtocolError } from '../protocols/greeting.ts';
import { MailError } from '../protocols/mail-error.ts';
import { classifyPop3Error, GREETING_VERB } from '../protocols/pop3/classify.ts';
import { Pop3Client } from '../protocols/pop3/index.ts';
import { extractApopTimestamp, parseCapabilities } from '../protocols/pop3/protocol/response.ts';
import { formatBytes } from './connection-test-messages.ts';
import { ProbeConnection, readImapReply, readPop3Body, withTimeout } from './connection-test-probe.ts';
import { oneLine, openProbe, readGreeting, toMailError, type ConnectionTestWarning, type StageRecorder } from './connection-test-stages.ts';
import { classifyImapError, imapFlowOptions } from './imap-mailbox.ts';
import type { ConnectionTestCredentials } from './connection-test.ts';

type Incoming = MailServer['incoming'];

export type IncomingCredentials = Pick<ConnectionTestCredentials, 'username' | 'password' | 'accessToken' | 'oauthFailure'>;

/** Before a login: the reason it cannot be tried (no password, or no usable OAuth token). */
export function loginImpossible(rec: StageRecorder, creds: IncomingCredentials): void {
  if (creds.oauthFailure) rec.fail('auth', creds.oauthFailure.code, [creds.oauthFailure.message], { user: creds.username, mechanism: 'XOAUTH2' });
  if (creds.password === null && !creds.accessToken) rec.fail('auth', 'AUTH_FAILED', [rec.msg('connectionTest.auth.noPassword')], { user: creds.username });
}

const POP3_AUTH_LABEL: Record<string, string> = {
  apop: 'APOP',
  user: 'USER/PASS',
  plain: 'AUTH PLAIN',
  login: 'AUTH LOGIN',
  'cram-md5': 'AUTH CRAM-MD5',
  xoauth2: 'AUTH XOAUTH2',
};

// ---------------------------------------------------------------- POP3

export async function testPop3(rec: StageRecorder, incoming: Incoming, creds: IncomingCredentials): Promise<void> {
  const conn = await openProbe(
    rec,
    incoming,
    (c) => pop3Greeting(rec, incoming, c),
    async (c) => {
      c.write('STLS');
      const reply = await c.readLine('STLS');
      if (!reply.startsWith('+OK')) throw classifyPop3Error('STLS', reply);
    },
  );
  let hasCapa: boolean;
  try {
    hasCapa = await pop3Capabilities(rec, incoming, conn);
  } finally {
    conn.close('QUIT');
  }
  await pop3Login(rec, incoming, creds, hasCapa);
}

async function pop3Greeting(rec: StageRecorder, incoming: Incoming, conn: ProbeConnection): Promise<void> {
  const line = await readGreeting(rec, () => conn.readLine('greeting'));
  if (!line.startsWith('+OK')) {
    if (!/^-ERR\b/i.test(line)) rec.failWith('greeting', wrongProtocolError('POP3', line), {}, [rec.msg('connectionTest.greeting.portHint')]);
    rec.failWith('greeting', classifyPop3Error(GREETING_VERB, line, 'greeting'));
  }
  const text = line.slice(3).trim();
  const timestamp = extractApopTimestamp(text);
  const details = { text, apopTimestamp: timestamp ?? null };
  if (incoming.apop && timestamp === undefined) {
    rec.fail('greeting', 'APOP_UNSUPPORTED', [rec.msg('connectionTest.greeting.ok', { text: oneLine(text) }), rec.msg('connectionTest.greeting.apopMissing')], details);
  }
  const sentences = [rec.msg('connectionTest.greeting.ok', { text: oneLine(text) })];
  if (incoming.apop) sentences.push(rec.msg('connectionTest.greeting.apop'));
  rec.pass('greeting', sentences, details);
}

/** capabilities: CAPA with UIDL required. Returns false for a server without CAPA. */
async function pop3Capabilities(rec: StageRecorder, incoming: Incoming, conn: ProbeConnection): Promise<boolean> {
  const lines = await rec.run('capabilities', async () => {
    conn.write('CAPA');
    const status = await conn.readLine('CAPA');
    return status.startsWith('+OK') ? readPop3Body(conn, 'CAPA') : undefined;
  });
  if (lines === undefined) {
    rec.pass('capabilities', [rec.msg('connectionTest.capabilities.noCapa')], { capa: false }, ['NO_CAPA']);
    return false;
  }
  const caps = parseCapabilities(lines);
  const details = {
    capa: true,
    capabilities: lines,
    uidl: caps.uidl,
    stls: caps.stls,
    user: caps.user,
    sasl: caps.sasl,
    pipelining: caps.pipelining,
    implementation: caps.implementation ?? null,
    expire: caps.expire ?? null,
    loginDelay: caps.loginDelay ?? null,
  };
  const list = rec.msg('connectionTest.capabilities.list', { list: capaTags(lines).join(' ') });
  if (!caps.uidl) rec.fail('capabilities', 'UIDL_UNSUPPORTED', [list, rec.msg('connectionTest.capabilities.noUidl')], details);
  const sentences = [list, rec.msg('connectionTest.capabilities.uidl')];
  if (caps.sasl.length) sentences.push(rec.msg('connectionTest.capabilities.sasl', { list: caps.sasl.join(' ') }));
  const warnings: ConnectionTestWarning[] = [];
  if (incoming.encryption === 'none' && caps.stls) {
    sentences.push(rec.msg('connectionTest.capabilities.starttlsOffered'));
    warnings.push('STARTTLS_AVAILABLE');
  }
  rec.pass('capabilities', sentences, details, warnings);
  return true;
}

/** The first word of each CAPA line ("SASL PLAIN LOGIN" → "SASL"), for the summary. */
function capaTags(lines: string[]): string[] {
  return [...new Set(lines.map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean))];
}

async function pop3Login(rec: StageRecorder, incoming: Incoming, creds: IncomingCredentials, hasCapa: boolean): Promise<void> {
  const t = rec.ctx.timeouts;
  loginImpossible(rec, creds);
  const client = new Pop3Client({
    host: incoming.host,
    port: incoming.port,
    encryption: incoming.encryption,
    ca: rec.ctx.ca,
    allowInvalidCertificate: incoming.allowInvalidCertificate,
    apop: incoming.apop,
    auth: creds.accessToken ? { method: 'xoauth2', user: creds.username, accessToken: creds.accessToken } : { user: creds.username, pass: creds.password ?? '' },
    timeouts: { connect: t.tcp + t.tls, greeting: t.reply, tlsHandshake: t.tls, command: t.login, dataIdle: t.mailbox },
  });
  try {
    await rec.run(
      'auth',
      () =>
        withTimeout(
          (async () => {
            await client.connect();
            await client.authenticate();
          })(),
          t.login,
          'POP3 login',
          () => client.close(),
        ),
      () => ({ user: creds.username }),
    );
    const method = client.authenticatedWith ?? 'user';
    rec.pass('auth', [rec.msg('connectionTest.auth.ok', { user: creds.username, method: POP3_AUTH_LABEL[method] ?? method })], {
      user: creds.username,
      method: POP3_AUTH_LABEL[method] ?? method,
      secure: client.secure,
    });

    const stat = await rec.run('mailbox', () => withTimeout(client.stat(), t.mailbox, 'STAT', () => client.close()));
    if (!hasCapa) {
      // RFC 1939 server without CAPA: UIDL can only be tried now
      try {
        await withTimeout(client.uidl(), t.mailbox, 'UIDL', () => client.close());
      } catch (err) {
        const error = toMailError(err);
        if (error.code === 'UIDL_UNSUPPORTED') rec.fail('mailbox', 'UIDL_UNSUPPORTED', [rec.msg('connectionTest.capabilities.noUidl')], { count: stat.count, size: stat.size });
        rec.failWith('mailbox', error);
      }
    }
    // QUIT without any DELE: nothing is removed (RFC 1939 §6)
    await rec.run('mailbox', () => withTimeout(client.quit(), t.mailbox, 'QUIT', () => client.close()));
    rec.pass('mailbox', [rec.msg('connectionTest.mailbox.pop3', { count: stat.count, size: formatBytes(rec.lang, stat.size) })], {
      count: stat.count,
      size: stat.size,
      uidl: hasCapa ? 'capa' : 'checked',
    });
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------- IMAP4

export async function testImap(rec: StageRecorder, incoming: Incoming, creds: IncomingCredentials): Promise<void> {
  let greetingCaps: string[] = [];
  const conn = await openProbe(
    rec,
    incoming,
    async (c) => {
      greetingCaps = await imapGreeting(rec, c);
    },
    async (c) => {
      c.write('y1 STARTTLS');
      const { tagged } = await readImapReply(c, 'y1', 'STARTTLS');
      if (!/^y1 OK\b/i.test(tagged)) throw new MailError('STARTTLS_UNSUPPORTED', `IMAP STARTTLS refused: ${tagged}`, { kind: 'tls', command: 'STARTTLS', response: tagged });
      // RFC 9051 §6.2.1: capabilities learned before TLS are void
      greetingCaps = [];
    },
  );
  try {
    await imapCapabilities(rec, incoming, conn, greetingCaps);
  } finally {
    conn.close('y3 LOGOUT');
  }
  await imapLogin(rec, incoming, creds);
}

/** greeting: * OK / * PREAUTH; returns the [CAPABILITY ...] it carried, if any. */
async function imapGreeting(rec: StageRecorder, conn: ProbeConnection): Promise<string[]> {
  const line = await readGreeting(rec, () => conn.readLine('greeting'));
  const m = /^\* (OK|PREAUTH|BYE)\b\s*(.*)$/i.exec(line);
  if (!m) rec.failWith('greeting', wrongProtocolError('IMAP4', line), {}, [rec.msg('connectionTest.greeting.portHint')]);
  if (m[1]!.toUpperCase() === 'BYE') {
    rec.failWith('greeting', new MailError('GREETING_FAILED', `IMAP greeting: ${line}`, { kind: 'transient', command: 'greeting', response: line }));
  }
  const text = m[2] ?? '';
  const caps = /\[CAPABILITY ([^\]]*)\]/i.exec(text);
  const sentences = [rec.msg('connectionTest.greeting.ok', { text: oneLine(text) })];
  if (m[1]!.toUpperCase() === 'PREAUTH') sentences.push(rec.msg('connectionTest.greeting.preauth'));
  rec.pass('greeting', sentences, { text, preauth: m[1]!.toUpperCase() === 'PREAUTH' });
  return caps ? caps[1]!.trim().split(/\s+/) : [];
}

async function imapCapabilities(rec: StageRecorder, incoming: Incoming, conn: ProbeConnection, fromGreeting: string[]): Promise<void> {
  const caps = await rec.run('capabilities', async () => {
    conn.write('y2 CAPABILITY');
    const { untagged, tagged } = await readImapReply(conn, 'y2', 'CAPABILITY');
    const line = untagged.find((l) => /^\* CAPABILITY /i.test(l));
    if (!/^y2 OK\b/i.test(tagged) || !line) {
      if (fromGreeting.length) return fromGreeting;
      throw new MailError('COMMAND_FAILED', `IMAP CAPABILITY failed: ${tagged}`, { kind: 'transient', command: 'CAPABILITY', response: tagged });
    }
    return line.replace(/^\* CAPABILITY /i, '').trim().split(/\s+/);
  });
  const upper = caps.map((c) => c.toUpperCase());
  const auth = upper.filter((c) => c.startsWith('AUTH=')).map((c) => c.slice(5));
  const details = {
    capabilities: caps,
    starttls: upper.includes('STARTTLS'),
    auth,
    loginDisabled: upper.includes('LOGINDISABLED'),
    // many servers (Dovecot) list UIDPLUS only after login; the mailbox stage has the verdict
    uidplus: upper.includes('UIDPLUS'),
  };
  const sentences = [rec.msg('connectionTest.capabilities.list', { list: caps.join(' ') })];
  if (auth.length) sentences.push(rec.msg('connectionTest.capabilities.sasl', { list: auth.join(' ') }));
  if (details.uidplus) sentences.push(rec.msg('connectionTest.capabilities.uidplus'));
  const warnings: ConnectionTestWarning[] = [];
  if (incoming.encryption === 'none' && details.starttls) {
    sentences.push(rec.msg('connectionTest.capabilities.starttlsOffered'));
    warnings.push('STARTTLS_AVAILABLE');
  }
  rec.pass('capabilities', sentences, details, warnings);
}

async function imapLogin(rec: StageRecorder, incoming: Incoming, creds: IncomingCredentials): Promise<void> {
  const t = rec.ctx.timeouts;
  loginImpossible(rec, creds);
  const client = new ImapFlow(imapFlowOptions(incoming, creds, { ca: rec.ctx.ca, logger: false, connectionTimeout: t.tcp + t.tls, greetingTimeout: t.reply, socketTimeout: t.mailbox }));
  // imapflow emits 'error' for socket failures; without a listener Node would crash
  let lastError: unknown;
  client.on('error', (err: unknown) => {
    lastError = err;
  });
  try {
    await rec.run(
      'auth',
      async () => {
        try {
          await withTimeout(client.connect(), t.login, 'IMAP login', () => client.close());
        } catch (err) {
          throw classifyImapError(lastError ?? err, 'LOGIN');
        }
      },
      () => ({ user: creds.username }),
    );
    const afterLogin = [...client.capabilities.keys()];
    rec.pass('auth', [rec.msg('connectionTest.auth.okImap', { user: creds.username })], { user: creds.username, capabilities: afterLogin });

    const box = await rec.run('mailbox', async () => {
      try {
        // EXAMINE: read-only, so not even \Recent changes
        return await withTimeout(client.mailboxOpen('INBOX', { readOnly: true }), t.mailbox, 'EXAMINE INBOX', () => client.close());
      } catch (err) {
        const e = err as { serverResponseCode?: string };
        if (e?.serverResponseCode === 'NONEXISTENT') throw new MailError('MAILBOX_NOT_FOUND', 'IMAP: no INBOX', { kind: 'config', command: 'EXAMINE INBOX', cause: err });
        throw classifyImapError(lastError ?? err, 'EXAMINE INBOX');
      }
    });
    const uidplus = client.capabilities.has('UIDPLUS');
    await withTimeout(client.logout(), t.mailbox, 'LOGOUT', () => client.close()).catch(() => undefined);
    const sentences = [rec.msg('connectionTest.mailbox.imap', { count: box.exists, uidValidity: String(box.uidValidity) })];
    if (!uidplus) sentences.push(rec.msg('connectionTest.mailbox.noUidplus'));
    rec.pass('mailbox', sentences, { count: box.exists, uidValidity: String(box.uidValidity), uidNext: box.uidNext, uidplus, readOnly: true }, uidplus ? [] : ['NO_UIDPLUS']);
  } finally {
    client.close();
  }
}
