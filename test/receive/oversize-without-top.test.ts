// An oversize mail on a POP3 server that answers TOP with -ERR (TOP is optional, RFC
// 1939 §7), for good or for now ([SYS/TEMP]): the notice is stored without From/Subject, the
// run goes on, and a later run that gets the headers fills them in. Real Dovecot always
// supports TOP, so this runs against the in-process fake POP3 server.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { receiveAccount } from '../../src/receive/receive-run.ts';
import type { AppContext } from '../../src/services/context.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { contextFor } from '../support/app-context.ts';
import { makeMail } from '../support/receive-fixture.ts';
import { DEFAULT_CAPA, serveMailbox, startFakePop3Server, type FakeServer, type FakeSession, type Mailbox } from '../protocols/pop3/fake-pop3-server.ts';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const small = [makeMail(1), makeMail(3)];
const big = makeMail(2, 'x'.repeat(5000) + '\r\n');
/** false: the fake answers TOP as a server that has it */
const refuseTop = { on: true };

/** 3 mails, the middle one over the 2000-byte limit; `onTop` answers TOP (undefined: the fake's real TOP). Account: "do not leave on server". */
async function setup(t: TestContext, onTop: (session: FakeSession) => Promise<void>): Promise<{ ctx: AppContext; box: Mailbox; fake: FakeServer; accountId: string } | undefined> {
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return undefined;
  const box: Mailbox = {
    messages: [small[0]!, big, small[1]!].map((m) => Buffer.from(m)),
    capa: DEFAULT_CAPA.filter((l) => l !== 'TOP'),
    onCommand: async (session, line) => {
      if (!/^TOP /i.test(line) || !refuseTop.on) return false;
      await onTop(session);
      return true;
    },
  };
  const fake = await startFakePop3Server((s) => serveMailbox(s, box));
  t.after(() => fake.close());
  const server = await new MailServerService(ctx).add('test', {
    name: 'no-top',
    incoming: { protocol: 'pop3', host: '127.0.0.1', port: fake.port, encryption: 'none', apop: false, maxMessageBytes: 2000 },
    outgoing: { host: '127.0.0.1', port: 1, auth: { mechanism: null } },
  });
  const account = await new MailAccountService(ctx).add('test', {
    displayName: 'alice',
    serverId: server.id,
    address: 'alice@example.com',
    username: 'alice',
    password: 'alice-pw',
    leaveOnServer: { mode: 'delete' },
  });
  return { ctx, box, fake, accountId: account.id };
}

test('POP3 without TOP: the oversize mail gets a notice without From/Subject, the others are received', async (t) => {
  const s = await setup(t, (session) => session.line('-ERR Unknown command: TOP'));
  if (!s) return;
  const { ctx, box, fake, accountId } = s;
  const lines: { event?: string }[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as { event?: string });
        done();
      },
    }),
  );

  const first = await receiveAccount(ctx, ctx.repos.messages, accountId, { logger });
  assert.deepEqual(fake.errors, []);
  assert.ok(fake.sessions[0]!.received.some((l) => /^TOP 2 /i.test(l)), 'TOP was tried');
  assert.deepEqual(first.errors, []);
  assert.equal(first.received, 2);
  assert.equal(first.skippedOversize, 1);
  const page = await ctx.repos.messages.list({ accountId, limit: 10 });
  assert.deepEqual(new Set(page.items.map((m) => m.sha256)), new Set(small.map(sha)));
  const notices = await ctx.repos.messages.notices(accountId);
  assert.equal(notices.length, 1);
  assert.equal(notices[0]!.uid, 'uid-2');
  assert.equal(notices[0]!.size, Buffer.byteLength(big));
  assert.equal(notices[0]!.from, null);
  assert.equal(notices[0]!.subject, null);
  // "do not leave on server": the two stored mails are deleted, the oversize one never
  assert.equal(first.deletedFromServer, 2);
  assert.deepEqual(box.deletedAtQuit, [1, 3]);
  assert.equal(lines.filter((l) => l.event === 'receive.oversize.headers_refused').length, 1);

  // the server applied the deletions at QUIT; the next run goes through too
  box.messages = [Buffer.from(big)];
  box.uids = ['uid-2'];
  const second = await receiveAccount(ctx, ctx.repos.messages, accountId, { logger });
  assert.deepEqual(fake.errors, []);
  assert.deepEqual(second.errors, []);
  assert.equal(second.received, 0);
  assert.equal(second.skippedOversize, 1);
  assert.equal(second.deletedFromServer, 0);
  assert.deepEqual(box.deletedAtQuit, []);
  assert.ok(fake.sessions[1]!.received.some((l) => /^TOP 1 /i.test(l)), 'a notice without headers: TOP is asked again');
  assert.deepEqual(await ctx.repos.messages.notices(accountId).then((n) => n.map((x) => [x.from, x.subject])), [[null, null]]);
  assert.equal(await ctx.repos.messages.count(accountId), 2);

  // the server answers TOP now: the notice gets its From and Subject, and is asked no more
  refuseTop.on = false;
  t.after(() => (refuseTop.on = true));
  const third = await receiveAccount(ctx, ctx.repos.messages, accountId, { logger });
  assert.deepEqual(third.errors, []);
  const [filled] = await ctx.repos.messages.notices(accountId);
  assert.equal(filled!.from, 'Sender 2 <sender2@example.org>');
  assert.equal(filled!.subject, 'test 2');
  assert.equal(filled!.size, Buffer.byteLength(big));
  await receiveAccount(ctx, ctx.repos.messages, accountId, { logger });
  assert.equal(fake.sessions.length, 4);
  assert.ok(!fake.sessions[3]!.received.some((l) => /^TOP /i.test(l)), 'a notice with its headers is not asked again');
  assert.equal((await ctx.repos.messages.notices(accountId))[0]!.subject, 'test 2');
});

test('POP3 TOP refused for now ([SYS/TEMP]): the run goes on with a notice without From/Subject, filled in by the next run', async (t) => {
  const s = await setup(t, (session) => session.line('-ERR [SYS/TEMP] header cache rebuilding, try later'));
  if (!s) return;
  const { ctx, box, accountId } = s;
  const first = await receiveAccount(ctx, ctx.repos.messages, accountId);
  assert.deepEqual(first.errors, []);
  assert.equal(first.received, 2);
  assert.equal(first.skippedOversize, 1);
  assert.equal(first.deletedFromServer, 2);
  assert.deepEqual(await ctx.repos.messages.notices(accountId).then((n) => n.map((x) => [x.uid, x.from, x.subject])), [['uid-2', null, null]]);

  box.messages = [Buffer.from(big)];
  box.uids = ['uid-2'];
  refuseTop.on = false;
  t.after(() => (refuseTop.on = true));
  const second = await receiveAccount(ctx, ctx.repos.messages, accountId);
  assert.deepEqual(second.errors, []);
  assert.deepEqual(await ctx.repos.messages.notices(accountId).then((n) => n.map((x) => [x.uid, x.from, x.subject])), [['uid-2', 'Sender 2 <sender2@example.org>', 'test 2']]);
});

test('a connection dropped at TOP still fails the run: no notice, nothing received or deleted', async (t) => {
  const s = await setup(t, async (session) => session.destroy());
  if (!s) return;
  const { ctx, box, accountId } = s;
  await assert.rejects(receiveAccount(ctx, ctx.repos.messages, accountId), (err: { code?: string }) => err.code === 'CONNECTION_CLOSED');
  assert.deepEqual(await ctx.repos.messages.notices(accountId), []);
  assert.equal(await ctx.repos.messages.count(accountId), 0);
  assert.equal(box.deletedAtQuit, undefined);
});
