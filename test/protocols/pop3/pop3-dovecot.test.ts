// Interop: Pop3Client against a real Dovecot 2.3 (test/support/mailbed.ts). Every
// login method, plain / STLS / implicit TLS, byte-exact RETR of what was delivered,
// pipelined batches, and DELE + QUIT actually removing the files. Skipped when the
// mailbed cannot run here (Dovecot not installed).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import { testMailbed, type Mailbed } from '../../support/mailbed.ts';
import { MailError } from '../../../src/protocols/mail-error.ts';
import { connectPop3, type Pop3Client, type Pop3ClientOptions } from '../../../src/protocols/pop3/index.ts';
import type { Pop3AuthOptions } from '../../../src/protocols/pop3/index.ts';

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
  const user = `pop3-${randomBytes(5).toString('hex')}`;
  const pass = `pw-${randomBytes(6).toString('hex')}`;
  await bed.addUser(user, pass);
  return { bed, user, pass };
}

function opts(a: Account, extra: Partial<Pop3ClientOptions> = {}): Pop3ClientOptions {
  return { host: a.bed.host, port: a.bed.ports.pop3, encryption: 'none', ca: a.bed.ca, auth: { user: a.user, pass: a.pass }, ...extra };
}

async function open(t: TestContext, a: Account, extra: Partial<Pop3ClientOptions> = {}): Promise<Pop3Client> {
  const client = await connectPop3(opts(a, extra));
  t.after(() => client.close());
  return client;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Messages with the edges that matter: dot lines, 8-bit Shift_JIS, a long line, binary-ish bytes. */
function samples(): Buffer[] {
  const head = (subject: string, extra = ''): string => `From: sender@example.org\r\nTo: someone@mailbed.test\r\nSubject: ${subject}\r\nMessage-ID: <${randomBytes(8).toString('hex')}@example.org>\r\n${extra}\r\n`;
  return [
    Buffer.from(head('plain') + 'Hello.\r\n'),
    Buffer.from(head('dots') + '.\r\n..\r\n.foo\r\n...\r\nend.\r\n. \r\n'),
    Buffer.concat([
      Buffer.from(head('sjis', 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: 8bit\r\n')),
      iconv.encode('ソ表能 日本語のテストです。半角ｶﾀｶﾅ\r\n', 'Shift_JIS'),
      iconv.encode('予定表―能力\r\n', 'Shift_JIS'),
    ]),
    Buffer.concat([Buffer.from(head('long line')), Buffer.alloc(1024 * 1024, 'L'), Buffer.from('\r\n.after\r\n')]),
    Buffer.concat([Buffer.from(head('8bit', 'Content-Transfer-Encoding: 8bit\r\n')), Buffer.from([...Array(256).keys()].filter((b) => b !== 10 && b !== 13 && b !== 0)), Buffer.from('\r\n')]),
  ];
}

const methods: { name: string; extra: (a: Account) => Partial<Pop3ClientOptions>; expect: string; secure: boolean }[] = [
  { name: 'USER/PASS, no TLS', extra: () => ({}), expect: 'user', secure: false },
  { name: 'STLS', extra: () => ({ encryption: 'starttls' }), expect: 'user', secure: true },
  { name: 'implicit TLS', extra: (a) => ({ encryption: 'tls', port: a.bed.ports.pop3s }), expect: 'user', secure: true },
  { name: 'APOP', extra: (a) => ({ apop: true, auth: { user: a.user, pass: a.pass } }), expect: 'apop', secure: false },
  { name: 'SASL PLAIN', extra: (a) => ({ auth: { method: 'plain', user: a.user, pass: a.pass } as Pop3AuthOptions }), expect: 'plain', secure: false },
  { name: 'SASL LOGIN', extra: (a) => ({ auth: { method: 'login', user: a.user, pass: a.pass } as Pop3AuthOptions }), expect: 'login', secure: false },
  { name: 'SASL CRAM-MD5 over STLS', extra: (a) => ({ encryption: 'starttls', auth: { method: 'cram-md5', user: a.user, pass: a.pass } as Pop3AuthOptions }), expect: 'cram-md5', secure: true },
];

for (const m of methods) {
  test(`Dovecot: ${m.name} logs in and RETR returns every delivered message byte-exact`, async (t) => {
    const a = await account(t);
    if (!a) return;
    const delivered = samples();
    for (const raw of delivered) await a.bed.deliver(a.user, raw);
    const client = await open(t, a, m.extra(a));
    assert.equal(client.authenticatedWith, m.expect);
    assert.equal(client.secure, m.secure);
    assert.equal(client.capabilities?.uidl, true);
    const list = await client.listMessages();
    assert.deepEqual(list.map((x) => x.size), delivered.map((d) => d.length));
    assert.equal(new Set(list.map((x) => x.uid)).size, delivered.length);
    for (const { seq } of list) {
      assert.deepEqual(await readAll(await client.retr(seq)), delivered[seq - 1], `message ${seq}`);
    }
    await client.quit();
  });
}

test('Dovecot: pipelined retrMany of 50 filled messages, then deleMany + QUIT removes them', async (t) => {
  const a = await account(t);
  if (!a) return;
  await a.bed.fill(a.user, 50, 4096);
  assert.equal(await a.bed.count(a.user), 50);
  const client = await open(t, a);
  assert.equal(client.capabilities?.pipelining, true, 'Dovecot advertises PIPELINING');
  const list = await client.listMessages();
  assert.equal(list.length, 50);
  const sizes = new Map<number, number>();
  await client.retrMany(list.map((x) => x.seq), async (seq, stream) => {
    sizes.set(seq, (await readAll(stream)).length);
  });
  for (const { seq, size } of list) assert.equal(sizes.get(seq), size, `message ${seq}: LIST size equals RETR bytes`);

  await client.deleMany(list.map((x) => x.seq));
  assert.equal(await a.bed.count(a.user), 50, 'DELE alone removes nothing');
  await client.quit();
  assert.equal(await a.bed.count(a.user), 0, 'QUIT removed them');
});

test('Dovecot: DELE without QUIT removes nothing; RSET unmarks', async (t) => {
  const a = await account(t);
  if (!a) return;
  for (const raw of samples().slice(0, 3)) await a.bed.deliver(a.user, raw);
  const c1 = await open(t, a);
  await c1.deleMany([1, 2, 3]);
  c1.close();
  assert.equal(await a.bed.count(a.user), 3);

  const c2 = await open(t, a);
  await c2.dele(1);
  await c2.rset();
  await c2.dele(2);
  await c2.quit();
  assert.equal(await a.bed.count(a.user), 2);
  const c3 = await open(t, a);
  assert.equal((await c3.stat()).count, 2);
  assert.equal((await c3.top(1, 0)).toString('latin1').includes('Subject: plain'), true);
  await c3.quit();
});

test("Dovecot: a wrong password is AUTH_FAILED with Dovecot's own reply; an untrusted certificate is TLS_FAILED", async (t) => {
  const a = await account(t);
  if (!a) return;
  await assert.rejects(connectPop3(opts(a, { auth: { user: a.user, pass: 'wrong' } })), (e: unknown) => {
    assert.ok(e instanceof MailError);
    assert.equal(e.code, 'AUTH_FAILED');
    assert.equal(e.kind, 'auth');
    assert.match(e.response ?? '', /^-ERR \[AUTH\] Authentication failed\./);
    return true;
  });
  await assert.rejects(connectPop3(opts(a, { auth: { method: 'cram-md5', user: a.user, pass: 'wrong' } })), (e: unknown) => e instanceof MailError && e.code === 'AUTH_FAILED');
  await assert.rejects(connectPop3(opts(a, { encryption: 'tls', port: a.bed.ports.pop3s, ca: undefined })), (e: unknown) => e instanceof MailError && e.code === 'TLS_FAILED');
  const insecure = await open(t, a, { encryption: 'tls', port: a.bed.ports.pop3s, ca: undefined, allowInvalidCertificate: true });
  await insecure.quit();
});
