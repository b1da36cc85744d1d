// The receive run against a real Dovecot: POP3 and IMAP4, every leave-on-server
// policy, oversize mail, byte-exact storage, no duplicates.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { receiveAccount } from '../../src/receive/receive-run.ts';
import { contextFor } from '../support/app-context.ts';
import { makeMail, receiveFixture } from '../support/receive-fixture.ts';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

for (const protocol of ['pop3', 'imap4'] as const) {
  describe(protocol, () => {
    test('receives every mail byte-exact, then deletes them from the server', async (t) => {
      const ctx = await contextFor(t, 'sqlite');
      if (!ctx) return;
      const f = await receiveFixture(t, ctx, { protocol });
      if (!f) return;
      const mails = Array.from({ length: 12 }, (_, i) => makeMail(i));
      for (const m of mails) await f.bed.deliver(f.user, m);
      const summary = await receiveAccount(ctx, ctx.repos.messages, f.accountId, { ca: f.bed.ca });
      assert.equal(summary.received, 12);
      assert.equal(summary.deletedFromServer, 12);
      assert.equal(await f.bed.count(f.user), 0);
      const page = await ctx.repos.messages.list({ accountId: f.accountId, limit: 100 });
      assert.deepEqual(new Set(page.items.map((m) => m.sha256)), new Set(mails.map(sha)));
      for (const m of page.items) assert.equal(sha(await ctx.repos.messages.rawBuffer(m.id)), m.sha256);
      const log = await ctx.repos.messages.deletionLog(f.accountId, 100);
      assert.equal(log.length, 12);
      assert.ok(log.every((l) => l.status === 'done'));
      // a second run finds nothing new
      const again = await receiveAccount(ctx, ctx.repos.messages, f.accountId, { ca: f.bed.ca });
      assert.equal(again.received, 0);
    });

    test('leave forever: nothing deleted, nothing received twice', async (t) => {
      const ctx = await contextFor(t, 'sqlite');
      if (!ctx) return;
      const f = await receiveFixture(t, ctx, { protocol, leaveOnServer: { mode: 'forever' }, encryption: protocol === 'pop3' ? 'starttls' : 'tls' });
      if (!f) return;
      for (let i = 0; i < 5; i++) await f.bed.deliver(f.user, makeMail(i));
      const a = await receiveAccount(ctx, ctx.repos.messages, f.accountId, { ca: f.bed.ca });
      await f.bed.deliver(f.user, makeMail(99));
      const b = await receiveAccount(ctx, ctx.repos.messages, f.accountId, { ca: f.bed.ca });
      assert.equal(a.received, 5);
      assert.equal(b.received, 1);
      assert.equal(b.deletedFromServer, 0);
      assert.equal(await f.bed.count(f.user), 6);
      assert.equal(await ctx.repos.messages.count(f.accountId), 6);
    });

    test('oversize mail stays on the server with a notice', async (t) => {
      const ctx = await contextFor(t, 'sqlite');
      if (!ctx) return;
      const f = await receiveFixture(t, ctx, { protocol, maxMessageBytes: 2000 });
      if (!f) return;
      await f.bed.deliver(f.user, makeMail(1));
      await f.bed.deliver(f.user, makeMail(2, 'x'.repeat(5000) + '\r\n'));
      const s = await receiveAccount(ctx, ctx.repos.messages, f.accountId, { ca: f.bed.ca });
      assert.equal(s.received, 1);
      assert.equal(s.skippedOversize, 1);
      assert.equal(await f.bed.count(f.user), 1);
      const notices = await ctx.repos.messages.notices(f.accountId);
      assert.equal(notices.length, 1);
      assert.equal(notices[0]!.subject, 'test 2');
      assert.match(notices[0]!.from ?? '', /sender2@example\.org/);
    });
  });
}
