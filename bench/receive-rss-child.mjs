// Child of bench/receive.ts, run from the compiled dist/ as in production (no tsx):
// receive one account (one big mail) into a fresh SQLite folder and print the peak RSS.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openContext } from '../dist/services/context.js';
import { MailServerService } from '../dist/services/mail-servers.js';
import { MailAccountService } from '../dist/services/mail-accounts.js';
import { receiveAccount } from '../dist/receive/receive-run.js';
import { pino } from 'pino';

const dataDir = mkdtempSync(join(tmpdir(), 'yubin-rss-'));
const ctx = await openContext({ dataDir, databaseUrl: undefined, secretKey: randomBytes(32), host: '127.0.0.1', port: 0 }, { log: pino({ level: 'silent' }) });
const server = await new MailServerService(ctx).add('bench', {
  name: 'bed',
  incoming: { protocol: 'pop3', host: '127.0.0.1', port: Number(process.env.BENCH_PORT) },
  outgoing: { host: '127.0.0.1' },
});
const acc = await new MailAccountService(ctx).add('bench', {
  displayName: 'big',
  serverId: server.id,
  address: `${process.env.BENCH_USER}@example.com`,
  username: process.env.BENCH_USER,
  password: process.env.BENCH_PW,
  leaveOnServer: { mode: 'forever' },
});
const before = process.memoryUsage().rss / 1048576;
const s = await receiveAccount(ctx, ctx.repos.messages, acc.id);
const stored = await ctx.repos.messages.count(acc.id);
await ctx.close();
rmSync(dataDir, { recursive: true, force: true });
console.log(JSON.stringify({ stored, received: s.received, rssBeforeMB: Math.round(before), maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
