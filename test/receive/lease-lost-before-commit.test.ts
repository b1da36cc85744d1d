// A run whose lease was taken over by another worker (this one stalled past the TTL) must not
// apply its deletions: POP3 deletes at QUIT (commit), so the lease is checked right before it.
import { Readable } from 'node:stream';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReceiveOptions } from '../../src/receive/receive-run.ts';
import { receiveLeaseName, receiveNow } from '../../src/receive/receive-service.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { contextFor, ENGINES, type Engine } from '../support/app-context.ts';

const mail = (i: number) => Buffer.from(`From: a@example.org\r\nSubject: m${i}\r\nMessage-ID: <m${i}@example.org>\r\n\r\nbody ${i}\r\n`);

async function setup(t: import('node:test').TestContext, engine: Engine, steal: 'fetch' | 'delete') {
  const ctx = await contextFor(t, engine);
  if (!ctx) return undefined;
  const server = await new MailServerService(ctx).add('test', {
    name: 'fake',
    incoming: { protocol: 'pop3', host: '127.0.0.1', port: 1110, encryption: 'none', apop: false, maxMessageBytes: null },
    outgoing: { host: '127.0.0.1', port: 1025, auth: { mechanism: null } },
  });
  const account = await new MailAccountService(ctx).add('test', { displayName: 'x', serverId: server.id, address: 'x@example.com', username: 'x', password: 'pw', leaveOnServer: { mode: 'delete' } });
  const calls: string[] = [];
  const remote = [1, 2].map((i) => ({ uid: `u${i}`, size: mail(i).length, ref: i }));
  const openMailbox: ReceiveOptions['openMailbox'] = async () => ({
    protocol: 'pop3',
    list: async () => remote,
    headers: async () => Buffer.alloc(0),
    fetchMany: async (msgs, onMessage) => {
      for (const m of msgs) await onMessage(m, Readable.from([mail(m.ref)]));
      if (steal === 'fetch') await takeOver();
    },
    delete: async () => {
      calls.push('delete');
      if (steal === 'delete') {
        await takeOver();
        await new Promise((r) => setTimeout(r, 150));
      }
    },
    commit: async () => void calls.push('commit'),
    abort: () => void calls.push('abort'),
  });
  // this process stalled past the TTL and another worker took the account meanwhile
  const takeOver = () =>
    ctx.db.kysely.updateTable('leases').set({ holder: 'other-worker', expires_at: new Date(Date.now() + 60_000).toISOString() }).where('name', '=', receiveLeaseName(account.id)).execute();
  return { ctx, account, calls, openMailbox };
}

for (const engine of ENGINES) {
  test(`${engine}: a lease taken over while the run deletes: the deletions are not committed (no POP3 QUIT)`, async (t) => {
    const s = await setup(t, engine, 'delete');
    if (!s) return;
    const { ctx, account, calls, openMailbox } = s;
    const summary = await receiveNow(ctx, account.id, { openMailbox, leaseTtlMs: 200 });
    assert.equal(summary.received, 2, 'the mails are stored');
    assert.ok(!calls.includes('commit'), `deletions committed (QUIT) by a run that had lost its lease: ${calls.join(', ')}`);
    assert.equal(summary.deletedFromServer, 0);
  });

  test(`${engine}: a lease taken over before the deletions, before any heartbeat noticed: nothing is deleted`, async (t) => {
    const s = await setup(t, engine, 'fetch');
    if (!s) return;
    const { ctx, account, calls, openMailbox } = s;
    // a long TTL: no heartbeat runs during this short run, only the check before deleting can tell
    const summary = await receiveNow(ctx, account.id, { openMailbox, leaseTtlMs: 60_000 });
    assert.equal(summary.received, 2, 'the mails are stored');
    assert.deepEqual(calls, ['abort'], 'the run deleted although another worker holds the account');
    assert.equal(summary.deletedFromServer, 0);
    assert.equal(summary.hasMore, true);
    assert.equal((await ctx.repos.leases.holderOf(`receive:${account.id}`))?.holder, 'other-worker', 'the new holder keeps its lease');
  });
}
