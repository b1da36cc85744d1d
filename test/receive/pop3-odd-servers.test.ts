// Odd POP3 servers against the receive run (a scripted server in-process: faults Dovecot
// cannot be made to produce): UIDL duplicates and reuse, a bare LF before an unstuffed dot,
// a message the server refuses to send. Never a mail deleted before it is stored.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { receiveAccount, type ReceiveOptions } from '../../src/receive/receive-run.ts';
import type { AppContext } from '../../src/services/context.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { contextFor, ENGINES, type Engine } from '../support/app-context.ts';
import { makeMail } from '../support/receive-fixture.ts';
import { serveMailbox, startFakePop3Server, type Mailbox } from '../protocols/pop3/fake-pop3-server.ts';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function setup(t: TestContext, box: Mailbox, leaveOnServer: { mode: 'delete' } | { mode: 'forever' } = { mode: 'delete' }, engine: Engine = 'sqlite') {
  const ctx = (await contextFor(t, engine)) as AppContext;
  const fake = await startFakePop3Server((s) => serveMailbox(s, box));
  t.after(() => fake.close());
  const server = await new MailServerService(ctx).add('test', {
    name: 'fake',
    incoming: { protocol: 'pop3', host: '127.0.0.1', port: fake.port, encryption: 'none', apop: false, maxMessageBytes: null },
    outgoing: { host: '127.0.0.1', port: 1, auth: { mechanism: null } },
  });
  const account = await new MailAccountService(ctx).add('test', {
    displayName: 'alice', serverId: server.id, address: 'alice@example.com', username: 'alice', password: 'alice-pw', leaveOnServer,
  });
  const run = (opts: ReceiveOptions = {}) => receiveAccount(ctx, ctx.repos.messages, account.id, opts);
  const storedShas = async () => new Set((await ctx.db.kysely.selectFrom('messages').select('sha256').where('account_id', '=', account.id).execute()).map((r) => r.sha256));
  return { ctx, fake, run, storedShas, accountId: account.id };
}

/** Apply the QUIT deletions of the last session to the box (what a real server does). */
function applyQuit(box: Mailbox) {
  const del = new Set(box.deletedAtQuit ?? []);
  const keep = box.messages.map((m, i) => ({ m, u: box.uids?.[i] ?? `uid-${i + 1}` })).filter((_, i) => !del.has(i + 1));
  box.messages = keep.map((k) => k.m);
  box.uids = keep.map((k) => k.u);
  box.deletedAtQuit = undefined;
}

for (const engine of ENGINES) test(`${engine}: duplicate UIDs in UIDL (Dovecot pop3_uidl_duplicates=allow): a mail is never deleted before it is stored`, async (t) => {
  const a = Buffer.from(makeMail(1));
  const b = Buffer.from(makeMail(2));
  const box: Mailbox = { messages: [a, b], uids: ['dup', 'dup'] };
  const s = await setup(t, box, { mode: 'delete' }, engine);
  const first = await s.run({ maxMessages: 1 });
  assert.deepEqual([first.received, first.deletedFromServer], [1, 0], 'one stored, and the UID names no single mail: nothing deleted');
  assert.deepEqual(box.deletedAtQuit ?? [], []);
  // and in one run without a cap (both in one batch: one UID row per statement)
  const second = await s.run();
  assert.deepEqual(second.errors, []);
  assert.deepEqual([second.received, second.deletedFromServer, second.remainingOnServer], [1, 0, 2]);
  assert.deepEqual(await s.storedShas(), new Set([sha(a), sha(b)]));
  assert.deepEqual(box.deletedAtQuit ?? [], []);
  // fetched again each run, stored once
  const third = await s.run();
  assert.deepEqual([third.received, third.deletedFromServer], [0, 0]);
  assert.equal((await s.storedShas()).size, 2);
});

for (const engine of ENGINES) test(`${engine}: a UIDL reused after Yubin deleted its first mail: the new mail is stored before it is deleted`, async (t) => {
  const a = Buffer.from(makeMail(1));
  const b = Buffer.from(makeMail(2));
  const box: Mailbox = { messages: [a], uids: ['u1'] };
  const s = await setup(t, box, { mode: 'delete' }, engine);
  const r1 = await s.run();
  assert.deepEqual([r1.received, r1.deletedFromServer], [1, 1]);
  applyQuit(box);
  // a different mail now carries the same UIDL (a server whose UIDLs are not unique for ever,
  // e.g. Dovecot pop3_uidl_duplicates=rename or a %m-based pop3_uidl_format)
  box.messages = [b];
  box.uids = ['u1'];
  const r2 = await s.run();
  assert.deepEqual([r2.received, r2.deletedFromServer], [1, 1]);
  assert.deepEqual(await s.storedShas(), new Set([sha(a), sha(b)]), 'the new mail is stored before it is deleted');
  // the UID now names the new mail, and it is not fetched again while it stays
  applyQuit(box);
  box.messages.push(Buffer.from(makeMail(3)));
  box.uids!.push('u3');
  const r3 = await s.run({ maxMessages: 10 });
  assert.deepEqual([r3.received, r3.duplicates], [1, 0]);
});

test('a body with a bare LF followed by an unstuffed ".\\r\\n" (server stuffs only after CRLF): never stored truncated and then deleted', async (t) => {
  const mail = Buffer.from('From: a@example.org\r\nSubject: bare lf\r\n\r\nfirst\n.\r\nthe rest of the mail\r\n');
  const box: Mailbox = {
    messages: [mail],
    // RETR written as a server that dot-stuffs lines split at CRLF only (hMailServer style)
    onCommand: async (session, line) => {
      if (!/^RETR 1$/i.test(line)) return false;
      const stuffed = Buffer.from(mail.toString('latin1').split('\r\n').map((l) => (l.startsWith('.') ? '.' + l : l)).join('\r\n'), 'latin1');
      await session.write(Buffer.concat([Buffer.from(`+OK ${mail.length} octets\r\n`), stuffed, Buffer.from('.\r\n')]));
      return true;
    },
  };
  const s = await setup(t, box);
  const r = await s.run();
  assert.deepEqual([r.received, r.deletedFromServer], [1, 1]);
  assert.deepEqual(await s.storedShas(), new Set([sha(mail)]), 'the whole mail is stored, byte for byte');
});

test('one mail the server refuses to RETR: the others are stored and deleted, it stays on the server and is named in the errors', async (t) => {
  const mails = [1, 2, 3].map((i) => Buffer.from(makeMail(i)));
  const box: Mailbox = {
    messages: mails,
    onCommand: async (session, line) => {
      if (!/^RETR 2$/i.test(line)) return false;
      await session.line('-ERR Error reading message 2: the file is damaged');
      return true;
    },
  };
  const s = await setup(t, box);
  const r = await s.run();
  assert.deepEqual([r.received, r.deletedFromServer, r.remainingOnServer], [2, 2, 1]);
  assert.deepEqual(await s.storedShas(), new Set([sha(mails[0]!), sha(mails[2]!)]));
  assert.deepEqual(box.deletedAtQuit, [1, 3], 'only the stored mails are deleted');
  assert.equal(r.errors.length, 1, JSON.stringify(r.errors));
  assert.match(r.errors[0]!.message, /uid-2 .*damaged/);
});

for (const engine of ENGINES) test(`${engine}: QUIT's reply lost after the server deleted, then the UIDL given to a new mail: it is stored before it is deleted`, async (t) => {
  const a = Buffer.from(makeMail(1));
  const b = Buffer.from(makeMail(2));
  const deles: number[] = [];
  let dropQuitReply = true;
  const box: Mailbox = {
    messages: [a],
    uids: ['u1'],
    onCommand: async (session, line) => {
      const dele = /^DELE (\d+)$/i.exec(line);
      if (dele) deles.push(Number(dele[1]));
      if (!/^QUIT$/i.test(line) || !dropQuitReply) return false;
      // the server applies the deletions, and the connection dies before its +OK arrives
      box.deletedAtQuit = [...deles];
      session.destroy();
      return true;
    },
  };
  const s = await setup(t, box, { mode: 'delete' }, engine);
  await assert.rejects(s.run());
  assert.deepEqual(await s.storedShas(), new Set([sha(a)]));
  applyQuit(box);
  dropQuitReply = false;
  // a server whose UIDLs are not unique for ever gives u1 to the next mail
  box.messages = [b];
  box.uids = ['u1'];
  const r = await s.run();
  assert.deepEqual([r.received, r.deletedFromServer], [1, 1]);
  assert.deepEqual(await s.storedShas(), new Set([sha(a), sha(b)]), 'the new mail was stored before it was deleted');
});

for (const engine of ENGINES) test(`${engine}: QUIT's reply lost and the server did not delete: the same mail is fetched again, stored once, and deleted`, async (t) => {
  const a = Buffer.from(makeMail(1));
  let dropQuitReply = true;
  const box: Mailbox = {
    messages: [a],
    uids: ['u1'],
    onCommand: async (session, line) => {
      if (!/^QUIT$/i.test(line) || !dropQuitReply) return false;
      session.destroy(); // nothing applied
      return true;
    },
  };
  const s = await setup(t, box, { mode: 'delete' }, engine);
  await assert.rejects(s.run());
  dropQuitReply = false;
  const r = await s.run();
  assert.deepEqual([r.received, r.duplicates, r.deletedFromServer], [0, 1, 1]);
  assert.deepEqual(box.deletedAtQuit, [1]);
  assert.equal((await s.storedShas()).size, 1);
});
