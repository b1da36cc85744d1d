// Faults between workers and their servers (issue 6): two workers (two contexts on one
// PostgreSQL database, each with its receive scheduler and send worker, as two processes
// would) reach Dovecot (POP3) and an SMTP server only through the fault-injecting proxy
// (test/support/fault-proxy.ts), which delays, drips, truncates and resets connections at
// random points, a fresh choice per connection. Until everything is through:
//   - every mail is stored exactly once and deleted from the server only after that;
//   - every recipient ends 'sent' (or 'failed' with a reason) and the SMTP server got each
//     mail once.
// SMTP cuts are drawn before a mail's end of data is acknowledged: a cut between the final
// "." and the server's 250 is the one case SMTP cannot settle (the server has the mail, the
// client does not know), so it is left out rather than counted as a double.
// Failed runs and deferred recipients wait an interval / a retry delay in production; here
// that time is skipped by making them due again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeliveryService } from '../../src/send/delivery-service.ts';
import { startReceiveScheduler } from '../../src/receive/scheduler.ts';
import { startSendWorker } from '../../src/send/send-worker.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { startSmtpServer } from '../protocols/smtp/smtp-test-servers.ts';
import { addSendingAccount, cleanups, twoContexts, waitFor } from '../send/send-fixture.ts';
import { startFaultProxy, type FaultPlan } from '../support/fault-proxy.ts';
import { testMailbed } from '../support/mailbed.ts';
import { makeMail } from '../support/receive-fixture.ts';
import { assertReceiveInvariants, sha256 } from '../support/receive-invariants.ts';

const ACCOUNTS = 12;
const MAILS = 6;
const SENDS = 12;

const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const mode = () => pick(['close', 'reset'] as const);

/** POP3: anything goes — a cut anywhere is safe, nothing is deleted before it is stored. */
function pop3Plan(): FaultPlan {
  const r = Math.random();
  if (r < 0.35) return {};
  if (r < 0.5) return { delayMs: 5, fragmentBytes: 64 };
  if (r < 0.75) return { cutAfterServerBytes: Math.floor(Math.random() * 3_000), cutMode: mode() };
  return { cutAfterClientBytes: Math.floor(Math.random() * 120), cutMode: mode() };
}

/**
 * SMTP: cuts in the greeting, at RCPT TO and inside DATA (a truncated mail), delays, and
 * clean connections, in turn: a session carries many mails, so few connections are opened.
 */
function smtpPlan(n: number): FaultPlan {
  switch (n % 5) {
    case 0:
      return { cutAfterServerBytes: Math.floor(Math.random() * 40), cutMode: mode() };
    case 1:
      return { cutAfterClientMatch: { match: 'RCPT TO' }, cutMode: mode() };
    case 2:
      return { cutAfterClientMatch: { match: 'DATA\r\n', extraBytes: Math.floor(Math.random() * 200) }, cutMode: mode() };
    case 3:
      return { delayMs: 20, fragmentBytes: 16 };
    default:
      return {};
  }
}

test('random delays, truncations and resets between two workers and Dovecot/SMTP: no mail lost or doubled', async (t) => {
  const bed = await testMailbed();
  if (!bed) return void t.skip('Dovecot is not installed here');
  const push = cleanups(t);
  const pair = await twoContexts(t, 'postgres');
  if (!pair) return;
  const [a, b] = pair;

  const pop3 = await startFaultProxy({ host: '127.0.0.1', port: bed.ports.pop3 });
  pop3.setPlan(pop3Plan);
  push(() => pop3.close());
  const smtp = await startSmtpServer();
  push(() => smtp.close());
  const smtpProxy = await startFaultProxy({ host: '127.0.0.1', port: smtp.port });
  smtpProxy.setPlan(smtpPlan);
  push(() => smtpProxy.close());

  // receiving: ACCOUNTS accounts behind the POP3 proxy
  const server = await new MailServerService(a).add('test', {
    name: 'dovecot via proxy',
    incoming: { protocol: 'pop3', host: pop3.host, port: pop3.port, encryption: 'none' },
    outgoing: { host: '127.0.0.1', port: bed.ports.smtpSink, auth: { mechanism: null } },
  });
  const tag = Math.random().toString(36).slice(2, 8);
  const accounts: { id: string; user: string; expected: Set<string> }[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const user = `fp${tag}n${i}`;
    await bed.addUser(user, 'pw-fault');
    const expected = new Set<string>();
    for (let m = 0; m < MAILS; m++) {
      const raw = makeMail(i * 100 + m, `${user}\r\n${'y'.repeat(Math.floor(Math.random() * 3_000))}\r\n`);
      await bed.deliver(user, raw);
      expected.add(sha256(raw));
    }
    const acc = await new MailAccountService(a).add('test', { displayName: user, serverId: server.id, address: `${user}@example.com`, username: user, password: 'pw-fault', leaveOnServer: { mode: 'delete' } });
    accounts.push({ id: acc.id, user, expected });
  }

  // sending: SENDS single sends behind the SMTP proxy
  const sender = await addSendingAccount(a, { port: smtpProxy.port });
  await a.db.kysely.updateTable('mail_accounts').set({ enabled: 0 }).where('id', '=', sender.accountId).execute(); // sends only
  const deliveries = new DeliveryService(a);
  for (let i = 0; i < SENDS; i++) await deliveries.create('test', { accountId: sender.accountId, to: [`to${i}@example.net`], subject: `s${i}`, text: `mail ${i}` });

  // leases long enough that a stall of this busy process never lets one expire under a live run
  for (const [i, ctx] of [a, b].entries()) {
    // a holder each, as two processes would have
    const scheduler = startReceiveScheduler(ctx, { holder: `worker-${i}`, pollIntervalMs: 100, leaseTtlMs: 10_000 });
    const worker = startSendWorker(ctx, { pollIntervalMs: 100, leaseMs: 10_000 });
    push(() => Promise.all([scheduler.stop(), worker.stop()]));
  }

  const ids = accounts.map((x) => x.id);
  await waitFor(
    'every mail received and sent',
    async () => {
      // skip the waits: failed accounts and deferred recipients are due again now
      await a.db.kysely.updateTable('mail_accounts').set({ next_run_at: null }).where('id', 'in', ids).where('consecutive_failures', '>', 0).execute();
      await a.db.kysely.updateTable('delivery_recipients').set({ next_attempt_at: new Date().toISOString() }).where('status', '=', 'deferred').execute();
      const stored = Number((await a.db.kysely.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
      if (stored < ACCOUNTS * MAILS) return undefined;
      for (const x of accounts) if ((await bed.count(x.user)) > 0) return undefined;
      const open = await a.db.kysely.selectFrom('delivery_recipients').select('id').where('status', 'in', ['queued', 'sending', 'deferred']).execute();
      return open.length === 0 ? true : undefined;
    },
    90_000,
  );
  t.diagnostic(`POP3 proxy: ${pop3.stats.connections} connections, ${pop3.stats.cuts} cut; SMTP proxy: ${smtpProxy.stats.connections} connections, ${smtpProxy.stats.cuts} cut`);
  assert.ok(pop3.stats.cuts > 0 && smtpProxy.stats.cuts > 0, 'no connection was cut: the test tested nothing');

  for (const x of accounts) await assertReceiveInvariants({ ctx: a, accountId: x.id, bed, user: x.user, expected: x.expected, policy: 'delete' });

  const recipients = await a.db.kysely.selectFrom('delivery_recipients').select(['address', 'status', 'error_code', 'reply']).execute();
  assert.equal(recipients.length, SENDS);
  for (const r of recipients) {
    assert.ok(r.status === 'sent' || (r.status === 'failed' && r.error_code), `${r.address}: ${r.status} without a reason`);
    if (r.status === 'sent') assert.match(r.reply ?? '', /^2\d\d /, `${r.address}: 'sent' on the reply ${JSON.stringify(r.reply)}`);
  }
  const sent = recipients.filter((r) => r.status === 'sent').map((r) => r.address).sort();
  const got = smtp.mails.map((m) => m.to[0]!).sort();
  assert.deepEqual(got, sent, 'the SMTP server got a mail twice, or one marked sent never arrived');
});
