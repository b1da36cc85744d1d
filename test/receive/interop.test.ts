// The receive run against a real Dovecot 2.3, one behaviour per test: every connection mode
// (plain, STLS/STARTTLS, implicit TLS) and login (USER/PASS, APOP, SASL) of POP3 and IMAP4,
// the leave-on-server policies over simulated days, the backlog warning, run caps, an IMAP
// UIDVALIDITY change (no new copies: duplicates are found by SHA-256, never by Message-ID),
// byte-exact 8-bit mail with dot lines, and the Japanese corpus received and read back.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { decodeMessage } from '../../src/mail/decode-body.ts';
import { connectPop3, type Pop3AuthMethod } from '../../src/protocols/pop3/index.ts';
import { ImapFlow } from 'imapflow';
import { isMailError } from '../../src/protocols/mail-error.ts';
import { defaultOpener, receiveAccount, BACKLOG_WARNING_THRESHOLD, type ReceiveOptions, type ReceiveSummary } from '../../src/receive/receive-run.ts';
import { receiveNow, receiveStatus } from '../../src/receive/receive-service.ts';
import type { AppContext } from '../../src/services/context.ts';
import { contextFor } from '../support/app-context.ts';
import type { Mailbed } from '../support/mailbed.ts';
import { makeMail, receiveFixture, type ReceiveFixture } from '../support/receive-fixture.ts';
import { maildirMails, resetUidValidity, sha256 } from '../support/receive-invariants.ts';

const PROTOCOLS = ['pop3', 'imap4'] as const;
type Protocol = (typeof PROTOCOLS)[number];
const DAY_MS = 86_400_000;

function receive(ctx: AppContext, f: ReceiveFixture, opts: ReceiveOptions = {}): Promise<ReceiveSummary> {
  return receiveAccount(ctx, ctx.repos.messages, f.accountId, { ca: f.bed.ca, ...opts });
}

async function storedShas(ctx: AppContext, accountId: string): Promise<string[]> {
  const rows = await ctx.db.kysely.selectFrom('messages').select('sha256').where('account_id', '=', accountId).execute();
  return rows.map((r) => r.sha256).sort();
}

async function storedRaw(ctx: AppContext, accountId: string): Promise<Buffer[]> {
  const rows = await ctx.db.kysely.selectFrom('messages').select('id').where('account_id', '=', accountId).orderBy('received_at').execute();
  return Promise.all(rows.map((r) => ctx.repos.messages.rawBuffer(r.id)));
}

/** Dovecot's "Login:" log lines for this user (they reach the log a moment after the login). */
async function loginLines(bed: Mailbed, user: string, atLeast: number): Promise<string[]> {
  for (let i = 0; ; i++) {
    const lines = (await readFile(join(bed.dir, 'dovecot.log'), 'utf8')).split('\n').filter((l) => l.includes(` Login: user=<${user}>`));
    if (lines.length >= atLeast || i >= 40) return lines;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function setup(t: TestContext, protocol: Protocol, opts: Omit<Parameters<typeof receiveFixture>[2], 'protocol'> = {}) {
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return undefined;
  const f = await receiveFixture(t, ctx, { protocol, ...opts });
  if (!f) return undefined;
  return { ctx, f };
}

// ---- connection modes and logins -----------------------------------------------------------------

describe('connection modes and logins', () => {
  const cases: { protocol: Protocol; encryption: 'none' | 'starttls' | 'tls'; apop?: boolean; method: string; tls: boolean }[] = [
    { protocol: 'pop3', encryption: 'none', method: 'PLAIN', tls: false }, // USER/PASS is method=PLAIN in Dovecot's log
    { protocol: 'pop3', encryption: 'starttls', method: 'PLAIN', tls: true },
    { protocol: 'pop3', encryption: 'tls', method: 'PLAIN', tls: true },
    { protocol: 'pop3', encryption: 'none', apop: true, method: 'APOP', tls: false },
    { protocol: 'pop3', encryption: 'tls', apop: true, method: 'APOP', tls: true },
    { protocol: 'imap4', encryption: 'none', method: 'PLAIN', tls: false },
    { protocol: 'imap4', encryption: 'starttls', method: 'PLAIN', tls: true },
    { protocol: 'imap4', encryption: 'tls', method: 'PLAIN', tls: true },
  ];
  for (const c of cases) {
    test(`${c.protocol} ${c.encryption}${c.apop ? ' APOP' : ''}: receives byte-exact and deletes, logged in as ${c.method}${c.tls ? ' over TLS' : ''}`, async (t) => {
      const s = await setup(t, c.protocol, { encryption: c.encryption, apop: c.apop ?? false });
      if (!s) return;
      const { ctx, f } = s;
      const mails = [makeMail(1), makeMail(2), makeMail(3, '.\r\n..\r\n')];
      for (const m of mails) await f.bed.deliver(f.user, m);
      const summary = await receive(ctx, f);
      assert.deepEqual(summary.errors, []);
      assert.equal(summary.received, 3);
      assert.equal(summary.deletedFromServer, 3);
      assert.equal(await f.bed.count(f.user), 0);
      assert.deepEqual(await storedShas(ctx, f.accountId), mails.map(sha256).sort());
      const [login] = await loginLines(f.bed, f.user, 1);
      assert.ok(login, 'Dovecot logged the login');
      assert.match(login, new RegExp(`method=${c.method},`));
      if (c.tls) assert.match(login, /, TLS[,:]/, login);
      else assert.doesNotMatch(login, /, TLS[,:]/, login);
    });
  }

  test('TLS without the CA: refused as TLS_FAILED, nothing received or deleted', async (t) => {
    for (const protocol of PROTOCOLS) {
      const s = await setup(t, protocol, { encryption: 'tls' });
      if (!s) return;
      await s.f.bed.deliver(s.f.user, makeMail(1));
      const summary = await receiveNow(s.ctx, s.f.accountId); // no `ca`: the self-signed certificate is untrusted
      assert.equal(summary.errors[0]?.code, 'TLS_FAILED', `${protocol}: ${JSON.stringify(summary.errors)}`);
      assert.equal(await s.f.bed.count(s.f.user), 1);
      assert.equal(await s.ctx.repos.messages.count(s.f.accountId), 0);
    }
  });

  // Yubin's POP3 'auto' login takes USER/PASS when the server offers it, as Dovecot does: the
  // receive run never picks SASL here. Our client's SASL mechanisms are checked directly.
  test('POP3 auto login picks USER on Dovecot; SASL PLAIN, LOGIN and CRAM-MD5 work when asked for', async (t) => {
    const s = await setup(t, 'pop3');
    if (!s) return;
    const { f } = s;
    await f.bed.deliver(f.user, makeMail(1));
    const methods: { method: Pop3AuthMethod; logged: string; encryption: 'none' | 'tls' }[] = [
      { method: 'auto', logged: 'PLAIN', encryption: 'none' },
      { method: 'plain', logged: 'PLAIN', encryption: 'none' },
      { method: 'plain', logged: 'PLAIN', encryption: 'tls' },
      { method: 'login', logged: 'LOGIN', encryption: 'none' },
      { method: 'cram-md5', logged: 'CRAM-MD5', encryption: 'none' },
    ];
    for (const [i, m] of methods.entries()) {
      const client = await connectPop3({
        host: '127.0.0.1',
        port: m.encryption === 'tls' ? f.bed.ports.pop3s : f.bed.ports.pop3,
        encryption: m.encryption,
        ca: f.bed.ca,
        auth: { method: m.method, user: f.user, pass: f.password },
      });
      assert.equal(client.authenticatedWith, m.method === 'auto' ? 'user' : m.method);
      const list = await client.listMessages();
      assert.equal(list.length, 1);
      await client.quit();
      const lines = await loginLines(f.bed, f.user, i + 1);
      assert.match(lines[i] ?? '', new RegExp(`method=${m.logged},`), `${m.method}: ${lines[i]}`);
    }
    // a wrong password is AUTH_FAILED whatever the mechanism
    for (const method of ['user', 'plain', 'apop', 'cram-md5'] as const) {
      await assert.rejects(
        connectPop3({ host: '127.0.0.1', port: f.bed.ports.pop3, encryption: 'none', auth: { method, user: f.user, pass: 'wrong' } }),
        (err: { code?: string }) => err.code === 'AUTH_FAILED',
        method,
      );
    }
  });
});

// ---- leave on server ------------------------------------------------------------------------------

for (const protocol of PROTOCOLS) {
  test(`${protocol} leave for 3 days: kept at T+3d−1h, deleted at T+3d+1s, newer mail kept`, async (t) => {
    const s = await setup(t, protocol, { leaveOnServer: { mode: 'days', days: 3 } });
    if (!s) return;
    const { ctx, f } = s;
    const T = Date.parse('2026-03-01T09:00:00.000Z');
    const at = (ms: number) => () => new Date(T + ms);
    const first = [makeMail(1), makeMail(2), makeMail(3)];
    for (const m of first) await f.bed.deliver(f.user, m);

    const a = await receive(ctx, f, { now: at(0) });
    assert.deepEqual([a.received, a.deletedFromServer, a.remainingOnServer], [3, 0, 3]);

    const b = await receive(ctx, f, { now: at(3 * DAY_MS - 3_600_000) });
    assert.deepEqual([b.received, b.deletedFromServer], [0, 0], 'deleted before its 3 days were up');
    assert.equal(await f.bed.count(f.user), 3);
    // one more mail, first seen now: it has its own 3 days
    const late = makeMail(4);
    await f.bed.deliver(f.user, late);
    const c = await receive(ctx, f, { now: at(3 * DAY_MS - 1_800_000) });
    assert.deepEqual([c.received, c.deletedFromServer], [1, 0]);

    const status = await receiveStatus(ctx, f.accountId, new Date(T + 3 * DAY_MS + 1_000));
    assert.equal(status.nextRunDeletes, 3, 'status: the next run deletes the three old ones');
    assert.deepEqual(status.warnings, []);

    const d = await receive(ctx, f, { now: at(3 * DAY_MS + 1_000) });
    assert.deepEqual([d.received, d.deletedFromServer, d.remainingOnServer], [0, 3, 1]);
    assert.equal(await f.bed.count(f.user), 1);
    const log = await ctx.repos.messages.deletionLog(f.accountId, 10);
    assert.equal(log.length, 3);
    assert.ok(log.every((l) => l.status === 'done' && l.policy === 'days:3'));
    assert.deepEqual(log.map((l) => l.sha256).sort(), first.map(sha256).sort());

    const e = await receive(ctx, f, { now: at(6 * DAY_MS - 1_800_000 + 1_000) });
    assert.deepEqual([e.received, e.deletedFromServer, e.remainingOnServer], [0, 1, 0]);
    assert.deepEqual(await storedShas(ctx, f.accountId), [...first, late].map(sha256).sort());
  });
}

test(`leave forever: the backlog warning from ${BACKLOG_WARNING_THRESHOLD} received mails left on the server`, async (t) => {
  const s = await setup(t, 'pop3', { leaveOnServer: { mode: 'forever' } });
  if (!s) return;
  const { ctx, f } = s;
  await f.bed.fill(f.user, BACKLOG_WARNING_THRESHOLD - 1, 300);
  const a = await receive(ctx, f);
  assert.equal(a.received, BACKLOG_WARNING_THRESHOLD - 1);
  let status = await receiveStatus(ctx, f.accountId);
  assert.equal(status.storedOnServer, BACKLOG_WARNING_THRESHOLD - 1);
  assert.deepEqual(status.warnings, []);
  assert.equal(status.nextRunDeletes, 0);
  await f.bed.deliver(f.user, makeMail(1));
  const b = await receive(ctx, f);
  assert.equal(b.received, 1);
  status = await receiveStatus(ctx, f.accountId);
  assert.deepEqual(status.warnings, [{ code: 'BACKLOG', count: BACKLOG_WARNING_THRESHOLD }]);
  assert.equal(status.onServer, BACKLOG_WARNING_THRESHOLD);
  assert.equal(status.messagesStored, BACKLOG_WARNING_THRESHOLD);
  assert.equal(await f.bed.count(f.user), BACKLOG_WARNING_THRESHOLD);
});

// ---- run caps -------------------------------------------------------------------------------------

for (const protocol of PROTOCOLS) {
  for (const policy of ['delete', 'forever'] as const) {
    test(`${protocol} ${policy}: maxMessages 10 over 25 mails → hasMore, and the next runs finish, each mail stored once`, async (t) => {
      const s = await setup(t, protocol, { leaveOnServer: { mode: policy } });
      if (!s) return;
      const { ctx, f } = s;
      const mails = Array.from({ length: 25 }, (_, i) => makeMail(i));
      for (const m of mails) await f.bed.deliver(f.user, m);
      const runs: ReceiveSummary[] = [];
      do runs.push(await receive(ctx, f, { maxMessages: 10 }));
      while (runs.at(-1)!.hasMore && runs.length < 10);
      assert.deepEqual(
        runs.map((r) => [r.received, r.hasMore]),
        [
          [10, true],
          [10, true],
          [5, false],
        ],
      );
      assert.deepEqual(
        runs.map((r) => r.deletedFromServer),
        policy === 'delete' ? [10, 10, 5] : [0, 0, 0],
      );
      assert.deepEqual(await storedShas(ctx, f.accountId), mails.map(sha256).sort());
      assert.equal(await f.bed.count(f.user), policy === 'delete' ? 0 : 25);
      const again = await receive(ctx, f, { maxMessages: 10 });
      assert.deepEqual([again.received, again.hasMore, again.duplicates], [0, false, 0]);
    });
  }
}

test('maxBytes caps a run by size, and at least one mail goes through whatever its size', async (t) => {
  const s = await setup(t, 'pop3');
  if (!s) return;
  const { ctx, f } = s;
  const mails = Array.from({ length: 6 }, (_, i) => makeMail(i, 'x'.repeat(1_000) + '\r\n'));
  for (const m of mails) await f.bed.deliver(f.user, m);
  const size = Buffer.byteLength(mails[0]!);
  const a = await receive(ctx, f, { maxBytes: size * 2 + 10 });
  assert.deepEqual([a.received, a.hasMore], [2, true]);
  const b = await receive(ctx, f, { maxBytes: 1 });
  assert.deepEqual([b.received, b.hasMore], [1, true]);
  const c = await receive(ctx, f);
  assert.deepEqual([c.received, c.hasMore], [3, false]);
  assert.deepEqual(await storedShas(ctx, f.accountId), mails.map(sha256).sort());
});

// ---- identity: UIDVALIDITY, Message-ID -------------------------------------------------------------

for (const protocol of PROTOCOLS) {
  test(`${protocol}: after a UIDVALIDITY change the same mails are recognised by SHA-256 and not stored again`, async (t) => {
    const s = await setup(t, protocol, { leaveOnServer: { mode: 'forever' } });
    if (!s) return;
    const { ctx, f } = s;
    const mails = Array.from({ length: 5 }, (_, i) => makeMail(i));
    for (const m of mails) await f.bed.deliver(f.user, m);
    const a = await receive(ctx, f);
    assert.equal(a.received, 5);
    const uidsBefore = new Set((await ctx.repos.messages.knownUids(f.accountId)).keys());

    await resetUidValidity(f.bed, f.user);
    const fresh = makeMail(99);
    await f.bed.deliver(f.user, fresh);
    const b = await receive(ctx, f);
    const uidsAfter = [...(await ctx.repos.messages.knownUids(f.accountId)).keys()].filter((u) => !uidsBefore.has(u));
    assert.equal(uidsAfter.length, 6, `Dovecot gave the mails new UIDs (before ${[...uidsBefore]}, new ${uidsAfter})`);
    if (protocol === 'imap4') {
      const validity = (u: string) => u.split(':')[0];
      assert.notEqual(validity(uidsAfter[0]!), validity([...uidsBefore][0]!), 'UIDVALIDITY changed');
    }
    assert.deepEqual([b.received, b.duplicates, b.deletedFromServer], [1, 5, 0]);
    assert.equal(await ctx.repos.messages.count(f.accountId), 6);
    assert.deepEqual(await storedShas(ctx, f.accountId), [...mails, fresh].map(sha256).sort());
    const c = await receive(ctx, f);
    assert.deepEqual([c.received, c.duplicates], [0, 0]);
  });

  test(`${protocol} leave 30 days, then a UIDVALIDITY change: the days count from the first receipt, nothing stored twice`, async (t) => {
    const s = await setup(t, protocol, { leaveOnServer: { mode: 'days', days: 30 } });
    if (!s) return;
    const { ctx, f } = s;
    const mails = Array.from({ length: 4 }, (_, i) => makeMail(i));
    for (const m of mails) await f.bed.deliver(f.user, m);
    const T = Date.parse('2026-05-01T00:00:00.000Z');
    assert.equal((await receive(ctx, f, { now: () => new Date(T) })).received, 4);
    await resetUidValidity(f.bed, f.user);
    // 31 days later the mails are due; under their new UIDs they are "first seen" now, but the
    // bytes were stored 31 days ago
    const b = await receive(ctx, f, { now: () => new Date(T + 31 * DAY_MS) });
    assert.deepEqual([b.received, b.duplicates], [0, 4]);
    assert.equal(await ctx.repos.messages.count(f.accountId), 4);
    assert.equal(b.deletedFromServer, 4, 'stored 31 days ago, so due under days:30 whatever their UIDs now');
  });
}

test('two different mails with the same Message-ID are both stored (no dedup by Message-ID)', async (t) => {
  for (const protocol of PROTOCOLS) {
    const s = await setup(t, protocol);
    if (!s) return;
    const { ctx, f } = s;
    const head = 'From: a@example.org\r\nTo: b@example.com\r\nMessage-ID: <same@example.org>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0900\r\n';
    const one = `${head}Subject: one\r\n\r\nfirst body\r\n`;
    const two = `${head}Subject: two\r\n\r\nsecond body\r\n`;
    // and the very same bytes twice: one stored copy for both UIDs
    await f.bed.deliver(f.user, one);
    await f.bed.deliver(f.user, two);
    await f.bed.deliver(f.user, two);
    const r = await receive(ctx, f);
    assert.deepEqual([r.received, r.duplicates, r.deletedFromServer], [2, 1, 3], protocol);
    assert.deepEqual(await storedShas(ctx, f.accountId), [one, two].map(sha256).sort());
    const page = await ctx.repos.messages.list({ accountId: f.accountId, limit: 10 });
    assert.deepEqual(page.items.map((m) => m.messageId), ['<same@example.org>', '<same@example.org>']);
  }
});

// ---- bytes -------------------------------------------------------------------------------------------

test('8-bit Shift_JIS with dot lines (".", "..", ".x", a final ".") comes back byte-exact over POP3 and IMAP4', async (t) => {
  const sjis = (s: string) => iconv.encode(s, 'cp932');
  const crlf = (s: string) => Buffer.from(s.replaceAll('\n', '\r\n'), 'latin1');
  const mail = Buffer.concat([
    crlf('From: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <yamada@example.jp>\nTo: info@example.jp\nSubject: '),
    sjis('表示ソフト～①の件'), // raw 8-bit Shift_JIS in the header, 0x5C second bytes
    crlf('\nMIME-Version: 1.0\nContent-Type: text/plain; charset=Shift_JIS\nContent-Transfer-Encoding: 8bit\n\n'),
    sjis('表示のテスト。ソ～①㈱ ｶﾀｶﾅ\r\n'),
    crlf('.\n..\n...\n.leading dot\n. space\n'),
    sjis('.表は行頭のドット\r\n'),
    crlf('\n\n.\n'),
    Buffer.from([0x82, 0xa0, 0x5c, 0x0d, 0x0a]), // あ\ with CRLF
    crlf('.\n'), // the last line is a lone dot
  ]);
  for (const protocol of PROTOCOLS) {
    const s = await setup(t, protocol);
    if (!s) return;
    const { ctx, f } = s;
    await f.bed.deliver(f.user, mail);
    const r = await receive(ctx, f);
    assert.equal(r.received, 1);
    const [raw] = await storedRaw(ctx, f.accountId);
    assert.ok(raw);
    assert.equal(raw.toString('hex'), mail.toString('hex'), `${protocol}: stored bytes differ`);
    const [meta] = (await ctx.repos.messages.list({ accountId: f.accountId, limit: 1 })).items;
    assert.equal(meta?.subject, '表示ソフト～①の件');
    assert.equal(meta?.from?.name, '山田');
  }
});

test('a mail over 1 MiB (IMAP streams it in 64 KiB parts), its size a multiple of 64 KiB, comes back byte-exact', async (t) => {
  const size = 1024 * 1024 + 2 * 65_536;
  const head = Buffer.from('From: big@example.org\r\nTo: b@example.com\r\nSubject: big\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: 8bit\r\n\r\n');
  const body = Buffer.alloc(size - head.length);
  // 8-bit lines of 78 bytes + CRLF, some starting with a dot; no bare CR or LF
  for (let i = 0; i < body.length; i++) body[i] = 0x21 + ((i * 7919) % 0xd0);
  for (let i = 78; i + 1 < body.length; i += 80) {
    body[i] = 0x0d;
    body[i + 1] = 0x0a;
    if ((i / 80) % 17 === 0 && i + 2 < body.length) body[i + 2] = 0x2e;
  }
  body[body.length - 2] = 0x0d;
  body[body.length - 1] = 0x0a;
  const mail = Buffer.concat([head, body]);
  assert.equal(mail.length % 65_536, 0);
  for (const protocol of PROTOCOLS) {
    const s = await setup(t, protocol);
    if (!s) return;
    await s.f.bed.deliver(s.f.user, mail);
    const r = await receive(s.ctx, s.f);
    assert.deepEqual([r.received, r.errors], [1, []], protocol);
    const [raw] = await storedRaw(s.ctx, s.f.accountId);
    assert.equal(raw?.length, mail.length, protocol);
    assert.ok(raw.equals(mail), `${protocol}: stored bytes differ`);
  }
});

// ---- other IMAP clients on the same INBOX ---------------------------------------------------------

async function imapClient(f: ReceiveFixture): Promise<ImapFlow> {
  const client = new ImapFlow({ host: '127.0.0.1', port: f.bed.ports.imap, secure: false, doSTARTTLS: false, auth: { user: f.user, pass: f.password }, logger: false });
  client.on('error', () => undefined);
  await client.connect();
  await client.mailboxOpen('INBOX');
  return client;
}

test('IMAP4: received mail stays unread (BODY.PEEK), also under leave forever', async (t) => {
  const s = await setup(t, 'imap4', { leaveOnServer: { mode: 'forever' } });
  if (!s) return;
  const { ctx, f } = s;
  for (let i = 0; i < 3; i++) await f.bed.deliver(f.user, makeMail(i));
  const r = await receive(ctx, f);
  assert.equal(r.received, 3);
  const other = await imapClient(f);
  try {
    const flags: string[][] = [];
    for await (const m of other.fetch('1:*', { flags: true })) flags.push([...(m.flags ?? [])]);
    assert.equal(flags.length, 3);
    assert.ok(flags.every((fl) => !fl.includes('\\Seen')), JSON.stringify(flags));
  } finally {
    await other.logout();
  }
});

test("IMAP4: another client's \\Deleted mail that Yubin did not store is not expunged by Yubin", async (t) => {
  const s = await setup(t, 'imap4', { maxMessageBytes: 3_000 });
  if (!s) return;
  const { ctx, f } = s;
  await f.bed.deliver(f.user, makeMail(1, 'x'.repeat(5_000) + '\r\n')); // oversize: not stored
  await f.bed.deliver(f.user, makeMail(2));
  const other = await imapClient(f);
  try {
    await other.messageFlagsAdd('1', ['\\Deleted']); // flagged, not expunged
  } finally {
    await other.logout();
  }
  const r = await receive(ctx, f);
  assert.deepEqual([r.received, r.skippedOversize, r.deletedFromServer], [1, 1, 1]);
  assert.equal(await f.bed.count(f.user), 1, 'the other client\'s \\Deleted mail is still there');
});

for (const protocol of PROTOCOLS) {
  test(`${protocol}: a mail removed by another client between the listing and the download`, async (t) => {
    const s = await setup(t, protocol);
    if (!s) return;
    const { ctx, f } = s;
    const mails = Array.from({ length: 5 }, (_, i) => makeMail(i));
    for (const m of mails) await f.bed.deliver(f.user, m);
    // the 3rd mail goes away right after Yubin listed the mailbox (expunged by an IMAP client)
    let removed = false;
    const opener: ReceiveOptions['openMailbox'] = async (incoming, creds, o) => {
      const session = await defaultOpener(incoming, creds, o);
      return {
        ...session,
        protocol: session.protocol,
        list: async () => {
          const list = await session.list();
          if (!removed) {
            removed = true;
            const other = await imapClient(f);
            try {
              await other.messageDelete('3');
            } finally {
              await other.logout();
            }
          }
          return list;
        },
      };
    };
    let first: ReceiveSummary | undefined;
    let failure: unknown;
    try {
      first = await receive(ctx, f, { openMailbox: opener });
    } catch (err) {
      failure = err;
      assert.ok(isMailError(err), `not a MailError: ${(err as Error)?.stack ?? String(err)}`);
    }
    if (protocol === 'pop3') {
      // Dovecot refuses the vanished mail's RETR ("-ERR Message 3 expunged."): the others are
      // stored in the same run, and the refusal is named in its errors
      assert.ok(first, `the first run failed: ${(failure as Error)?.message}`);
      assert.equal(first.received, 4);
      assert.deepEqual(first.errors.map((e) => e.code), ['COMMAND_FAILED']);
      assert.match(first.errors[0]!.message, /expunged/i);
    } else if (first) assert.deepEqual([first.received, first.errors], [4, []]);
    const again = await receive(ctx, f);
    assert.deepEqual(again.errors, []);
    t.diagnostic(`first run: ${failure ? `failed (${(failure as Error).message})` : JSON.stringify(first)}`);
    const want = mails.filter((_, i) => i !== 2).map(sha256).sort();
    assert.deepEqual(await storedShas(ctx, f.accountId), want);
    assert.equal(await f.bed.count(f.user), 0);
  });
}

// ---- the Japanese corpus --------------------------------------------------------------------------

interface CorpusCase {
  name: string;
  eml: Buffer;
  expected: {
    description: string;
    metadata: Record<string, unknown>;
    decoded: { error: boolean; text?: string | null; html?: string | null; attachments?: unknown[] };
  };
}

const corpusDir = new URL('../fixtures/japanese/', import.meta.url);
const corpus: CorpusCase[] = readdirSync(corpusDir)
  .filter((n) => n.endsWith('.eml'))
  .sort()
  .map((n) => ({
    name: n.slice(0, -4),
    eml: readFileSync(new URL(n, corpusDir)),
    expected: JSON.parse(readFileSync(new URL(n.replace(/\.eml$/, '.json'), corpusDir), 'utf8')) as CorpusCase['expected'],
  }));

describe('the Japanese corpus through Dovecot', () => {
  for (const protocol of PROTOCOLS) {
    test(`${protocol}: stored metadata and the decoded body equal the corpus`, async (t) => {
      assert.ok(corpus.length >= 11, `corpus has ${corpus.length} mails`);
      const ctx = await contextFor(t, 'sqlite');
      if (!ctx) return;
      const failures: string[] = [];
      for (const c of corpus) {
        // one account each: the stored mail is known to be this one whatever Dovecot did to it
        const f = await receiveFixture(t, ctx, { protocol });
        if (!f) return;
        await f.bed.deliver(f.user, c.eml);
        let served = (await maildirMails(f.bed, f.user))[0]!;
        // POP3 cannot carry a mail that does not end in a line break: the server adds CRLF
        // before the terminating "." (RFC 1939 §3), and the client cannot tell it apart
        if (protocol === 'pop3' && served.at(-1) !== 0x0a) served = Buffer.concat([served, Buffer.from('\r\n')]);
        const r = await receive(ctx, f);
        assert.deepEqual([r.received, r.errors], [1, []], c.name);
        const [item] = (await ctx.repos.messages.list({ accountId: f.accountId, limit: 2 })).items;
        assert.ok(item, c.name);
        const raw = await ctx.repos.messages.rawBuffer(item.id);
        const m = c.expected.metadata;
        const check = (what: string, actual: unknown, want: unknown) => {
          try {
            assert.deepEqual(actual, want);
          } catch {
            failures.push(`${c.name} ${what}: got ${JSON.stringify(actual)}, want ${JSON.stringify(want)}`);
          }
        };
        check('bytes (the file as Dovecot serves it)', sha256(raw), sha256(served));
        check('subject', item.subject, m.subject);
        check('from', item.from, m.from);
        check('to', item.to, m.to);
        check('cc', item.cc, m.cc);
        check('date', item.date, m.date);
        check('messageId', item.messageId, m.messageId);
        check('attachmentNames', item.attachmentNames, m.attachmentNames);
        check('parseError', item.parseError !== null, m.parseError);
        const d = await decodeMessage(raw);
        check('decoded subject', d.subject, m.subject);
        check('decoded error', d.error !== null, c.expected.decoded.error);
        if (!c.expected.decoded.error) {
          check('decoded text', d.text, c.expected.decoded.text);
          check('decoded html', d.html, c.expected.decoded.html);
          check('decoded attachments', d.attachments, c.expected.decoded.attachments);
        }
      }
      assert.deepEqual(failures, []);
    });
  }
});
