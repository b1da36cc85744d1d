// Scale-out (issue 6): real `yubin worker` processes (the CLI through tsx) on one private
// PostgreSQL, receiving from the suite's Dovecot and sending to in-process SMTP servers. One
// test, in phases that share the three workers (each takes seconds to load on 2 cores):
//   1. ACCOUNTS accounts × 5 mails, all due at once: the three workers split them (each
//      completes runs); one is SIGKILLed mid-cycle and started again → every mail stored
//      exactly once, every mailbox emptied (policy delete);
//   2. 5 more mails each, PostgreSQL crashed and restarted mid-cycle → still exactly once;
//   3. a bulk delivery through the three workers: the per-minute limit (a 2 s window here,
//      YUBIN_SEND_RATE_WINDOW_SECONDS) holds in every window the SMTP server sees;
//   4. SIGTERM to every worker while one receives a big mailbox (slowed by the fault proxy)
//      and bulk mail is being sent to a slow server: each exits 0 — which it does only when
//      its stop completed inside the 10 s shutdown limit (else it exits 1) — and leaves no
//      lease (receive) and no recipient in 'sending' (delivery); then the next runs continue
//      and every mail is stored and sent exactly once. The stop times are printed.
// Short knobs: lease TTL 2 s, poll 0.2 s. ACCOUNTS is the issue's 200 (the whole test ~45 s on
// a quiet 2-core machine); YUBIN_TEST_SCALE_ACCOUNTS sets another count. bench/scale.ts
// measures the cost.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { AppConfig } from '../../src/config/env.ts';
import { receiveNow } from '../../src/receive/receive-service.ts';
import { BulkDeliveryService } from '../../src/send/bulk-service.ts';
import { startSendWorker } from '../../src/send/send-worker.ts';
import { openContext, type AppContext } from '../../src/services/context.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { startSmtpServer } from '../protocols/smtp/smtp-test-servers.ts';
import { addSendingAccount, busiestWindow, waitFor } from '../send/send-fixture.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { testMailbed, type Mailbed } from '../support/mailbed.ts';
import { isCI, postgresInstalled, startPostgres } from '../support/postgres.ts';
import { makeMail } from '../support/receive-fixture.ts';
import { assertReceiveInvariants, maildirMails, sha256 } from '../support/receive-invariants.ts';
import { startWorker, type WorkerProcess } from '../support/worker-process.ts';

const ACCOUNTS = Number(process.env.YUBIN_TEST_SCALE_ACCOUNTS ?? 200);
const MAILS = 5;
const BIG_MAILS = 1_500;
const NOT_DUE = '9999-12-31T00:00:00.000Z';
const RATE_WINDOW_MS = 2_000;
const RATE_LIMIT = 4;
const BULK_MAILS = 10;
const SLOW_BULK_MAILS = 30;

interface Account {
  id: string;
  user: string;
  expected: Set<string>;
}

async function stored(ctx: AppContext): Promise<number> {
  const r = await ctx.db.kysely.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

async function makeDue(ctx: AppContext, ids: string[]): Promise<void> {
  await ctx.db.kysely.updateTable('mail_accounts').set({ next_run_at: null }).where('id', 'in', ids).execute();
}

/** Deliver `n` new mails to each account's mailbox and add them to what it must end up with. */
async function deliverRound(bed: Mailbed, accounts: Account[], n: number, round: number): Promise<void> {
  for (const a of accounts) {
    for (let i = 0; i < n; i++) {
      const raw = makeMail(round * 100 + i, `${a.user} round ${round}\r\n`);
      await bed.deliver(a.user, raw);
      a.expected.add(sha256(raw));
    }
  }
}

/**
 * Until every account has all its mails stored and its mailbox is empty. A run that failed
 * (its database connection dropped) is retried one interval later, as in production; here
 * "later" is now: failed accounts are made due again every second.
 */
async function waitAllReceived(ctx: AppContext, bed: Mailbed, accounts: Account[], what: string): Promise<void> {
  const total = accounts.reduce((n, a) => n + a.expected.size, 0);
  let nudged = Date.now();
  try {
    await waitFor(
      what,
      async () => {
        if (Date.now() - nudged > 1_000) {
          nudged = Date.now();
          await ctx.db.kysely.updateTable('mail_accounts').set({ next_run_at: null }).where('consecutive_failures', '>', 0).where('next_run_at', '<', NOT_DUE).execute();
        }
        if ((await stored(ctx)) < total) return undefined;
        for (const a of accounts) if ((await bed.count(a.user)) > 0) return undefined;
        return true;
      },
      90_000,
    );
  } catch (err) {
    const behind = [];
    for (const a of accounts) {
      const n = await ctx.repos.messages.count(a.id);
      const left = await bed.count(a.user);
      if (n < a.expected.size || left > 0) behind.push({ user: a.user, stored: n, expected: a.expected.size, left, row: await ctx.repos.accounts.getRow(a.id) });
    }
    const leases = await ctx.db.kysely.selectFrom('leases').selectAll().execute();
    throw new Error(`${(err as Error).message}: ${JSON.stringify({ now: new Date(), behind: behind.slice(0, 5), count: behind.length, leases: leases.slice(0, 5) })}`);
  }
}

async function assertExactlyOnce(ctx: AppContext, bed: Mailbed, accounts: Account[]): Promise<void> {
  for (const a of accounts) {
    await assertReceiveInvariants({ ctx, accountId: a.id, bed, user: a.user, expected: a.expected, policy: 'delete', checkBytes: false });
  }
}

async function privatePostgres(t: TestContext): Promise<Awaited<ReturnType<typeof startPostgres>> | undefined> {
  if (!postgresInstalled()) {
    if (isCI()) throw new Error('CI=true but PostgreSQL is not installed');
    t.skip('PostgreSQL is not installed here');
    return undefined;
  }
  // our own server: phase 2 crashes it, which must not touch the one other test files share
  const pg = await startPostgres({ crashSafe: true }); // restarted mid-run: commits must survive
  t.after(() => pg.stop());
  return pg;
}

test(`three yubin worker processes, ${ACCOUNTS} accounts on one Dovecot, PostgreSQL: SIGKILL, PostgreSQL restart, per-minute limit, SIGTERM`, async (t) => {
  const testStart = Date.now();
  const bed = await testMailbed();
  if (!bed) return void t.skip('Dovecot is not installed here');
  const pg = await privatePostgres(t);
  if (!pg) return;
  const dataDir = mkdtempSync(join(tmpdir(), 'yubin-scale-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const key = randomBytes(32);
  const config: AppConfig = { dataDir, databaseUrl: pg.url, secretKey: key, host: '127.0.0.1', port: 0 };
  const ctx = await openContext(config, { log: pino({ level: 'silent' }) });
  t.after(() => ctx.close());

  // ---- accounts (not due until the workers are up) ----------------------------------------
  const server = await new MailServerService(ctx).add('test', {
    name: 'dovecot',
    incoming: { protocol: 'pop3', host: '127.0.0.1', port: bed.ports.pop3, encryption: 'none' },
    outgoing: { host: '127.0.0.1', port: bed.ports.smtpSink, auth: { mechanism: null } },
  });
  const tag = randomBytes(3).toString('hex');
  const accounts: Account[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const user = `sc${tag}n${i}`;
    const password = `pw-${tag}-${i}`;
    await bed.addUser(user, password);
    const a = await new MailAccountService(ctx).add('test', { displayName: user, serverId: server.id, address: `${user}@example.com`, username: user, password, leaveOnServer: { mode: 'delete' } });
    accounts.push({ id: a.id, user, expected: new Set() });
  }
  await ctx.db.kysely.updateTable('mail_accounts').set({ next_run_at: NOT_DUE }).execute();
  const ids = accounts.map((a) => a.id);
  t.diagnostic(`setup: ${ACCOUNTS} accounts in ${Date.now() - testStart} ms`);

  // ---- three workers ----------------------------------------------------------------------
  const env = {
    YUBIN_DATA_DIR: dataDir,
    YUBIN_DATABASE_URL: pg.url,
    YUBIN_SECRET_KEY: key.toString('base64'),
    YUBIN_LEASE_TTL_SECONDS: '2',
    YUBIN_WORKER_POLL_SECONDS: '0.2',
    YUBIN_WORKER_CONCURRENCY: '4',
    YUBIN_SEND_RATE_WINDOW_SECONDS: String(RATE_WINDOW_MS / 1000),
  };
  const all: WorkerProcess[] = [];
  const spawnWorker = (name: string) => {
    const w = startWorker(name, env);
    all.push(w);
    return w;
  };
  t.after(async () => {
    for (const w of all) w.kill('SIGKILL');
    await Promise.all(all.map((w) => w.exited));
    // YUBIN_TEST_SCALE_LOGS=DIR keeps each worker's log lines for a post-mortem
    const logDir = process.env.YUBIN_TEST_SCALE_LOGS;
    if (logDir) for (const w of all) writeFileSync(join(logDir, `${w.name}.log`), w.logs.map((l) => JSON.stringify(l)).join('\n'));
  });
  const workers = [spawnWorker('w1'), spawnWorker('w2'), spawnWorker('w3')];
  const spawnAt = Date.now();
  await Promise.all(workers.map((w) => w.ready));
  t.diagnostic(`three workers ready in ${Date.now() - spawnAt} ms`);

  // ---- 1: one cycle, one worker SIGKILLed mid-cycle and started again --------------------
  await deliverRound(bed, accounts, MAILS, 1);
  const cycle1 = Date.now();
  await makeDue(ctx, ids);
  const total1 = ACCOUNTS * MAILS;
  await waitFor('30 % of the first cycle', async () => ((await stored(ctx)) >= total1 * 0.3 ? true : undefined), 60_000);
  workers[0]!.kill('SIGKILL');
  assert.equal((await workers[0]!.exited).signal, 'SIGKILL');
  t.diagnostic(`phase 1: w1 SIGKILLed with ${await stored(ctx)} of ${total1} mails stored`);
  workers[0] = spawnWorker('w1-again');
  await waitAllReceived(ctx, bed, accounts, 'the first cycle');
  t.diagnostic(`phase 1: ${ACCOUNTS} accounts × ${MAILS} mails received in ${Date.now() - cycle1} ms (one worker killed and restarted)`);
  await assertExactlyOnce(ctx, bed, accounts);
  await workers[0]!.ready; // the restarted worker too takes part from here on
  // the three original workers split the accounts (each completed runs)
  for (const w of all.slice(0, 3)) assert.ok(w.receivedAccounts().size > 0, `${w.name} completed no receive run`);
  t.diagnostic(`runs completed: ${all.map((w) => `${w.name} ${w.receivedAccounts().size}`).join(', ')}`);

  // ---- 2: PostgreSQL crashed and restarted mid-cycle -------------------------------------
  await deliverRound(bed, accounts, MAILS, 2);
  await makeDue(ctx, ids);
  const total2 = ACCOUNTS * MAILS * 2;
  await waitFor('30 % of the second cycle', async () => ((await stored(ctx)) >= total1 + (total2 - total1) * 0.3 ? true : undefined), 60_000);
  await pg.restart();
  const restartedAt = Date.now();
  t.diagnostic(`phase 2: PostgreSQL restarted with ${await stored(ctx)} of ${total2} mails stored`);
  await waitAllReceived(ctx, bed, accounts, 'the second cycle');
  t.diagnostic(`phase 2: the cycle completed ${Date.now() - restartedAt} ms after the restart`);
  await assertExactlyOnce(ctx, bed, accounts);
  for (const w of workers) assert.equal(w.proc.exitCode, null, `${w.name} died when PostgreSQL restarted`);

  const phase3 = Date.now();
  // ---- 3: bulk delivery through three workers, per-minute limit ---------------------------
  const starts: number[] = [];
  const smtp = await startSmtpServer({
    onMailFrom(_a, _s, cb) {
      starts.push(Date.now());
      cb();
    },
  });
  t.after(() => smtp.close());
  const sender = await addSendingAccount(ctx, { port: smtp.port, perMinuteLimit: RATE_LIMIT });
  await ctx.db.kysely.updateTable('mail_accounts').set({ next_run_at: NOT_DUE }).where('id', '=', sender.accountId).execute(); // sends only
  const bulk = new BulkDeliveryService(ctx);
  // Which worker takes a window's slots is a race; under CI's load one worker once won all
  // three windows of a delivery, and then the limit was not shown to hold *across* workers. So
  // a delivery sent by one worker alone is followed by another (at most three), each asserted
  // in full; the limit is checked over all of them, which share the server's windows.
  const holders = new Set<string>();
  let since = '';
  for (let attempt = 1; attempt <= 3 && holders.size < 2; attempt++) {
    const before = smtp.mails.length;
    const csv = ['email', ...Array.from({ length: BULK_MAILS }, (_, i) => `a${attempt}r${i}@example.net`)].join('\n');
    const { id: bulkId } = await bulk.create('test', { accountId: sender.accountId, subject: 's', text: 'x', recipientsCsv: csv });
    const done = await waitFor('the bulk delivery', async () => {
      const s = await bulk.get(bulkId);
      return s.status === 'done' ? s : undefined;
    }, 60_000);
    assert.deepEqual([done.sent, done.failed], [BULK_MAILS, 0]);
    const mails = smtp.mails.slice(before);
    assert.equal(new Set(mails.map((m) => m.to[0])).size, BULK_MAILS);
    assert.equal(mails.length, BULK_MAILS, 'a recipient got the mail twice');
    assert.ok(busiestWindow(starts, RATE_WINDOW_MS) <= RATE_LIMIT, `more than ${RATE_LIMIT} MAIL FROMs in a ${RATE_WINDOW_MS} ms window: ${starts.map((s) => s - starts[0]!).join(', ')}`);
    // the ledger agrees: slots span the window plus the 1 s margin (defaultRateMarginMs)
    const slots = await ctx.repos.deliveries.slotTimes(sender.serverId, since);
    assert.equal(slots.length, BULK_MAILS);
    since = slots.at(-1)!.startedAt;
    assert.ok(busiestWindow((await ctx.repos.deliveries.slotTimes(sender.serverId)).map((s) => Date.parse(s.startedAt)), RATE_WINDOW_MS + 1_000) <= RATE_LIMIT);
    holders.clear();
    for (const s of slots) holders.add(s.holder);
    t.diagnostic(`phase 3, delivery ${attempt}: ${BULK_MAILS} bulk mails, busiest ${RATE_WINDOW_MS} ms window ${busiestWindow(starts, RATE_WINDOW_MS)}, sent by ${holders.size} workers`);
  }
  assert.ok(holders.size >= 2, `one worker sent the whole bulk delivery three times (${[...holders].join(', ')})`);

  t.diagnostic(`phase 3 took ${Date.now() - phase3} ms`);
  const phase4 = Date.now();
  // ---- 4: SIGTERM while receiving a big mailbox and sending -------------------------------
  // 50 ms per chunk from Dovecot (~25 chunks of up to 64 KiB): the mailbox takes over a second,
  // so the SIGTERM below lands inside it even when the test's poll comes late (with 10 ms, CI
  // once saw all 1,500 mails stored before the first poll noticed any)
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: bed.ports.pop3 }, { delayMs: 50 });
  t.after(() => proxy.close());
  const slowServer = await new MailServerService(ctx).add('test', {
    name: 'dovecot, slowed',
    incoming: { protocol: 'pop3', host: proxy.host, port: proxy.port, encryption: 'none' },
    outgoing: { host: '127.0.0.1', port: bed.ports.smtpSink, auth: { mechanism: null } },
  });
  const bigUser = `sc${tag}big`;
  await bed.addUser(bigUser, 'pw-big');
  await bed.fill(bigUser, BIG_MAILS, 1_024);
  const big: Account = { id: '', user: bigUser, expected: new Set((await maildirMails(bed, bigUser)).map(sha256)) };
  const bigAccount = await new MailAccountService(ctx).add('test', {
    displayName: 'big',
    serverId: slowServer.id,
    address: `${bigUser}@example.com`,
    username: bigUser,
    password: 'pw-big',
    leaveOnServer: { mode: 'delete' },
  });
  big.id = bigAccount.id;
  // not due until the slow bulk delivery is under way: the mailbox must still be in transfer
  // when the SIGTERM comes, whichever of the two starts first
  await ctx.db.kysely.updateTable('mail_accounts').set({ next_run_at: NOT_DUE }).where('id', '=', big.id).execute();
  const slowSmtp = await startSmtpServer({ onMailFrom: (_a, _s, cb) => void setTimeout(cb, 100) });
  t.after(() => slowSmtp.close());
  const slowSender = await addSendingAccount(ctx, { port: slowSmtp.port });
  await ctx.db.kysely.updateTable('mail_accounts').set({ next_run_at: NOT_DUE }).where('id', '=', slowSender.accountId).execute();
  const slowCsv = ['email', ...Array.from({ length: SLOW_BULK_MAILS }, (_, i) => `slow${i}@example.net`)].join('\n');
  const { id: slowBulkId } = await bulk.create('test', { accountId: slowSender.accountId, subject: 's', text: 'x', recipientsCsv: slowCsv });
  await waitFor('the slow bulk delivery under way', async () => (slowSmtp.mails.length > 0 ? true : undefined), 60_000);
  await ctx.db.kysely.updateTable('mail_accounts').set({ next_run_at: null }).where('id', '=', big.id).execute();
  await waitFor(
    'the big mailbox and the slow bulk delivery under way',
    async () => {
      const n = Number((await ctx.db.kysely.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('account_id', '=', big.id).executeTakeFirstOrThrow()).n);
      return n > 0 && slowSmtp.mails.length > 0 ? true : undefined;
    },
    60_000,
  );
  const termAt = Date.now();
  for (const w of workers) w.kill('SIGTERM');
  const exits = await Promise.all(workers.map(async (w) => ({ name: w.name, ...(await w.exited), ms: Date.now() - termAt })));
  t.diagnostic(`phase 4: SIGTERM → exit: ${exits.map((e) => `${e.name} ${e.ms} ms (code ${e.code})`).join(', ')}`);
  // exit code 0 = the stop finished inside SHUTDOWN_TIMEOUT (10 s); past it a worker exits 1
  assert.deepEqual(exits.map((e) => e.code), [0, 0, 0]);
  const leases = await ctx.db.kysely.selectFrom('leases').selectAll().execute();
  assert.deepEqual(leases, [], 'receive leases left behind by a stopped worker');
  const sending = await ctx.db.kysely.selectFrom('delivery_recipients').select(['address', 'lease_holder']).where((eb) => eb.or([eb('status', '=', 'sending'), eb('lease_holder', 'is not', null)])).execute();
  assert.deepEqual(sending, [], 'delivery leases left behind by a stopped worker');
  const bigStored = await ctx.repos.messages.count(big.id);
  const slowSent = slowSmtp.mails.length;
  t.diagnostic(`phase 4: at the stop ${bigStored} of ${BIG_MAILS} big-mailbox mails stored, ${slowSent} of ${SLOW_BULK_MAILS} slow bulk mails sent`);
  assert.ok(bigStored < BIG_MAILS, 'the big mailbox was done before the SIGTERM: nothing was interrupted');
  assert.ok(slowSent < SLOW_BULK_MAILS, 'the slow bulk delivery was done before the SIGTERM');
  const row = await ctx.repos.accounts.getRow(big.id);
  assert.ok(row?.next_run_at && Date.parse(row.next_run_at) <= Date.now(), 'the interrupted account is handed back due at once');

  // the next runs continue: every mail exactly once
  proxy.setPlan({});
  for (let run = 0; run < 5; run++) if (!(await receiveNow(ctx, big.id)).hasMore) break;
  await assertReceiveInvariants({ ctx, accountId: big.id, bed, user: bigUser, expected: big.expected, policy: 'delete', checkBytes: false });
  const finisher = startSendWorker(ctx, { pollIntervalMs: 50 });
  try {
    await waitFor('the slow bulk delivery', async () => ((await bulk.get(slowBulkId)).status === 'done' ? true : undefined), 60_000);
  } finally {
    await finisher.stop();
  }
  assert.equal(slowSmtp.mails.length, SLOW_BULK_MAILS);
  assert.equal(new Set(slowSmtp.mails.map((m) => m.to[0])).size, SLOW_BULK_MAILS, 'a slow bulk recipient got the mail twice');
  t.diagnostic(`phase 4 took ${Date.now() - phase4} ms; whole test ${Date.now() - testStart} ms`);
});
