// Sending benchmark: Yubin's send worker against Postfix's smtp-source, both sending to
// Postfix's smtp-sink on loopback, with the same number of parallel SMTP sessions.
//
//   smtp-source -d -s S -m N -l 10240    N mails of 10 KB over S sessions, connections reused
//   smtp-source    -s S -m N -l 10240    the same, a new connection per mail
//   Yubin                                 a bulk delivery of N rows (CSV → ~10 KB mails), sent
//                                         by one worker with S sessions; the clock stops when
//                                         every recipient's status is committed (SQLite)
//
//   SmtpSession alone                     the protocol layer without Yubin: the same mails
//                                         composed beforehand, no database
//   Yubin, warm                           the same bulk delivery again, the third in this
//                                         process (--warm 2): the steady state of a worker
//                                         that has been sending for a while (its send path
//                                         JIT-compiled), next to the first, cold one
//
// Prints mails/s and Yubin ÷ smtp-source (the connection-reusing one, like Yubin). Asserts
// nothing; the numbers depend on the machine. Needs /usr/sbin/smtp-sink and smtp-source
// (Debian package postfix).
// Yubin runs from dist/ (tsc's per-file build of the code `yubin worker` runs bundled from
// dist/yubin/; `npm run bench:send` builds both first), or from src/ through tsx with --from src.
// Run: npm run bench:send [-- --count 10000 --sessions 1,8 [--postgres URL] [--no-rate] [--no-peers] [--profile FILE] [--warm 2] [--repeat 1] [--from dist|src]]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import inspector from 'node:inspector/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { ComposedMail } from '../src/mail/compose.ts';
import type { AppContext } from '../src/services/context.ts';

const SMTP_SINK = '/usr/sbin/smtp-sink';
const SMTP_SOURCE = '/usr/sbin/smtp-source';
const MAIL_BYTES = 10 * 1024;

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    sessions: { type: 'string', default: '1,8' },
    postgres: { type: 'string' },
    'rate-window': { type: 'string', default: '2000' },
    'rate-limit': { type: 'string', default: '40' },
    'rate-mails': { type: 'string', default: '400' },
    'no-rate': { type: 'boolean', default: false },
    'no-throughput': { type: 'boolean', default: false },
    // Yubin alone, e.g. under --cpu-prof
    'no-peers': { type: 'boolean', default: false },
    // a CPU profile of Yubin's send phase only (not the setup): FILE.SESSIONS.runN.cpuprofile
    profile: { type: 'string' },
    // after the first bulk delivery, this many more in the same process; the last is reported
    // as "warm" (a long-running worker's JIT-compiled steady state); 0 for none
    warm: { type: 'string', default: '2' },
    // internal: smtp-sink's pid, for the CPU it used during a child's run
    'sink-pid': { type: 'string' },
    // internal: run only Yubin's bulk deliveries for one session count against this port,
    // print them as JSON (each session count gets a fresh process, so that its first bulk
    // delivery is really the first)
    child: { type: 'string' },
    // run the whole comparison this many times per session count and add the median ratios
    repeat: { type: 'string', default: '1' },
    // Yubin's code as `npm run build` compiles it (dist/; `yubin worker` runs the same code bundled), or src/
    // through tsx, which wraps functions (esbuild's keepNames) and so measures a little slower
    from: { type: 'string', default: 'dist' },
  },
});
const COUNT = Number(values.count);
const SESSIONS = values.sessions.split(',').map(Number);
if (values.from !== 'dist' && values.from !== 'src') throw new Error('--from is dist or src');

/** Yubin's modules, from dist/ (run `npm run build` first) or from src/. */
async function load(path: string): Promise<unknown> {
  const url = new URL(values.from === 'dist' ? `../dist/${path}.js` : `../src/${path}.ts`, import.meta.url);
  if (values.from === 'dist' && !existsSync(url)) throw new Error(`${fileURLToPath(url)} is missing: run npm run build first`);
  return import(url.href);
}
const { composeMail } = (await load('mail/compose')) as typeof import('../src/mail/compose.ts');
const { SmtpSession } = (await load('protocols/smtp/smtp-client')) as typeof import('../src/protocols/smtp/smtp-client.ts');
const { BulkDeliveryService } = (await load('send/bulk-service')) as typeof import('../src/send/bulk-service.ts');
const { startSendWorker } = (await load('send/send-worker')) as typeof import('../src/send/send-worker.ts');
const { openContext } = (await load('services/context')) as typeof import('../src/services/context.ts');
const { MailAccountService } = (await load('services/mail-accounts')) as typeof import('../src/services/mail-accounts.ts');
const { MailServerService } = (await load('services/mail-servers')) as typeof import('../src/services/mail-servers.ts');

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

function startSink(port: number): ChildProcess {
  const args = ['-h', 'bench.sink', `127.0.0.1:${port}`, '256'];
  if (process.getuid?.() === 0) args.unshift('-u', 'nobody');
  return spawn(SMTP_SINK, args, { stdio: 'ignore' });
}

/** smtp-source's mails/s. */
function smtpSource(port: number, sessions: number, reuse: boolean): number {
  const args = [...(reuse ? ['-d'] : []), '-s', String(sessions), '-m', String(COUNT), '-l', String(MAIL_BYTES), '-f', 'bench@example.com', '-t', 'rcpt@example.net', `127.0.0.1:${port}`];
  const t0 = performance.now();
  const r = spawnSync(SMTP_SOURCE, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`smtp-source failed: ${r.stderr?.toString()}`);
  return COUNT / seconds;
}

/** ~10 KB of text: plain ASCII lines, like smtp-source's, with the row's merge fields. */
function bodyTemplate(): string {
  // lines under 76 characters: plain 7bit, as smtp-source sends (longer ones would be quoted-printable)
  const line = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\n';
  return `Dear {{name}},\n\n${line.repeat(Math.floor((MAIL_BYTES - 200) / line.length))}\nCustomer number {{number}}\n`;
}

/**
 * The ceiling under Yubin: SmtpSession (nodemailer's SMTPConnection) alone, the same mails
 * composed beforehand, no database — what the protocol layer can do in one Node.js thread.
 */
async function sessionsOnly(port: number, sessions: number): Promise<number> {
  const mails: ComposedMail[] = [];
  for (let i = 0; i < 100; i++) {
    mails.push(await composeMail({ from: { name: 'Bench', address: 'bench@example.com' }, to: [`rcpt${i}@example.net`], subject: `Notice for Customer ${i}`, text: bodyTemplate() }));
  }
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: sessions }, async () => {
      const session = new SmtpSession({ host: '127.0.0.1', port, encryption: 'none', auth: null, maxMessageBytes: null });
      while (next < COUNT) {
        const m = mails[next++ % mails.length]!;
        await session.send(m.envelope, m.raw);
      }
      await session.quit();
    }),
  );
  return COUNT / ((performance.now() - t0) / 1000);
}

async function yubin(port: number, sessions: number): Promise<{ mailsPerSecond: number; createSeconds: number; bytes: number; cpuMicrosPerMail: number; threads: { main: number; others: number; sink: number }; busy: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'yubin-bench-send-'));
  const ctx = await openContext({ dataDir, databaseUrl: values.postgres, secretKey: randomBytes(32), host: '127.0.0.1', port: 0 }, { log: pino({ level: 'silent' }), backgroundCheckpoint: true });
  try {
    const t0 = performance.now();
    const { bulkId: id } = await setupBulk(ctx, port, null, COUNT);
    const bulk = new BulkDeliveryService(ctx);
    const createSeconds = (performance.now() - t0) / 1000;

    const profiler = values.profile ? await startProfile() : undefined;
    const t1 = performance.now();
    // CPU time of this process (all its threads) per mail: steadier than mails/s on a shared
    // machine, where the wall clock also measures the neighbours
    const cpu0 = process.cpuUsage();
    const th0 = threadCpu(Number(values['sink-pid'] ?? 0));
    const elu0 = performance.eventLoopUtilization();
    const worker = startSendWorker(ctx, { sessions });
    // an index lookup, cheap enough not to slow the worker it watches
    while (await ctx.repos.deliveries.hasPending(id)) await new Promise((r) => setTimeout(r, 20));
    const seconds = (performance.now() - t1) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const busy = performance.eventLoopUtilization(elu0).utilization;
    const th = threadCpu(Number(values['sink-pid'] ?? 0));
    const split = { main: (th.main - th0.main) / COUNT, others: (th.others - th0.others) / COUNT, sink: (th.sink - th0.sink) / COUNT };
    await worker.stop();
    if (profiler) await profiler(`${values.profile}.${sessions}.run${++profiled}.cpuprofile`);
    const status = await bulk.get(id);
    if (status.sent !== COUNT) throw new Error(`sent ${status.sent} of ${COUNT} (failed ${status.failed})`);
    const sample = (await bulk.recipients(id, { limit: 1 })).items[0]!;
    const raw = await ctx.repos.deliveries.raw(sample.deliveryId);
    return { mailsPerSecond: COUNT / seconds, createSeconds, bytes: raw?.length ?? 0, cpuMicrosPerMail: (cpu.user + cpu.system) / COUNT, threads: split, busy };
  } finally {
    await ctx.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * CPU time in µs (Linux: /proc, 10 ms ticks) of this process's main thread, of its other
 * threads (V8's compiler and GC helpers, the SQLite checkpoint thread, libuv's pool) and of
 * smtp-sink: shows where a fresh process's first delivery spends what a warm one does not.
 * Zeros where /proc cannot be read.
 */
function threadCpu(sinkPid: number): { main: number; others: number; sink: number } {
  const ticks = (pid: number, tid?: number): number => {
    try {
      const line = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = line.slice(line.lastIndexOf(')') + 2).split(' ');
      return Number(f[11]) + Number(f[12]); // utime + stime (all threads in /proc/PID/stat)
    } catch {
      return 0;
    }
  };
  const all = ticks(process.pid);
  const main = ticks(process.pid, process.pid);
  return { main: main * 10_000, others: (all - main) * 10_000, sink: sinkPid ? ticks(sinkPid) * 10_000 : 0 };
}

type YubinRun = Awaited<ReturnType<typeof yubin>>;

function cpuSplit(r: YubinRun): string {
  const t = r.threads;
  return t.main ? ` (main thread ${t.main.toFixed(0)}, other threads ${t.others.toFixed(0)}; smtp-sink ${t.sink.toFixed(0)}); event loop busy ${(r.busy * 100).toFixed(0)} %` : '';
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
let profiled = 0;

/** Yubin's bulk deliveries for one session count in a fresh process: the first, then `warm` more. */
function yubinInChild(port: number, sessions: number, warm: number, sinkPid: number | undefined): YubinRun[] {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), '--child', String(port), '--sessions', String(sessions), '--count', String(COUNT), '--warm', String(warm), '--from', values.from];
  if (sinkPid) args.push('--sink-pid', String(sinkPid));
  if (values.postgres) args.push('--postgres', values.postgres);
  if (values.profile) args.push('--profile', values.profile);
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`the Yubin run with ${sessions} sessions failed (exit ${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as YubinRun[];
}

async function child(port: number): Promise<void> {
  const runs: YubinRun[] = [];
  for (let k = 0; k <= Number(values.warm); k++) runs.push(await yubin(port, SESSIONS[0]!));
  console.log(JSON.stringify(runs));
}

/** Start the V8 CPU profiler; the returned function stops it and writes the profile. */
async function startProfile(): Promise<(file: string) => Promise<void>> {
  const session = new inspector.Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async (file) => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    console.log(`CPU profile of the send phase: ${file}`);
  };
}

async function setupBulk(ctx: AppContext, port: number, perMinuteLimit: number | null, count: number): Promise<{ bulkId: string; serverId: string }> {
  const server = await new MailServerService(ctx).add('bench', {
    name: `smtp-sink ${port} ${Date.now()} ${Math.random()}`,
    incoming: { protocol: 'pop3', host: '127.0.0.1', port: 110, encryption: 'none' },
    outgoing: { host: '127.0.0.1', port, encryption: 'none', auth: { mechanism: null }, maxMessageBytes: null, perMinuteLimit },
  });
  const account = await new MailAccountService(ctx).add('bench', {
    displayName: 'Bench',
    serverId: server.id,
    address: `bench.${Date.now()}.${Math.floor(Math.random() * 1e6)}@example.com`,
    fromName: 'Bench',
    username: 'bench',
    password: 'bench',
  });
  const csv = ['email,name,number', ...Array.from({ length: count }, (_, i) => `rcpt${i}@example.net,Customer ${i},${100000 + i}`)].join('\r\n');
  const { id } = await new BulkDeliveryService(ctx).create('bench', { accountId: account.id, subject: 'Notice for {{name}}', text: bodyTemplate(), recipientsCsv: csv });
  return { bulkId: id, serverId: server.id };
}

/**
 * The per-minute limit with a short window (the worker's rateWindowMs knob): two workers on
 * two connections to one database send one bulk delivery; prints the most starts in any
 * window (must not exceed the limit) and the steady rate as a share of the limit (slots after
 * the first window, from the database).
 */
async function rateLimit(port: number): Promise<void> {
  const windowMs = Number(values['rate-window']);
  const limit = Number(values['rate-limit']);
  const count = Number(values['rate-mails']);
  const dataDir = mkdtempSync(join(tmpdir(), 'yubin-bench-rate-'));
  const config = { dataDir, databaseUrl: values.postgres, secretKey: randomBytes(32), host: '127.0.0.1', port: 0 };
  const a = await openContext(config, { log: pino({ level: 'silent' }) });
  const b = await openContext(config, { log: pino({ level: 'silent' }) });
  try {
    const { bulkId, serverId } = await setupBulk(a, port, limit, count);
    const opts = { sessions: 2, pollIntervalMs: 50, rateWindowMs: windowMs };
    const workers = [startSendWorker(a, opts), startSendWorker(b, opts)];
    while (await a.repos.deliveries.hasPending(bulkId)) await new Promise((r) => setTimeout(r, 50));
    await Promise.all(workers.map((w) => w.stop()));
    const slots = (await a.repos.deliveries.slotTimes(serverId)).map((x) => Date.parse(x.startedAt));
    let most = 0;
    for (let i = 0, j = 0; i < slots.length; i++) {
      while (slots[i]! - slots[j]! >= windowMs) j++;
      most = Math.max(most, i - j + 1);
    }
    // the limit allows start i + limit one window after start i at the earliest: the mean
    // of those gaps against the window is the share of the limit reached
    let gaps = 0;
    for (let i = 0; i + limit < slots.length; i++) gaps += slots[i + limit]! - slots[i]!;
    const meanGap = gaps / (slots.length - limit);
    const share = ((windowMs / meanGap) * 100).toFixed(1);
    console.log(`\nper-minute limit, window shortened to ${windowMs} ms: limit ${limit}, ${count} mails, 2 workers × 2 sessions`);
    console.log(
      `| most starts in any ${windowMs} ms window | mean time from a start to the start ${limit} later | share of the limit reached |\n|---|---|---|\n| ${most} (limit ${limit}) | ${meanGap.toFixed(0)} ms | ${share} % |`,
    );
  } finally {
    await a.close();
    await b.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  for (const bin of [SMTP_SINK, SMTP_SOURCE]) if (!existsSync(bin)) throw new Error(`${bin} is missing (apt-get install postfix)`);
  const port = await freePort();
  const sink = startSink(port);
  try {
    await waitForPort(port);
    if (!values['no-throughput']) {
      console.log(`${COUNT} mails of ~${MAIL_BYTES / 1024} KB to smtp-sink on 127.0.0.1:${port} (${values.postgres ? 'PostgreSQL' : 'SQLite'})\n`);
      const warm = Number(values.warm);
      const rows: string[][] = [
        ['sessions', 'smtp-source -d', 'smtp-source (new conn.)', 'SmtpSession alone (pre-composed, no DB)', 'Yubin', 'Yubin ÷ smtp-source -d', ...(warm > 0 ? [`Yubin, warm (run ${warm + 1})`, 'warm ÷ smtp-source -d'] : [])],
      ];
      const repeat = Math.max(1, Number(values.repeat));
      for (const s of SESSIONS) {
        const first: number[] = [];
        const warmed: number[] = [];
        for (let k = 1; k <= repeat; k++) {
          const peers = !values['no-peers'];
          const reuse = peers ? smtpSource(port, s, true) : NaN;
          const fresh = peers ? smtpSource(port, s, false) : NaN;
          const bare = peers ? await sessionsOnly(port, s) : NaN;
          const [y, ...more] = yubinInChild(port, s, warm, sink.pid);
          console.log(`sessions ${s}: mail ${y!.bytes} bytes; server, account and bulk delivery set up in ${y!.createSeconds.toFixed(2)} s; Yubin used ${y!.cpuMicrosPerMail.toFixed(0)} µs of CPU per mail${cpuSplit(y!)}`);
          const label = repeat > 1 ? `${s} (${k}/${repeat})` : String(s);
          const row = [label, reuse.toFixed(0), fresh.toFixed(0), bare.toFixed(0), y!.mailsPerSecond.toFixed(0), (y!.mailsPerSecond / reuse).toFixed(2)];
          first.push(y!.mailsPerSecond / reuse);
          const w = more.at(-1);
          if (w) {
            console.log(`sessions ${s}, warm (bulk delivery ${more.length + 1} in its process): Yubin used ${w.cpuMicrosPerMail.toFixed(0)} µs of CPU per mail${cpuSplit(w)}`);
            row.push(w.mailsPerSecond.toFixed(0), (w.mailsPerSecond / reuse).toFixed(2));
            warmed.push(w.mailsPerSecond / reuse);
          }
          rows.push(row);
        }
        // each repetition pairs Yubin with the smtp-source run just before it: on a shared
        // machine the median of those ratios is steadier than any one of them
        if (repeat > 1) rows.push([`${s}, median`, '', '', '', '', median(first).toFixed(2), ...(warmed.length ? ['', median(warmed).toFixed(2)] : [])]);
      }
      console.log('\n' + rows.map((r) => `| ${r.join(' | ')} |`).join('\n').replace(/\n/, `\n|${rows[0]!.map(() => '---').join('|')}|\n`));
    }
    if (!values['no-rate']) await rateLimit(port);
  } finally {
    sink.kill();
  }
}

await (values.child ? child(Number(values.child)) : main());
