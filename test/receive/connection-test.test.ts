// The connection test against the real mailbed (Dovecot POP3/IMAP, the submit sink with
// real AUTH, Postfix's smtp-sink) plus in-process fake POP3 servers for a server without
// UIDL. Skipped when the mailbed cannot run here. Failed logins are kept to one test:
// Dovecot answers every failure after the first with a delay.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { testMailbed, type Mailbed } from '../support/mailbed.ts';
import type { MailServer } from '../../src/domain/mail-server.ts';
import { testAccountConnection, type ConnectionTestResult, type Stage } from '../../src/receive/connection-test.ts';
import { inspectCertificate, tcpConnect, tlsHandshake } from '../../src/receive/connection-test-probe.ts';

interface Account {
  bed: Mailbed;
  user: string;
  pass: string;
}

async function account(t: TestContext): Promise<Account | undefined> {
  const bed = await testMailbed();
  if (!bed) {
    t.skip('mailbed unavailable (Dovecot, smtp-sink or python3-aiosmtpd not installed)');
    return undefined;
  }
  const user = `ct-${randomBytes(5).toString('hex')}`;
  const pass = `pw-${randomBytes(8).toString('hex')}`;
  await bed.addUser(user, pass);
  return { bed, user, pass };
}

type Incoming = MailServer['incoming'];
type Outgoing = MailServer['outgoing'];

function server(incoming: Partial<Incoming> & Pick<Incoming, 'port'>, outgoing: Partial<Outgoing> & Pick<Outgoing, 'port'>): MailServer {
  return {
    id: 'srv-test',
    name: 'test',
    preset: null,
    position: 0,
    incoming: { protocol: 'pop3', host: '127.0.0.1', encryption: 'none', apop: false, maxMessageBytes: null, allowInvalidCertificate: false, ...incoming },
    outgoing: {
      host: '127.0.0.1',
      encryption: 'starttls',
      auth: { mechanism: 'PLAIN', useAccountCredentials: true },
      maxMessageBytes: null,
      perMinuteLimit: null,
      allowInvalidCertificate: false,
      ...outgoing,
    },
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
}

function creds(a: Account, extra: { password?: string | null; smtpUsername?: string; smtpPassword?: string } = {}) {
  return { username: a.user, password: extra.password === undefined ? a.pass : extra.password, smtpUsername: extra.smtpUsername ?? null, smtpPassword: extra.smtpPassword ?? null };
}

const names = (stages: Stage[]) => stages.map((s) => s.stage);
const stage = (stages: Stage[], name: Stage['stage']): Stage => {
  const s = stages.find((x) => x.stage === name);
  assert.ok(s, `stage ${name} listed in ${JSON.stringify(names(stages))}`);
  return s;
};
const JAPANESE = /[\u3040-\u30ff\u4e00-\u9fff]/;

function assertAllOk(stages: Stage[]): void {
  for (const s of stages) assert.equal(s.ok, true, `${s.stage} failed: ${s.message}`);
}

function mail(i: number): string {
  return `From: a@example.com\r\nTo: b@example.com\r\nSubject: ct ${i}\r\nMessage-ID: <ct-${i}-${randomBytes(4).toString('hex')}@example.com>\r\n\r\nbody ${i}\r\n`;
}

test('POP3 without encryption: every stage passes, the mailbox is counted and left alone, Japanese by default', async (t) => {
  const a = await account(t);
  if (!a) return;
  const raws = [mail(1), mail(2)];
  for (const r of raws) await a.bed.deliver(a.user, r);
  const r = await testAccountConnection(server({ port: a.bed.ports.pop3, encryption: 'none' }, { port: a.bed.ports.submit }), creds(a), {
    ca: a.bed.ca,
    include: ['incoming'],
  });
  assert.equal(r.ok, true);
  assert.deepEqual(r.outgoing, []);
  assert.deepEqual(names(r.incoming), ['dns', 'tcp', 'tls', 'greeting', 'capabilities', 'auth', 'mailbox']);
  assertAllOk(r.incoming);
  const tls = stage(r.incoming, 'tls');
  assert.equal(tls.warning, true);
  assert.deepEqual(tls.warnings, ['NOT_ENCRYPTED']);
  assert.equal(tls.details?.encrypted, false);
  // Dovecot offers STLS on the plain port: the test says so
  assert.ok(stage(r.incoming, 'capabilities').warnings.includes('STARTTLS_AVAILABLE'));
  assert.equal(stage(r.incoming, 'capabilities').details?.uidl, true);
  assert.equal(stage(r.incoming, 'tcp').details?.port, a.bed.ports.pop3);
  assert.equal(typeof stage(r.incoming, 'tcp').details?.ms, 'number');
  const box = stage(r.incoming, 'mailbox');
  assert.equal(box.details?.count, 2);
  assert.equal(box.details?.size, raws.reduce((n, x) => n + Buffer.byteLength(x), 0));
  for (const s of r.incoming) assert.match(s.message, JAPANESE, `${s.stage}: ${s.message}`);
  assert.equal(await a.bed.count(a.user), 2, 'nothing deleted');
  assert.ok(!JSON.stringify(r).includes(a.pass));
});

test('POP3 STLS and SMTP STARTTLS + AUTH PLAIN on the submit sink, in English', async (t) => {
  const a = await account(t);
  if (!a) return;
  await a.bed.deliver(a.user, mail(1));
  const r = await testAccountConnection(
    server({ port: a.bed.ports.pop3, encryption: 'starttls' }, { port: a.bed.ports.submit, encryption: 'starttls', maxMessageBytes: 1_000_000 }),
    creds(a),
    { lang: 'en', ca: a.bed.ca },
  );
  assert.equal(r.ok, true, JSON.stringify(r, null, 1));
  // STARTTLS: the greeting is read before the TLS upgrade, and the stages say so
  assert.deepEqual(names(r.incoming), ['dns', 'tcp', 'greeting', 'tls', 'capabilities', 'auth', 'mailbox']);
  assert.deepEqual(names(r.outgoing), ['dns', 'tcp', 'greeting', 'tls', 'capabilities', 'auth']);
  assertAllOk([...r.incoming, ...r.outgoing]);
  for (const side of [r.incoming, r.outgoing]) {
    const tls = stage(side, 'tls');
    assert.equal(tls.warning, false);
    assert.equal(tls.details?.authorized, true);
    assert.equal(tls.details?.hostnameMatches, true);
    assert.match(String(tls.details?.protocol), /^TLSv1\.[23]$/);
    assert.ok(Number(tls.details?.daysUntilExpiry) > 14);
  }
  assert.equal(stage(r.incoming, 'mailbox').details?.count, 1);
  const smtpCaps = stage(r.outgoing, 'capabilities');
  assert.ok((smtpCaps.details?.auth as string[]).includes('PLAIN'));
  assert.equal(typeof smtpCaps.details?.size, 'number');
  assert.equal(stage(r.outgoing, 'auth').details?.mechanism, 'PLAIN');
  for (const s of [...r.incoming, ...r.outgoing]) assert.doesNotMatch(s.message, JAPANESE, `${s.stage}: ${s.message}`);
  assert.match(stage(r.outgoing, 'auth').message, new RegExp(`Logged in as ${a.user}`));
  assert.ok(!JSON.stringify(r).includes(a.pass));
});

test('POP3 over implicit TLS with APOP: the greeting has a timestamp and APOP logs in', async (t) => {
  const a = await account(t);
  if (!a) return;
  for (let i = 0; i < 3; i++) await a.bed.deliver(a.user, mail(i));
  const r = await testAccountConnection(server({ port: a.bed.ports.pop3s, encryption: 'tls', apop: true }, { port: a.bed.ports.submit }), creds(a), {
    lang: 'en',
    ca: a.bed.ca,
    include: ['incoming'],
  });
  assert.equal(r.ok, true, JSON.stringify(r.incoming, null, 1));
  assert.deepEqual(names(r.incoming), ['dns', 'tcp', 'tls', 'greeting', 'capabilities', 'auth', 'mailbox']);
  assert.match(String(stage(r.incoming, 'greeting').details?.apopTimestamp), /^<.+@.+>$/);
  assert.equal(stage(r.incoming, 'auth').details?.method, 'APOP');
  assert.equal(stage(r.incoming, 'mailbox').details?.count, 3);
  assert.equal(await a.bed.count(a.user), 3);
});

test('wrong password: auth fails with AUTH_FAILED on both sides and no secret is in the result', async (t) => {
  const a = await account(t);
  if (!a) return;
  const wrong = `wrong-${randomBytes(8).toString('hex')}`;
  const r = await testAccountConnection(
    server({ port: a.bed.ports.pop3, encryption: 'starttls' }, { port: a.bed.ports.smtps, encryption: 'tls', auth: { mechanism: 'LOGIN', useAccountCredentials: true } }),
    creds(a, { password: wrong }),
    { ca: a.bed.ca },
  );
  assert.equal(r.ok, false);
  for (const side of [r.incoming, r.outgoing]) {
    const last = side[side.length - 1]!;
    assert.equal(last.stage, 'auth', 'the side stops at the failed stage');
    assert.equal(last.ok, false);
    assert.equal(last.code, 'AUTH_FAILED');
    assert.match(last.message, JAPANESE);
    assertAllOk(side.slice(0, -1));
  }
  assert.ok(!names(r.incoming).includes('mailbox'));
  const json = JSON.stringify(r);
  assert.ok(!json.includes(wrong), 'the password is not in the result');
  assert.ok(!json.includes(Buffer.from(wrong).toString('base64')), 'nor its base64 form');
});

test('IMAP with STARTTLS and with implicit TLS; SMTPS with separate SMTP credentials', async (t) => {
  const a = await account(t);
  if (!a) return;
  const smtpUser = `ct-smtp-${randomBytes(4).toString('hex')}`;
  const smtpPass = `smtp-${randomBytes(8).toString('hex')}`;
  await a.bed.addUser(smtpUser, smtpPass);
  await a.bed.deliver(a.user, mail(1));
  await a.bed.deliver(a.user, mail(2));
  for (const [port, encryption] of [
    [a.bed.ports.imap, 'starttls'],
    [a.bed.ports.imaps, 'tls'],
  ] as const) {
    const r: ConnectionTestResult = await testAccountConnection(
      server(
        { protocol: 'imap4', port, encryption },
        { port: a.bed.ports.smtps, encryption: 'tls', auth: { mechanism: 'CRAM-MD5', useAccountCredentials: false } },
      ),
      creds(a, { smtpUsername: smtpUser, smtpPassword: smtpPass }),
      { lang: 'en', ca: a.bed.ca },
    );
    assert.equal(r.ok, true, JSON.stringify(r, null, 1));
    assert.deepEqual(
      names(r.incoming),
      encryption === 'tls' ? ['dns', 'tcp', 'tls', 'greeting', 'capabilities', 'auth', 'mailbox'] : ['dns', 'tcp', 'greeting', 'tls', 'capabilities', 'auth', 'mailbox'],
    );
    const caps = stage(r.incoming, 'capabilities');
    assert.ok((caps.details?.auth as string[]).includes('PLAIN'));
    assert.ok((stage(r.incoming, 'auth').details?.capabilities as string[]).includes('UIDPLUS'));
    const box = stage(r.incoming, 'mailbox');
    assert.equal(box.details?.count, 2);
    assert.match(String(box.details?.uidValidity), /^\d+$/);
    assert.equal(box.details?.uidplus, true);
    assert.equal(box.warning, false);
    assert.equal(stage(r.outgoing, 'auth').details?.user, smtpUser);
    assert.equal(stage(r.outgoing, 'auth').details?.useAccountCredentials, false);
    const json = JSON.stringify(r);
    assert.ok(!json.includes(a.pass) && !json.includes(smtpPass));
  }
  assert.equal(await a.bed.count(a.user), 2, 'EXAMINE leaves the mailbox as it was');
});

test('a self-signed certificate without the CA fails the tls stage; allowInvalidCertificate passes it with a warning', async (t) => {
  const a = await account(t);
  if (!a) return;
  const strict = await testAccountConnection(server({ port: a.bed.ports.pop3s, encryption: 'tls' }, { port: a.bed.ports.submit }), creds(a), {
    lang: 'en',
    include: ['incoming'],
  });
  assert.equal(strict.ok, false);
  assert.deepEqual(names(strict.incoming), ['dns', 'tcp', 'tls']);
  const failed = stage(strict.incoming, 'tls');
  assert.equal(failed.ok, false);
  assert.equal(failed.code, 'TLS_FAILED');
  assert.equal(failed.details?.problem, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  assert.equal(failed.details?.subject, 'CN=localhost, O=mailbed');
  assert.match(failed.message, /self-signed/);

  const lenient = await testAccountConnection(
    server({ port: a.bed.ports.pop3s, encryption: 'tls', allowInvalidCertificate: true }, { port: a.bed.ports.submit }),
    creds(a),
    { lang: 'en', include: ['incoming'] },
  );
  assert.equal(lenient.ok, true, JSON.stringify(lenient.incoming, null, 1));
  const tls = stage(lenient.incoming, 'tls');
  assert.equal(tls.ok, true);
  assert.equal(tls.warning, true);
  assert.deepEqual(tls.warnings, ['CERTIFICATE_NOT_VERIFIED']);
  assert.equal(tls.details?.authorized, false);
  assert.equal(stage(lenient.incoming, 'auth').ok, true);
});

test('a closed port fails the tcp stage; an unresolvable host fails the dns stage', async () => {
  const free = await new Promise<number>((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
  const fake: Parameters<typeof creds>[0] = { bed: undefined as unknown as Mailbed, user: 'nobody', pass: 'not-used-pw' };
  const closed = await testAccountConnection(server({ port: free }, { port: free, encryption: 'none' }), creds(fake), { lang: 'en' });
  assert.equal(closed.ok, false);
  for (const side of [closed.incoming, closed.outgoing]) {
    assert.deepEqual(names(side), ['dns', 'tcp']);
    assert.equal(side[1]!.ok, false);
    assert.equal(side[1]!.code, 'CONNECT_FAILED');
    assert.equal((side[1]!.details?.error as { errno: string }).errno, 'ECONNREFUSED');
    assert.match(side[1]!.message, new RegExp(`port ${free}`));
  }

  const nowhere = await testAccountConnection(server({ port: 110, host: 'nonexistent.invalid' }, { port: 587 }), creds(fake), { include: ['incoming'] });
  assert.equal(nowhere.ok, false);
  assert.deepEqual(names(nowhere.incoming), ['dns']);
  assert.equal(nowhere.incoming[0]!.ok, false);
  assert.ok(['CONNECT_FAILED', 'TIMEOUT'].includes(String(nowhere.incoming[0]!.code)));
  assert.match(nowhere.incoming[0]!.message, /nonexistent\.invalid/);
  assert.match(nowhere.incoming[0]!.message, JAPANESE);
});

interface FakeOptions {
  /** CAPA lines, or null for a server that answers CAPA with -ERR (and refuses UIDL). */
  capa: string[] | null;
  /** Implicit TLS with this key and certificate. */
  tls?: { key: string; cert: string };
}

/** A minimal POP3 server on 127.0.0.1 that records the verbs it was sent. */
async function fakePop3(t: TestContext, opts: FakeOptions): Promise<{ port: number; commands: string[] }> {
  const commands: string[] = [];
  const serve = (socket: net.Socket): void => {
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.write('+OK fake POP3 ready\r\n');
    let buf = '';
    socket.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const verb = line.split(' ')[0]!.toUpperCase();
        commands.push(verb);
        if (verb === 'CAPA') socket.write(opts.capa === null ? '-ERR unknown command\r\n' : `+OK\r\n${opts.capa.map((l) => l + '\r\n').join('')}.\r\n`);
        else if (verb === 'USER' || verb === 'PASS') socket.write('+OK\r\n');
        else if (verb === 'STAT') socket.write('+OK 2 300\r\n');
        else if (verb === 'UIDL' && opts.capa?.includes('UIDL')) socket.write('+OK\r\n1 a\r\n2 b\r\n.\r\n');
        else if (verb === 'QUIT') socket.end('+OK bye\r\n');
        else socket.write('-ERR unknown command\r\n');
      }
    });
  };
  const srv = opts.tls ? tls.createServer(opts.tls, serve) : net.createServer(serve);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => srv.close(() => resolve())));
  return { port: (srv.address() as net.AddressInfo).port, commands };
}

/** A self-signed certificate (its own CA) made with openssl: node:crypto cannot make X.509. */
function certificate(days: number, name: string, san: string): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-ct-cert-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', String(days), '-sha256',
        '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const FAKE_CREDS = { username: 'u', password: 'fake-password', smtpUsername: null, smtpPassword: null };

test('a POP3 server without UIDL fails with UIDL_UNSUPPORTED before any login', async (t) => {
  const fake = await fakePop3(t, { capa: ['USER', 'TOP'] });
  const r = await testAccountConnection(
    server({ port: fake.port, encryption: 'none' }, { port: 1 }),
    FAKE_CREDS,
    { lang: 'en', include: ['incoming'] },
  );
  assert.equal(r.ok, false);
  assert.deepEqual(names(r.incoming), ['dns', 'tcp', 'tls', 'greeting', 'capabilities']);
  const caps = stage(r.incoming, 'capabilities');
  assert.equal(caps.ok, false);
  assert.equal(caps.code, 'UIDL_UNSUPPORTED');
  assert.match(caps.message, /UIDL/);
  assert.ok(!fake.commands.includes('USER') && !fake.commands.includes('PASS'), 'no credentials sent');
});

test('a POP3 server without CAPA: UIDL is tried after login, and its refusal is UIDL_UNSUPPORTED', async (t) => {
  const fake = await fakePop3(t, { capa: null });
  const r = await testAccountConnection(
    server({ port: fake.port, encryption: 'none' }, { port: 1 }),
    FAKE_CREDS,
    { include: ['incoming'] },
  );
  assert.equal(r.ok, false);
  const caps = stage(r.incoming, 'capabilities');
  assert.equal(caps.ok, true);
  assert.deepEqual(caps.warnings, ['NO_CAPA']);
  assert.equal(stage(r.incoming, 'auth').ok, true);
  const box = stage(r.incoming, 'mailbox');
  assert.equal(box.ok, false);
  assert.equal(box.code, 'UIDL_UNSUPPORTED');
  assert.match(box.message, JAPANESE);
  assert.ok(!fake.commands.includes('DELE'));
  assert.ok(!JSON.stringify(r).includes('fake-password'));
});

test('SMTP on smtp-sink: not-encrypted warning; a mechanism it does not offer fails; no auth configured passes; STARTTLS required but not offered fails', async (t) => {
  const a = await account(t);
  if (!a) return;
  const offered = await testAccountConnection(
    server({ port: a.bed.ports.pop3 }, { port: a.bed.ports.smtpSink, encryption: 'none', auth: { mechanism: 'CRAM-MD5', useAccountCredentials: true } }),
    creds(a),
    { lang: 'en', include: ['outgoing'] },
  );
  assert.equal(offered.ok, false);
  assert.deepEqual(offered.incoming, []);
  assert.deepEqual(names(offered.outgoing), ['dns', 'tcp', 'tls', 'greeting', 'capabilities']);
  assert.deepEqual(stage(offered.outgoing, 'tls').warnings, ['NOT_ENCRYPTED']);
  const caps = stage(offered.outgoing, 'capabilities');
  assert.equal(caps.code, 'AUTH_UNSUPPORTED');
  assert.match(caps.message, /CRAM-MD5/);
  assert.deepEqual(caps.details?.auth, ['PLAIN', 'LOGIN']);

  const none = await testAccountConnection(
    server({ port: a.bed.ports.pop3 }, { port: a.bed.ports.smtpSink, encryption: 'none', auth: { mechanism: null, useAccountCredentials: true } }),
    creds(a),
    { lang: 'en', include: ['outgoing'] },
  );
  assert.equal(none.ok, true, JSON.stringify(none.outgoing, null, 1));
  const auth = stage(none.outgoing, 'auth');
  assert.equal(auth.ok, true);
  assert.equal(auth.details?.mechanism, null);
  assert.match(auth.message, /No SMTP authentication/);

  const starttls = await testAccountConnection(
    server({ port: a.bed.ports.pop3 }, { port: a.bed.ports.smtpSink, encryption: 'starttls', auth: { mechanism: null, useAccountCredentials: true } }),
    creds(a),
    { lang: 'en', include: ['outgoing'] },
  );
  assert.equal(starttls.ok, false);
  assert.deepEqual(names(starttls.outgoing), ['dns', 'tcp', 'greeting', 'tls']);
  assert.equal(stage(starttls.outgoing, 'tls').code, 'STARTTLS_UNSUPPORTED');
});

test('certificates: one expiring within 14 days passes with a warning, one for another host name fails', async (t) => {
  const soon = certificate(5, 'localhost', 'DNS:localhost,IP:127.0.0.1');
  const expiring = await fakePop3(t, { capa: ['USER', 'UIDL'], tls: soon });
  const r = await testAccountConnection(server({ port: expiring.port, encryption: 'tls' }, { port: 1 }), FAKE_CREDS, {
    lang: 'en',
    ca: soon.cert,
    include: ['incoming'],
  });
  assert.equal(r.ok, true, JSON.stringify(r.incoming, null, 1));
  const tlsStage = stage(r.incoming, 'tls');
  assert.deepEqual(tlsStage.warnings, ['CERTIFICATE_EXPIRES_SOON']);
  assert.equal(tlsStage.details?.authorized, true);
  assert.ok(Number(tlsStage.details?.daysUntilExpiry) >= 3 && Number(tlsStage.details?.daysUntilExpiry) <= 5);
  assert.match(tlsStage.message, /expires in \d days/);
  assert.equal(stage(r.incoming, 'mailbox').details?.count, 2);

  const other = certificate(30, 'mail.example.com', 'DNS:mail.example.com');
  const wrongName = await fakePop3(t, { capa: ['USER', 'UIDL'], tls: other });
  const bad = await testAccountConnection(server({ port: wrongName.port, encryption: 'tls' }, { port: 1 }), FAKE_CREDS, {
    lang: 'en',
    ca: other.cert,
    include: ['incoming'],
  });
  assert.equal(bad.ok, false);
  const failed = stage(bad.incoming, 'tls');
  assert.equal(failed.code, 'TLS_FAILED');
  assert.equal(failed.details?.hostnameMatches, false);
  assert.equal(failed.details?.problem, 'ERR_TLS_CERT_ALTNAME_INVALID');
  assert.match(failed.message, /does not match the host name 127\.0\.0\.1/);
  assert.ok(!wrongName.commands.includes('USER'), 'nothing sent to a server that failed the certificate check');
});

test('an internationalized host name: SNI and the certificate check use its ASCII form (xn--…)', async (t) => {
  // the stored host is Unicode (例え.test); certificates and SNI carry the A-label
  const host = '例え.test';
  const ascii = 'xn--r8jz45g.test';
  const idn = certificate(30, ascii, `DNS:${ascii}`);
  const names: string[] = [];
  const srv = tls.createServer(
    {
      ...idn,
      SNICallback: (name, cb) => {
        names.push(name);
        cb(null, undefined);
      },
    },
    (socket) => socket.end(),
  );
  srv.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => srv.close(() => resolve())));
  const { socket } = await tcpConnect('127.0.0.1', (srv.address() as net.AddressInfo).port, 5_000);
  const secured = await tlsHandshake(socket, host, { ca: idn.cert }, 5_000);
  const report = inspectCertificate(secured, host);
  secured.destroy();
  assert.equal(report.details.hostnameMatches, true, JSON.stringify(report));
  assert.equal(report.valid, true);
  assert.deepEqual(names, [ascii]);
});
