// npm run bench:receive — Yubin's receive-and-store against a real Dovecot, next to
// a raw pipelined POP3 dump (no storage: Dovecot's limit on loopback), fetchmail
// (delivering to an MDA that discards) and getmail6 (into a Maildir), all fetching
// the same mailbox of N mails of ~SIZE bytes. Prints mails/s and ratios; measures
// nothing it does not print. Then the peak RSS of receiving one 50 MB mail.
//   npx tsx bench/receive.ts [N=10000] [SIZE=10240] [RUNS=3]
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { receiveAccount } from '../src/receive/receive-run.ts';
import { makeContext } from '../test/support/app-context.ts';
import { startMailbed, type Mailbed } from '../test/support/mailbed.ts';
import { MailServerService } from '../src/services/mail-servers.ts';
import { MailAccountService } from '../src/services/mail-accounts.ts';

const N = Number(process.argv[2] ?? 10_000);
const SIZE = Number(process.argv[3] ?? 10_240);
const RUNS = Number(process.argv[4] ?? 3);
const run = promisify(execFile);

interface Row {
  name: string;
  seconds: number[];
  mails: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed(fn: () => Promise<number>): Promise<{ s: number; mails: number }> {
  const t0 = process.hrtime.bigint();
  const mails = await fn();
  return { s: Number(process.hrtime.bigint() - t0) / 1e9, mails };
}

/** RETR 1..N pipelined on one connection, counting end markers: no parsing, no storage. */
function rawPop3Dump(bed: Mailbed, user: string, pw: string, n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = connect(bed.ports.pop3, '127.0.0.1');
    let seen = 0;
    let tail = '';
    const cmds = [`USER ${user}`, `PASS ${pw}`, ...Array.from({ length: n }, (_, i) => `RETR ${i + 1}`), 'QUIT'].join('\r\n') + '\r\n';
    sock.on('connect', () => sock.write(cmds));
    sock.on('data', (d: Buffer) => {
      const text = tail + d.toString('latin1');
      let i = -1;
      while ((i = text.indexOf('\r\n.\r\n', i + 1)) !== -1) seen++;
      tail = text.slice(-4);
    });
    sock.on('end', () => resolve(seen));
    sock.on('error', reject);
  });
}

async function yubinReceive(bed: Mailbed, user: string, pw: string, protocol: 'pop3' | 'imap4'): Promise<{ s: number; mails: number }> {
  const ctx = (await makeContext('sqlite'))!;
  try {
    const server = await new MailServerService(ctx).add('bench', {
      name: 'bed',
      incoming: { protocol, host: '127.0.0.1', port: protocol === 'pop3' ? bed.ports.pop3 : bed.ports.imap },
      outgoing: { host: '127.0.0.1', port: bed.ports.smtpSink },
    });
    const acc = await new MailAccountService(ctx).add('bench', {
      displayName: 'bench',
      serverId: server.id,
      address: `${user}@example.com`,
      username: user,
      password: pw,
      leaveOnServer: { mode: 'forever' },
    });
    const r = await timed(async () => {
      const s = await receiveAccount(ctx, ctx.repos.messages, acc.id, { maxMessages: N, maxBytes: 4 * 1024 ** 3 });
      return s.received;
    });
    const stored = await ctx.repos.messages.count(acc.id);
    if (stored !== N) console.error(`WARN yubin-${protocol} stored ${stored}/${N}`);
    // metadata really extracted: every row has a sha256 and most have a subject
    const sample = await ctx.repos.messages.list({ accountId: acc.id, limit: 5 });
    if (!sample.items.every((m) => m.sha256.length === 64)) console.error('WARN metadata missing');
    return r;
  } finally {
    await ctx.close();
  }
}

async function peerTool(name: string, bed: Mailbed, user: string, pw: string, work: string): Promise<{ s: number; mails: number } | string> {
  if (name === 'fetchmail') {
    if (!existsSync('/usr/bin/fetchmail')) return 'not installed';
    const rc = join(work, 'fetchmailrc');
    writeFileSync(
      rc,
      `set no syslog\npoll 127.0.0.1 service ${bed.ports.pop3} protocol pop3 auth password timeout 300\n  user "${user}" there with password "${pw}" is "root" here\n  keep fetchall no rewrite sslproto ''\n  mda "/bin/cat >/dev/null"\n`,
      { mode: 0o600 },
    );
    rmSync(join(work, 'fetchids'), { force: true });
    return timed(async () => {
      const { stdout } = await run('fetchmail', ['--nosyslog', '-i', join(work, 'fetchids'), '--pidfile', join(work, 'fm.pid'), '-f', rc], { maxBuffer: 64 * 1024 * 1024 }).catch((e) => e);
      return (String(stdout).match(/reading message/g) ?? []).length;
    });
  }
  if (!existsSync('/usr/bin/getmail')) return 'not installed';
  const dest = join(work, 'gm-dest');
  const state = join(work, 'gm-state');
  rmSync(dest, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
  for (const d of ['new', 'cur', 'tmp']) mkdirSync(join(dest, d), { recursive: true });
  mkdirSync(state, { recursive: true });
  const rc = join(work, 'getmailrc');
  writeFileSync(
    rc,
    `[retriever]\ntype = SimplePOP3Retriever\nserver = 127.0.0.1\nport = ${bed.ports.pop3}\nusername = ${user}\npassword = ${pw}\n\n[destination]\ntype = Maildir\npath = ${dest}/\n\n[options]\nread_all = true\ndelete = false\nverbose = 0\nmessage_log_verbose = false\n`,
  );
  // getmail refuses to deliver as root: run it as the mail test user
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'mailbed']);
    const uid = Number(stdout.trim());
    for (const p of [work, dest, state, rc, join(dest, 'new'), join(dest, 'cur'), join(dest, 'tmp')]) chownSync(p, uid, uid);
  }
  return timed(async () => {
    const args = ['--getmaildir', state, '--rcfile', rc];
    await run(asRoot ? 'runuser' : 'getmail', asRoot ? ['-u', 'mailbed', '--', 'getmail', ...args] : args, { maxBuffer: 64 * 1024 * 1024 });
    const { stdout } = await run('find', [join(dest, 'new'), '-type', 'f']);
    return stdout.split('\n').filter(Boolean).length;
  });
}

/** Peak RSS of a child process that receives one mail of `bytes` bytes into SQLite. */
async function peakRssOfBigMail(bed: Mailbed, bytes: number): Promise<number> {
  const user = `big${randomBytes(3).toString('hex')}`;
  const pw = 'pw-big';
  await bed.addUser(user, pw);
  const line = 'A'.repeat(76) + '\r\n';
  const body = line.repeat(Math.ceil(bytes / line.length));
  await bed.deliver(user, `From: big@example.com\r\nTo: x@example.com\r\nSubject: 50 MB\r\n\r\n${body}`);
  const child = spawn(process.execPath, [new URL('./receive-rss-child.mjs', import.meta.url).pathname], {
    env: { ...process.env, BENCH_PORT: String(bed.ports.pop3), BENCH_USER: user, BENCH_PW: pw },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((r) => child.on('close', r));
  const r = JSON.parse(out.trim().split('\n').pop()!);
  if (r.stored !== 1) console.error('WARN big mail not stored');
  return r.maxRssMB as number;
}

const bed = await startMailbed({ sinkDump: false });
const work = mkdtempSync(join(tmpdir(), 'yubin-bench-'));
try {
  const user = 'benchuser';
  const pw = 'bench-pw';
  await bed.addUser(user, pw);
  console.error(`filling ${N} mails of ~${SIZE} bytes…`);
  await bed.fill(user, N, SIZE);
  await rawPop3Dump(bed, user, pw, N); // warm Dovecot's index (first pass marks \Seen)

  const rows: Row[] = [];
  const add = (name: string, r: { s: number; mails: number } | string) => {
    if (typeof r === 'string') {
      console.error(`${name}: ${r}`);
      return;
    }
    let row = rows.find((x) => x.name === name);
    if (!row) rows.push((row = { name, seconds: [], mails: r.mails }));
    row.seconds.push(r.s);
    if (r.mails !== N) console.error(`WARN ${name} handled ${r.mails}/${N}`);
  };
  for (let i = 0; i < RUNS; i++) {
    add('raw pipelined POP3 dump (no storage)', await timed(() => rawPop3Dump(bed, user, pw, N)));
    add('yubin POP3 → SQLite (stored + metadata)', await yubinReceive(bed, user, pw, 'pop3'));
    add('yubin IMAP4 → SQLite (stored + metadata)', await yubinReceive(bed, user, pw, 'imap4'));
  }
  const peer = (name: string) => peerTool(name, bed, user, pw, work).catch((err: Error) => `failed: ${err.message.split('\n')[0]}`);
  add('fetchmail POP3 → MDA', await peer('fetchmail'));
  add('getmail6 POP3 → Maildir', await peer('getmail'));

  const rate = (r: Row) => N / median(r.seconds);
  const raw = rows.find((r) => r.name.startsWith('raw'));
  const fm = rows.find((r) => r.name.startsWith('fetchmail'));
  console.log(`\n${N} mails of ~${SIZE} bytes, median of ${RUNS} runs (peers: 1 run), ${new Date().toISOString().slice(0, 10)}\n`);
  console.log('| case | median s | mails/s | × fetchmail | × raw dump |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${median(r.seconds).toFixed(2)} | ${Math.round(rate(r))} | ${fm ? (rate(r) / rate(fm)).toFixed(2) : '-'} | ${raw ? (rate(r) / rate(raw)).toFixed(3) : '-'} |`,
    );
  }
  const rss = await peakRssOfBigMail(bed, 50 * 1024 * 1024);
  console.log(`\nPeak RSS of a process receiving one 50 MB mail over POP3 into SQLite: ${rss.toFixed(0)} MB`);
} finally {
  await bed.stop();
  rmSync(work, { recursive: true, force: true });
}
