// Crash safety of the receive run against a real Dovecot — the product's promise: a mail is
// deleted from a server only after it is durably stored, and stored once.
//   (a) the run in a child process, SIGKILLed at random points (after N mails, after a random
//       delay, during the deletions) and started again until it completes: 1,000 mails, POP3 and
//       IMAP4, policies delete and forever, SQLite (and once on PostgreSQL);
//   (b) the connection cut by a fault-injecting proxy (test/support/fault-proxy.ts) at random byte
//       offsets (server → client and client → server, FIN or RST) and at the deletion steps, until
//       a run gets through; big mails (streamed into the database) likewise; replies dripped in
//       tiny pieces;
//   (c) Dovecot itself killed and restarted mid-run (a private mailbed);
//   (e) deletions logged as pending but never sent, then a UIDVALIDITY change.
// After each: the invariants of test/support/receive-invariants.ts. Random points come from a
// seeded generator; set YUBIN_TEST_SEED to replay a failure (the seed is printed).
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { isMailError, MailError } from '../../src/protocols/mail-error.ts';
import { defaultOpener, receiveAccount, type ReceiveOptions, type ReceiveProgress } from '../../src/receive/receive-run.ts';
import type { AppContext } from '../../src/services/context.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { makeContext, type Engine } from '../support/app-context.ts';
import { startFaultProxy, type FaultPlan } from '../support/fault-proxy.ts';
import { mailbedMissing, startMailbed, testMailbed, type Mailbed } from '../support/mailbed.ts';
import { makeMail, receiveFixture } from '../support/receive-fixture.ts';
import { assertReceiveInvariants, maildirMails, resetUidValidity, sha256 } from '../support/receive-invariants.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('../support/receive-child.ts', import.meta.url));
const BASE_SEED = Number(process.env.YUBIN_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: small, seeded, good enough to pick crash points */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rngFor(t: TestContext, salt: number): { random: () => number; int: (lo: number, hi: number) => number } {
  const seed = (BASE_SEED + salt * 7919) % 2 ** 31;
  t.diagnostic(`seed ${BASE_SEED} (YUBIN_TEST_SEED=${BASE_SEED} replays it)`);
  const random = seeded(seed);
  return { random, int: (lo, hi) => lo + Math.floor(random() * (hi - lo + 1)) };
}

// ---- (a) a child process killed with SIGKILL ---------------------------------------------------

interface ChildEvent {
  event: 'ready' | 'progress' | 'done' | 'failed';
  phase?: ReceiveProgress['phase'];
  total?: number;
  done?: number;
  code?: string;
  message?: string;
  summary?: Record<string, unknown>;
}

interface ChildOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: ChildEvent[];
  stderr: string;
}

/** What a warm child is told to run: the account, and its environment ('' unsets a variable). */
interface ChildJob {
  accountId: string;
  env: Record<string, string>;
}

interface WarmChild {
  proc: ChildProcess;
  /** Start the run; `onEvent` sees every line. Resolves when the child has exited. */
  go(job: ChildJob, onEvent: (e: ChildEvent, proc: ChildProcess) => void): Promise<ChildOutcome>;
}

/**
 * Children that have loaded their modules and wait for their job on stdin: loading takes
 * seconds here (tsx's loader hooks), so one spare always warms up while the current child
 * runs — across scenarios too — and crash points are not spent waiting.
 */
class WarmChildren {
  private spare: Promise<WarmChild> | undefined;
  private readonly all = new Set<ChildProcess>();

  private spawnOne(): Promise<WarmChild> {
    const proc = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      cwd: ROOT,
      env: { ...process.env, YUBIN_RECEIVE_WAIT: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.all.add(proc);
    const events: ChildEvent[] = [];
    let stderr = '';
    let listener: ((e: ChildEvent, proc: ChildProcess) => void) | undefined;
    let onReady: (() => void) | undefined;
    let buf = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let e: ChildEvent;
        try {
          e = JSON.parse(line) as ChildEvent;
        } catch {
          stderr += `(stdout) ${line}\n`;
          continue;
        }
        if (e.event === 'ready') onReady?.();
        else {
          events.push(e);
          listener?.(e, proc);
        }
      }
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => (stderr += d));
    const exited = new Promise<ChildOutcome>((resolve) => {
      proc.on('close', (code, signal) => {
        this.all.delete(proc);
        resolve({ code, signal, events, stderr });
      });
    });
    return new Promise<WarmChild>((resolve, reject) => {
      onReady = () =>
        resolve({
          proc,
          go: (job, onEvent) => {
            listener = onEvent;
            proc.stdin!.write(JSON.stringify(job) + '\n');
            return exited;
          },
        });
      void exited.then((o) => reject(new Error(`receive child exited before it was ready (${o.code ?? o.signal}): ${o.stderr}`)));
    });
  }

  /** A ready child; the next one starts loading now. */
  async next(): Promise<WarmChild> {
    const child = await (this.spare ?? this.spawnOne());
    this.spare = this.spawnOne();
    this.spare.catch(() => undefined); // a spare that dies is reported when it is taken
    return child;
  }

  /** Start loading a child now, for a run to come. */
  warm(): void {
    this.spare ??= this.spawnOne();
    this.spare.catch(() => undefined);
  }

  /** Kill the children we started that are still alive (the unused spare). */
  async dispose(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const proc of this.all) {
      waits.push(new Promise<void>((r) => proc.once('close', () => r())));
      proc.kill('SIGKILL');
    }
    await Promise.all(waits);
  }
}

type KillPoint = { kind: 'after-mails'; fraction: number } | { kind: 'timer'; ms: number } | { kind: 'deleting'; ms: number };

function describeKill(k: KillPoint): string {
  return k.kind === 'after-mails' ? `after ${(k.fraction * 100).toFixed(0)}% of the mails` : k.kind === 'timer' ? `${k.ms} ms after start` : `${k.ms} ms into the deletions`;
}

/** Run the child once; kill it with SIGKILL at `kill` (unless it finishes first). */
async function runChild(children: WarmChildren, job: ChildJob, kill: KillPoint | undefined): Promise<ChildOutcome & { killed: boolean }> {
  const child = await children.next();
  let killed = false;
  let timer: NodeJS.Timeout | undefined;
  const doKill = (proc: ChildProcess) => {
    if (killed || proc.exitCode !== null) return;
    killed = true;
    proc.kill('SIGKILL');
  };
  if (kill?.kind === 'timer') timer = setTimeout(() => doKill(child.proc), kill.ms);
  const outcome = await child.go(job, (e, proc) => {
    if (!kill || e.event !== 'progress') return;
    if (kill.kind === 'after-mails' && e.phase === 'receiving' && (e.total ?? 0) > 0) {
      const at = Math.max(1, Math.floor(kill.fraction * e.total!));
      if ((e.done ?? 0) >= at) doKill(proc);
    } else if (kill.kind === 'deleting' && e.phase === 'deleting') {
      if (kill.ms === 0) doKill(proc);
      else timer = setTimeout(() => doKill(proc), kill.ms);
    }
  });
  clearTimeout(timer);
  return { ...outcome, killed: killed && outcome.signal === 'SIGKILL' };
}

const CRASH_MAILS = 1_000;
const CRASH_MAIL_BYTES = 2_048;
/** Attempts before the run must have completed. */
const MAX_CHILD_RUNS = 8;

/**
 * 1,000 mails; the child is killed at each of `kills` in turn (drawn at random), then run until
 * it completes. `deleting` is the deletion phase, or under 'forever' the commit (QUIT/LOGOUT).
 */
async function crashScenario(
  t: TestContext,
  children: WarmChildren,
  engine: Engine,
  protocol: 'pop3' | 'imap4',
  policy: 'delete' | 'forever',
  kills: KillPoint['kind'][],
  salt: number,
): Promise<void> {
  const bed = await testMailbed();
  if (!bed) return void t.skip('Dovecot is not installed here');
  const key = randomBytes(32);
  const ctx = await makeContext(engine, { secretKey: key });
  if (!ctx) return void t.skip(`${engine} is not installed here`);
  t.after(() => ctx.close());
  const f = await receiveFixture(t, ctx, { protocol, leaveOnServer: { mode: policy } });
  if (!f) return;
  const { int, random } = rngFor(t, salt);

  await bed.fill(f.user, CRASH_MAILS, CRASH_MAIL_BYTES);
  const expected = new Set((await maildirMails(bed, f.user)).map(sha256));
  assert.equal(expected.size, CRASH_MAILS, 'fill wrote distinct mails');

  const job: ChildJob = {
    accountId: f.accountId,
    env: { YUBIN_DATA_DIR: ctx.config.dataDir, YUBIN_SECRET_KEY: key.toString('base64'), YUBIN_DATABASE_URL: ctx.config.databaseUrl ?? '' },
  };

  const plan: KillPoint[] = kills.map((k) =>
    k === 'after-mails' ? { kind: k, fraction: 0.05 + random() * 0.9 } : k === 'timer' ? { kind: k, ms: int(50, 1500) } : { kind: k, ms: int(0, 15) },
  );
  let killed = 0;
  let completed: ChildOutcome | undefined;
  for (let run = 0; run < MAX_CHILD_RUNS && !completed; run++) {
    const kill = plan[run];
    const o = await runChild(children, job, kill);
    const last = o.events.at(-1);
    if (o.killed) {
      killed++;
      t.diagnostic(`run ${run + 1}: killed ${kill ? describeKill(kill) : ''} (last event ${JSON.stringify(last)})`);
      continue;
    }
    assert.equal(o.code, 0, `run ${run + 1} failed without being killed: ${JSON.stringify(last)} ${o.stderr}`);
    completed = o;
    t.diagnostic(`run ${run + 1}: completed ${JSON.stringify(last?.summary)}`);
  }
  assert.ok(completed, `no run completed in ${MAX_CHILD_RUNS} attempts`);
  // the first kill (after N of 1,000 mails) meets a running receive; later ones may come late
  assert.ok(killed >= 1, `none of the ${plan.length} planned kills hit a running receive`);
  const final = completed.events.at(-1)!;
  assert.deepEqual(final.summary?.errors, []);

  await assertReceiveInvariants({ ctx, accountId: f.accountId, bed, user: f.user, expected, policy });
  // and a run after that finds nothing to do
  const again = await receiveAccount(ctx, ctx.repos.messages, f.accountId);
  assert.deepEqual(
    { received: again.received, duplicates: again.duplicates, deleted: again.deletedFromServer, errors: again.errors },
    { received: 0, duplicates: 0, deleted: 0, errors: [] },
  );
}

// Fewer kills where the scenario adds less: every child spends seconds loading its modules.
describe('(a) receive run SIGKILLed at random points, restarted until it completes', () => {
  const children = new WarmChildren();
  before(() => {
    if (!mailbedMissing()) children.warm();
  });
  after(() => children.dispose());
  test('POP3, policy delete, 1,000 mails, SQLite', (t) => crashScenario(t, children, 'sqlite', 'pop3', 'delete', ['after-mails', 'timer', 'after-mails', 'deleting'], 1));
  test('IMAP4, policy delete, 1,000 mails, SQLite', (t) => crashScenario(t, children, 'sqlite', 'imap4', 'delete', ['after-mails', 'timer', 'deleting'], 2));
  test('POP3, policy forever, 1,000 mails, SQLite', (t) => crashScenario(t, children, 'sqlite', 'pop3', 'forever', ['after-mails', 'deleting'], 3));
  test('IMAP4, policy forever, 1,000 mails, SQLite', (t) => crashScenario(t, children, 'sqlite', 'imap4', 'forever', ['after-mails', 'deleting'], 4));
  test('POP3, policy delete, 1,000 mails, PostgreSQL', (t) => crashScenario(t, children, 'postgres', 'pop3', 'delete', ['after-mails', 'timer', 'deleting'], 5));
});

// ---- (b) the connection cut at random byte offsets ---------------------------------------------

const CUT_MAILS = 300; // more than one commit batch (COMMIT_BATCH_MESSAGES = 200)
const CUT_MAIL_BYTES = 1_500;
const MAX_CUT_RUNS = 12;

async function sqliteContext(t: TestContext): Promise<AppContext | undefined> {
  const ctx = await makeContext('sqlite');
  if (!ctx) return void t.skip('sqlite is not available');
  t.after(() => ctx.close());
  return ctx;
}

for (const [i, protocol] of (['pop3', 'imap4'] as const).entries()) {
  test(`(b) ${protocol}: connection cut mid-transfer at random byte offsets until a run gets through`, async (t) => {
    const ctx = await sqliteContext(t);
    if (!ctx) return;
    const f = await receiveFixture(t, ctx, { protocol });
    if (!f) return;
    const { int, random } = rngFor(t, 10 + i);
    const target = protocol === 'pop3' ? f.bed.ports.pop3 : f.bed.ports.imap;
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: target });
    t.after(() => proxy.close());
    await f.bed.fill(f.user, CUT_MAILS, CUT_MAIL_BYTES);
    const mails = await maildirMails(f.bed, f.user);
    const expected = new Set(mails.map(sha256));
    const opts: ReceiveOptions = { openMailbox: (incoming, creds, o) => defaultOpener({ ...incoming, host: proxy.host, port: proxy.port }, creds, o) };

    // mid-RETR/FETCH (server bytes), mid-command (client bytes), and at the two steps of a
    // deletion: its first command, and its commit (POP3 QUIT; IMAP UID EXPUNGE, then LOGOUT)
    const steps = protocol === 'pop3' ? { deleting: 'DELE ', commit: ['QUIT'] } : { deleting: 'STORE ', commit: ['EXPUNGE', 'LOGOUT'] };
    const kinds = ['server', 'login', 'client', 'deleting', 'server', 'commit', 'client', 'server', 'deleting', 'commit'] as const;
    let commits = 0;
    const misclassified = new Set<string>();
    const sizeOf = new Map(mails.map((m) => [sha256(m), m.length]));
    let cuts = 0;
    let ok = false;
    for (let run = 0; run < MAX_CUT_RUNS && !ok; run++) {
      const storedShas = new Set((await ctx.db.kysely.selectFrom('messages').select('sha256').where('account_id', '=', f.accountId).execute()).map((r) => r.sha256));
      const left = [...sizeOf].filter(([h]) => !storedShas.has(h));
      const leftBytes = left.reduce((n, [, size]) => n + size, 0);
      const onServer = await f.bed.count(f.user);
      const cutMode = random() < 0.5 ? ('close' as const) : ('reset' as const);
      const kind = kinds[run];
      // byte offsets are drawn below the run's estimated total, so that these runs are cut
      const plan: FaultPlan =
        kind === 'server'
          ? { cutAfterServerBytes: int(0, Math.floor(leftBytes * 0.95 + onServer * 20)), cutMode }
          : kind === 'login' // greeting, capabilities, login, select
            ? { cutAfterServerBytes: int(0, 300), cutMode: 'close' as const }
            : kind === 'client'
              ? { cutAfterClientBytes: int(0, Math.floor((protocol === 'pop3' ? (left.length + onServer) * 9 : (left.length + onServer) * 4) * 0.9 + 100)), cutMode }
              : kind === 'deleting'
                ? { cutAfterClientMatch: { match: steps.deleting, extraBytes: int(0, 200) }, cutMode }
                : kind === 'commit'
                  ? // the whole command reaches the server; the first time with a FIN, so that the server
                    // surely applies it while we never hear its answer
                    { cutAfterClientMatch: { match: steps.commit[commits++ % steps.commit.length]!, throughLineEnd: true }, cutMode: commits === 1 ? 'close' : cutMode }
                  : {};
      proxy.setPlan(plan);
      const cutsBefore = proxy.stats.cuts;
      try {
        const s = await receiveAccount(ctx, ctx.repos.messages, f.accountId, opts);
        assert.deepEqual(s.errors, []);
        ok = true;
        t.diagnostic(`run ${run + 1}: completed (${JSON.stringify(plan)}) ${JSON.stringify(s)}`);
      } catch (err) {
        assert.ok(proxy.stats.cuts > cutsBefore, `run ${run + 1} failed without a cut: ${String(err)}`);
        assert.ok(isMailError(err), `a cut connection gave a non-MailError: ${(err as Error)?.stack ?? String(err)}`);
        // a connection cut is CONNECTION_CLOSED (mail-error.ts), whatever step it hit; checked
        // after the invariants, so that a wrong code does not hide a lost or duplicated mail
        if (err.code !== 'CONNECTION_CLOSED' || err.kind !== 'transient') {
          misclassified.add(`${err.code}/${err.kind} "${err.message}" (cut ${JSON.stringify(plan)})`);
        }
        cuts++;
        t.diagnostic(`run ${run + 1}: cut (${JSON.stringify(plan)}) → ${err.code}; stored ${await ctx.repos.messages.count(f.accountId)}, on server ${await f.bed.count(f.user)}`);
      }
    }
    assert.ok(ok, 'no run got through');
    assert.ok(cuts >= 3, `only ${cuts} runs were cut`);
    await assertReceiveInvariants({ ctx, accountId: f.accountId, bed: f.bed, user: f.user, expected, policy: 'delete' });
    assert.deepEqual([...misclassified], [], 'cut connections reported with another code than CONNECTION_CLOSED');
  });
}

// A cut while a commit is slow: the pipelined replies go on arriving meanwhile, so the reply
// the cut lands in has its body stream opened — and failed — before the run asks for it. That
// stream must still fail the run (it once hung it for good: its 'error' was over before anyone
// listened). Mails ~1.5 KB; the cut is some 15 mails past the first commit batch.
test('(b) pop3: a cut while a commit is slow fails the run, and the next run gets the rest', { timeout: 60_000 }, async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  const f = await receiveFixture(t, ctx, { protocol: 'pop3' });
  if (!f) return;
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: f.bed.ports.pop3 });
  t.after(() => proxy.close());
  const n = CUT_MAILS;
  await f.bed.fill(f.user, n, CUT_MAIL_BYTES);
  const mails = await maildirMails(f.bed, f.user);
  const expected = new Set(mails.map(sha256));
  // the replies to the listing (UIDL and LIST: < 60 bytes a mail), then 215 RETR replies (a
  // status line of ~20 bytes and the body, a few lines dot-stuffed)
  const cutAt = 1_000 + n * 60 + mails.slice(0, 215).reduce((sum, m) => sum + m.length + 30, 0);
  // a FIN, not a RST: a RST makes the kernel drop what we have not read yet, and the cut would
  // land wherever the reading had got to
  proxy.setPlan((connection) => (connection === 0 ? { cutAfterServerBytes: cutAt, cutMode: 'close' } : {}));
  const messages = ctx.repos.messages;
  const slowCommits = Object.create(messages) as typeof messages;
  slowCommits.storeBatch = async (...args) => {
    await new Promise((r) => setTimeout(r, 300));
    return messages.storeBatch(...args);
  };
  const opts: ReceiveOptions = { openMailbox: (incoming, creds, o) => defaultOpener({ ...incoming, host: proxy.host, port: proxy.port }, creds, o) };
  await assert.rejects(receiveAccount(ctx, slowCommits, f.accountId, opts), (err) => isMailError(err) && err.code === 'CONNECTION_CLOSED');
  assert.equal(proxy.stats.cuts, 1);
  const storedAfterCut = await messages.count(f.accountId);
  assert.ok(storedAfterCut >= 200 && storedAfterCut < 260, `stored after the cut: ${storedAfterCut}`);
  const s = await receiveAccount(ctx, messages, f.accountId, opts);
  assert.deepEqual(s.errors, []);
  assert.equal(s.received, n - storedAfterCut);
  await assertReceiveInvariants({ ctx, accountId: f.accountId, bed: f.bed, user: f.user, expected, policy: 'delete' });
});

/** A mail of `size` bytes (CRLF lines of varied 8-bit bytes, some starting with a dot). */
function bigMail(i: number, size: number): Buffer {
  const head = Buffer.from(`From: big${i}@example.org\r\nTo: b@example.com\r\nSubject: big ${i}\r\nMessage-ID: <big${i}.${randomBytes(4).toString('hex')}@example.org>\r\n\r\n`);
  const body = Buffer.alloc(size - head.length);
  for (let k = 0; k < body.length; k++) body[k] = 0x21 + ((k * 31 + i * 17) % 0xd0);
  for (let k = 98; k + 1 < body.length; k += 100) {
    body[k] = 0x0d;
    body[k + 1] = 0x0a;
    if ((k / 100) % 13 === 0 && k + 2 < body.length) body[k + 2] = 0x2e;
  }
  body[body.length - 2] = 0x0d;
  body[body.length - 1] = 0x0a;
  return Buffer.concat([head, body]);
}

for (const [i, protocol] of (['pop3', 'imap4'] as const).entries()) {
  test(`(b) ${protocol}: big mails (streamed into the database) cut mid-transfer until a run gets through`, async (t) => {
    const ctx = await sqliteContext(t);
    if (!ctx) return;
    const f = await receiveFixture(t, ctx, { protocol });
    if (!f) return;
    const { int } = rngFor(t, 30 + i);
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: protocol === 'pop3' ? f.bed.ports.pop3 : f.bed.ports.imap });
    t.after(() => proxy.close());
    // over STREAM_TO_DATABASE_BYTES (4 MiB): staged in pieces, committed with the UID at the end
    const mails = [bigMail(1, 5_000_000), makeMail(1), bigMail(2, 4_500_000), makeMail(2), makeMail(3), bigMail(3, 6_000_000)].map((m) => Buffer.from(m));
    for (const m of mails) await f.bed.deliver(f.user, m);
    const expected = new Set(mails.map(sha256));
    const opts: ReceiveOptions = { openMailbox: (incoming, creds, o) => defaultOpener({ ...incoming, host: proxy.host, port: proxy.port }, creds, o) };
    let cuts = 0;
    let ok = false;
    for (let run = 0; run < 8 && !ok; run++) {
      const storedShas = new Set((await ctx.db.kysely.selectFrom('messages').select('sha256').where('account_id', '=', f.accountId).execute()).map((r) => r.sha256));
      const left = mails.filter((m) => !storedShas.has(sha256(m))).reduce((n, m) => n + m.length, 0);
      const plan: FaultPlan = run < 3 && left > 0 ? { cutAfterServerBytes: int(0, Math.floor(left * 0.95)), cutMode: 'reset' } : {};
      proxy.setPlan(plan);
      try {
        const s = await receiveAccount(ctx, ctx.repos.messages, f.accountId, opts);
        assert.deepEqual(s.errors, []);
        ok = true;
      } catch (err) {
        assert.ok(isMailError(err), `not a MailError: ${(err as Error)?.stack ?? String(err)}`);
        cuts++;
        const staged = await ctx.db.kysely.selectFrom('message_staging_chunks').select('seq').where('account_id', '=', f.accountId).execute();
        t.diagnostic(`run ${run + 1}: cut (${JSON.stringify(plan)}) → ${err.code}; stored ${await ctx.repos.messages.count(f.accountId)}, staged pieces left ${staged.length}`);
      }
    }
    assert.ok(ok, 'no run got through');
    assert.ok(cuts >= 1, 'no run was cut');
    await assertReceiveInvariants({ ctx, accountId: f.accountId, bed: f.bed, user: f.user, expected, policy: 'delete' });
  });
}

test('(b) POP3 and IMAP4: replies dripped in 1–7 byte pieces still give byte-exact mail', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  for (const protocol of ['pop3', 'imap4'] as const) {
    const f = await receiveFixture(t, ctx, { protocol });
    if (!f) return;
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: protocol === 'pop3' ? f.bed.ports.pop3 : f.bed.ports.imap }, { fragmentBytes: 7 });
    t.after(() => proxy.close());
    await f.bed.fill(f.user, 20, 1_200);
    const expected = new Set((await maildirMails(f.bed, f.user)).map(sha256));
    const s = await receiveAccount(ctx, ctx.repos.messages, f.accountId, {
      openMailbox: (incoming, creds, o) => defaultOpener({ ...incoming, host: proxy.host, port: proxy.port }, creds, o),
    });
    assert.equal(s.received, 20, protocol);
    await assertReceiveInvariants({ ctx, accountId: f.accountId, bed: f.bed, user: f.user, expected, policy: 'delete' });
  }
});

// ---- (c) Dovecot killed and restarted mid-run ---------------------------------------------------

/** More than two IMAP FETCH batches (IMAP_FETCH_BATCH = 200), so a restart meets a FETCH in flight. */
const RESTART_MAILS = 450;

test('(c) Dovecot killed (SIGKILL) and restarted mid-run, POP3 and IMAP4', async (t) => {
  const ctx = await sqliteContext(t);
  if (!ctx) return;
  const missing = mailbedMissing();
  if (missing) return void t.skip(missing);
  const bed: Mailbed = await startMailbed({ sinkDump: false });
  t.after(() => bed.stop());
  const { int } = rngFor(t, 20);
  const misclassified = new Set<string>();

  for (const protocol of ['pop3', 'imap4'] as const) {
    const user = `r${randomBytes(5).toString('hex')}`;
    const password = `pw-${randomBytes(6).toString('hex')}`;
    await bed.addUser(user, password);
    const server = await new MailServerService(ctx).add('test', {
      name: `restart-${user}`,
      incoming: { protocol, host: '127.0.0.1', port: protocol === 'pop3' ? bed.ports.pop3 : bed.ports.imap, encryption: 'none', apop: false, maxMessageBytes: null },
      outgoing: { host: '127.0.0.1', port: bed.ports.smtpSink, auth: { mechanism: null } },
    });
    const account = await new MailAccountService(ctx).add('test', {
      displayName: user,
      serverId: server.id,
      address: `${user}@example.com`,
      username: user,
      password,
      leaveOnServer: { mode: 'delete' },
    });
    await bed.fill(user, RESTART_MAILS, 2_048);
    const expected = new Set((await maildirMails(bed, user)).map(sha256));

    // Dovecot is killed and started again (and the run waits for that) once after a random
    // number of mails, once after the deletions were sent but before they were committed
    // (POP3: DELEs marked, no QUIT yet; IMAP4: EXPUNGE done, no LOGOUT yet); then a run finishes.
    const points: ({ at: 'receiving'; after: number } | { at: 'before-commit' })[] = [{ at: 'receiving', after: int(1, 400) }, { at: 'before-commit' }];
    let restarts = 0;
    let ok = false;
    for (let run = 0; run < 6 && !ok; run++) {
      const point = points[run];
      let restarted = false;
      const restart = async () => {
        if (restarted) return;
        restarted = true;
        restarts++;
        await bed.restartDovecot();
      };
      let handed = 0;
      const opts: ReceiveOptions = {
        openMailbox: async (incoming, creds, o) => {
          const session = await defaultOpener(incoming, creds, o);
          return {
            ...session,
            protocol: session.protocol,
            fetchMany: (msgs, onMessage, onRefused) =>
              session.fetchMany(
                msgs,
                async (m, body) => {
                  await onMessage(m, body);
                  if (point?.at === 'receiving' && ++handed >= point.after) await restart();
                },
                onRefused,
              ),
            commit: async () => {
              if (point?.at === 'before-commit') await restart();
              return session.commit();
            },
          };
        },
      };
      try {
        const s = await receiveAccount(ctx, ctx.repos.messages, account.id, opts);
        assert.deepEqual(s.errors, []);
        ok = true;
        t.diagnostic(`${protocol} run ${run + 1}: ${restarted ? 'Dovecot restarted, ' : ''}completed ${JSON.stringify(s)}`);
      } catch (err) {
        assert.ok(restarted, `run ${run + 1} failed without a restart: ${String(err)}`);
        assert.ok(isMailError(err), `Dovecot's death gave a non-MailError: ${(err as Error)?.stack ?? String(err)}`);
        if (!['CONNECTION_CLOSED', 'CONNECT_FAILED'].includes(err.code) || err.kind !== 'transient') {
          misclassified.add(`${protocol}: ${err.code}/${err.kind} "${err.message}" (${JSON.stringify(point)})`);
        }
        t.diagnostic(
          `${protocol} run ${run + 1}: Dovecot restarted (${JSON.stringify(point)}) → ${err.code}; stored ${await ctx.repos.messages.count(account.id)}, on server ${await bed.count(user)}`,
        );
      }
    }
    assert.ok(ok, `${protocol}: no run completed`);
    assert.equal(restarts, 2, `${protocol}: restarts`);
    await assertReceiveInvariants({ ctx, accountId: account.id, bed, user, expected, policy: 'delete' });
  }
  assert.deepEqual([...misclassified], [], "Dovecot's death reported with another code than CONNECTION_CLOSED / CONNECT_FAILED");
});

// ---- (e) an interrupted deletion, then new UIDs -----------------------------------------------------

for (const protocol of ['pop3', 'imap4'] as const) {
  test(`(e) ${protocol}: deletions logged but never sent, then a UIDVALIDITY change: the log does not claim them done`, async (t) => {
    const ctx = await sqliteContext(t);
    if (!ctx) return;
    const f = await receiveFixture(t, ctx, { protocol });
    if (!f) return;
    const mails = Array.from({ length: 3 }, (_, i) => makeMail(i));
    for (const m of mails) await f.bed.deliver(f.user, m);
    // the connection dies when the deletions are about to be sent (after the log's 'pending' rows)
    await assert.rejects(
      receiveAccount(ctx, ctx.repos.messages, f.accountId, {
        openMailbox: async (incoming, creds, o) => {
          const session = await defaultOpener(incoming, creds, o);
          return {
            ...session,
            protocol: session.protocol,
            delete: async () => {
              session.abort();
              throw new MailError('CONNECTION_CLOSED', 'connection lost (test)', { kind: 'transient' });
            },
          };
        },
      }),
      /connection lost/,
    );
    assert.equal(await f.bed.count(f.user), 3, 'nothing deleted');
    const pending = await ctx.repos.messages.deletionLog(f.accountId, 10);
    assert.deepEqual(pending.map((l) => l.status), ['pending', 'pending', 'pending']);

    await resetUidValidity(f.bed, f.user); // same mails, new UIDs
    const s = await receiveAccount(ctx, ctx.repos.messages, f.accountId);
    assert.deepEqual([s.received, s.duplicates, s.deletedFromServer, s.errors], [0, 3, 3, []]);
    assert.equal(await f.bed.count(f.user), 0);
    const log = await ctx.repos.messages.deletionLog(f.accountId, 10);
    const done = log.filter((l) => l.status === 'done');
    assert.equal(
      done.length,
      3,
      `${done.length} 'done' entries for 3 deleted mails: the interrupted run's entries (${pending.map((l) => l.uid).join(', ')}) were settled as done because their old UIDs are no longer listed — ${JSON.stringify(log.map((l) => [l.uid, l.status]))}`,
    );
  });
}
