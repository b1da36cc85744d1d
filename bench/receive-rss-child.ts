// Child of bench/receive.ts: receive one account (one big mail) and print the peak RSS.
import { receiveAccount } from '../src/receive/receive-run.ts';
import { MailAccountService } from '../src/services/mail-accounts.ts';
import { MailServerService } from '../src/services/mail-servers.ts';
import { makeContext } from '../test/support/app-context.ts';

const ctx = (await makeContext('sqlite'))!;
const server = await new MailServerService(ctx).add('bench', {
  name: 'bed',
  incoming: { protocol: 'pop3', host: '127.0.0.1', port: Number(process.env.BENCH_PORT) },
  outgoing: { host: '127.0.0.1' },
});
const acc = await new MailAccountService(ctx).add('bench', {
  displayName: 'big',
  serverId: server.id,
  address: `${process.env.BENCH_USER}@example.com`,
  username: process.env.BENCH_USER!,
  password: process.env.BENCH_PW!,
  leaveOnServer: { mode: 'forever' },
});
const s = await receiveAccount(ctx, ctx.repos.messages, acc.id);
const stored = await ctx.repos.messages.count(acc.id);
await ctx.close();
console.log(JSON.stringify({ stored, received: s.received, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
