// IMAP4 against a scripted server, for what Dovecot cannot be made to do (it always has
// UIDPLUS and never refuses an EXPUNGE): a refused deletion is not logged as done; without
// UIDPLUS, another client's \Deleted mail is never expunged with Yubin's; one FETCH never
// holds more than IMAP_FETCH_BATCH_BYTES of mail.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { IMAP_FETCH_BATCH_BYTES } from '../../src/receive/imap-mailbox.ts';
import { receiveAccount } from '../../src/receive/receive-run.ts';
import type { AppContext } from '../../src/services/context.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { contextFor } from '../support/app-context.ts';
import { makeMail } from '../support/receive-fixture.ts';
import { startFakeImap, type FakeImapOptions, type ImapMail } from '../support/fake-imap-server.ts';

const mail = (uid: number, extra = ''): ImapMail => ({ uid, bytes: Buffer.from(makeMail(uid, extra)), flags: new Set() });

async function setup(t: TestContext, opts: FakeImapOptions, maxMessageBytes: number | null = null) {
  const ctx = (await contextFor(t, 'sqlite')) as AppContext;
  const fake = await startFakeImap(opts);
  t.after(() => fake.close());
  const server = await new MailServerService(ctx).add('test', {
    name: 'fake-imap',
    incoming: { protocol: 'imap4', host: '127.0.0.1', port: fake.port, encryption: 'none', apop: false, maxMessageBytes },
    outgoing: { host: '127.0.0.1', port: 1, auth: { mechanism: null } },
  });
  const account = await new MailAccountService(ctx).add('test', {
    displayName: 'alice', serverId: server.id, address: 'alice@example.com', username: 'alice', password: 'alice-pw', leaveOnServer: { mode: 'delete' },
  });
  return { ctx, fake, accountId: account.id };
}

test('IMAP: a UID EXPUNGE the server refuses (NO) is not logged as deleted', async (t) => {
  const mails = [mail(1), mail(2)];
  const { ctx, fake, accountId } = await setup(t, { mails, uidplus: true, refuse: new Set(['UID EXPUNGE']) });
  let summary;
  try {
    summary = await receiveAccount(ctx, ctx.repos.messages, accountId);
  } catch (err) {
    t.diagnostic(`run failed: ${(err as Error).message}`);
  }
  assert.equal(mails.length, 2, 'both mails are still on the server');
  assert.ok(fake.log.some((l) => /UID EXPUNGE/i.test(l)));
  const log = await ctx.repos.messages.deletionLog(accountId, 10);
  assert.deepEqual(log.filter((l) => l.status === 'done').map((l) => l.uid), [], `deletion log claims done; summary ${JSON.stringify(summary)}`);
});

test('IMAP without UIDPLUS: an oversize mail flagged \\Deleted by another client is never expunged by Yubin', async (t) => {
  const big = mail(1, 'x'.repeat(5000) + '\r\n');
  big.flags.add('\\Deleted'); // another client's mark, never expunged by it
  const mails = [big, mail(2)];
  const { ctx, fake, accountId } = await setup(t, { mails, uidplus: false }, 3000);
  await receiveAccount(ctx, ctx.repos.messages, accountId).catch((err) => t.diagnostic(`run failed: ${(err as Error).message}`));
  assert.equal(await ctx.repos.messages.count(accountId), 1, 'the small mail is stored');
  assert.ok(mails.some((m) => m.uid === 1), `the oversize mail Yubin never stored was expunged (commands: ${fake.log.filter((l) => /EXPUNGE|STORE/i.test(l)).join(' / ')})`);
});

test('IMAP: mails of up to 1 MiB are fetched many to a FETCH, but never more than IMAP_FETCH_BATCH_BYTES at once', async (t) => {
  const body = 'x'.repeat(76) + '\r\n';
  const big = (uid: number): ImapMail => ({ uid, bytes: Buffer.from(makeMail(uid, body.repeat(Math.floor(900_000 / body.length)))), flags: new Set() });
  const mails = Array.from({ length: 40 }, (_, i) => big(i + 1));
  const size = mails[0]!.bytes.length;
  const { ctx, fake, accountId } = await setup(t, { mails, uidplus: true });
  const r = await receiveAccount(ctx, ctx.repos.messages, accountId);
  assert.equal(r.received, 40);
  const fetches = fake.log.filter((l) => /UID FETCH .*BODY/i.test(l));
  const perFetch = Math.floor(IMAP_FETCH_BATCH_BYTES / size);
  assert.equal(fetches.length, Math.ceil(40 / perFetch), fetches.join('\n'));
});
