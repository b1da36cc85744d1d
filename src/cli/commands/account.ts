// yubin account list|show|add|change|delete — the same service as the API.
import type { Command } from 'commander';
import type { MailAccount } from '../../domain/mail-account.ts';
import { langFromEnv, type MessageKey } from '../../i18n/index.ts';
import { MailAccountService } from '../../services/mail-accounts.ts';
import { cliActor, displayWidth, intOrString, output, padDisplay, readStdin, say, table, withContext } from '../context.ts';
import { readJsonOption, refuseSharedStdin } from '../file-input.ts';
import { resolveServer } from './server.ts';

interface AccountFlags {
  json?: boolean;
  input?: string;
  displayName?: string;
  server?: string;
  address?: string;
  fromName?: string;
  username?: string;
  passwordStdin?: boolean;
  smtpUsername?: string;
  smtpPasswordStdin?: boolean;
  leave?: string;
  interval?: string;
  enabled?: boolean;
}

function addAccountFlags(cmd: Command): Command {
  return cmd
    .option('--input <file>', 'JSON MailAccountInput (- for stdin); flags override it')
    .option('--display-name <name>', '表示名')
    .option('--server <server>', 'メールサーバー (id or name)')
    .option('--address <address>', 'メールアドレス')
    .option('--from-name <name>', '差出人名')
    .option('--username <user>', 'ユーザー名')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .option('--smtp-username <user>', 'SMTP認証のユーザー名 (when the server does not use the account’s)')
    .option('--smtp-password-stdin', 'read the SMTP password from stdin (the second line with --password-stdin)')
    .option('--leave <delete|forever|days:N>', 'メールをサーバーに残す設定 (default delete)')
    .option('--interval <minutes>', '受信間隔 (1–1440, default 5)')
    .option('--enabled', 'receive on schedule')
    .option('--no-enabled', 'do not receive on schedule')
    .option('--json', 'print JSON');
}

/** Flags → a MailAccountInput / patch body (only what was given); --server is resolved later, in the database. */
function accountBody(f: AccountFlags): Record<string, unknown> {
  const passwordStdin = f.passwordStdin || f.smtpPasswordStdin;
  // the two passwords share stdin on purpose (a line each); --input - would leave them nothing
  refuseSharedStdin([
    ['--input -', f.input === '-'],
    [f.passwordStdin ? '--password-stdin' : '--smtp-password-stdin', passwordStdin],
  ]);
  const body = f.input ? readJsonOption('--input', f.input) : {};
  const lines = passwordStdin ? readStdin().split(/\r?\n/) : [];
  if (f.displayName !== undefined) body.displayName = f.displayName;
  if (f.address !== undefined) body.address = f.address;
  if (f.fromName !== undefined) body.fromName = f.fromName;
  if (f.username !== undefined) body.username = f.username;
  if (f.passwordStdin) body.password = lines.shift() ?? '';
  if (f.smtpUsername !== undefined) body.smtpUsername = f.smtpUsername;
  if (f.smtpPasswordStdin) body.smtpPassword = lines.shift() ?? '';
  if (f.leave !== undefined) {
    const m = /^days:(.*)$/.exec(f.leave);
    body.leaveOnServer = m ? { mode: 'days', days: intOrString(m[1]!) } : { mode: f.leave };
  }
  if (f.interval !== undefined) body.receiveIntervalMinutes = intOrString(f.interval);
  if (f.enabled !== undefined) body.enabled = f.enabled;
  return body;
}

function leaveText(a: MailAccount): string {
  return a.leaveOnServer.mode === 'days' ? say('cli.leave.days', { days: a.leaveOnServer.days }) : say(`cli.leave.${a.leaveOnServer.mode}` as MessageKey);
}

const setOrNone = (b: boolean) => say(b ? 'cli.set' : 'cli.none');

export function describeAccount(a: MailAccount): string {
  return [
    `${a.address} (${a.displayName})  id=${a.id}`,
    say('cli.account.credentials', { server: a.serverId, username: a.username, password: setOrNone(a.hasPassword), smtpUsername: a.smtpUsername ?? '-', smtpPassword: setOrNone(a.hasSmtpPassword) }),
    say('cli.account.settings', { fromName: a.fromName || '-', leave: leaveText(a), interval: say('cli.account.intervalLong', { minutes: a.receiveIntervalMinutes }), enabled: say(a.enabled ? 'cli.true' : 'cli.false') }),
  ].join('\n');
}

export function registerAccountCommands(program: Command): Command {
  const account = program.command('account').description('メールアカウント: list, show, add, change, delete');

  account
    .command('list')
    .option('--json', 'print JSON')
    .action(async (f: { json?: boolean }) => {
      await withContext(async (ctx) => {
        const items = await new MailAccountService(ctx).list();
        output(f.json, { items }, () =>
          table([
            [say('cli.col.address'), say('cli.account.col.name'), say('cli.account.col.leave'), say('cli.account.col.interval'), say('cli.account.col.enabled'), 'ID'],
            ...items.map((a) => [a.address, a.displayName, leaveText(a), say('cli.account.interval', { minutes: a.receiveIntervalMinutes }), say(a.enabled ? 'cli.true' : 'cli.false'), a.id]),
          ]),
        );
      });
    });

  account
    .command('show <account>')
    .description('by id or address')
    .option('--json', 'print JSON')
    .action(async (ref: string, f: { json?: boolean }) => {
      await withContext(async (ctx) => {
        const a = await new MailAccountService(ctx).find(ref);
        output(f.json, a, () => describeAccount(a));
      });
    });

  addAccountFlags(account.command('add')).action(async (f: AccountFlags) => {
    const body = accountBody(f);
    await withContext(async (ctx) => {
      if (f.server !== undefined) body.serverId = (await resolveServer(ctx, f.server)).id;
      const a = await new MailAccountService(ctx).add(cliActor(), body);
      output(f.json, a, () => describeAccount(a));
    });
  });

  addAccountFlags(account.command('change <account>').description('by id or address')).action(async (ref: string, f: AccountFlags) => {
    const body = accountBody(f);
    await withContext(async (ctx) => {
      const service = new MailAccountService(ctx);
      const current = await service.find(ref);
      if (f.server !== undefined) body.serverId = (await resolveServer(ctx, f.server)).id;
      const a = await service.change(cliActor(), current.id, body);
      output(f.json, a, () => describeAccount(a));
    });
  });

  account
    .command('delete <account>')
    .description('by id or address')
    .option('--json', 'print JSON')
    .action(async (ref: string, f: { json?: boolean }) => {
      await withContext(async (ctx) => {
        const service = new MailAccountService(ctx);
        const a = await service.find(ref);
        await service.delete(cliActor(), a.id);
        output(f.json, { deleted: a.id }, () => say('cli.account.deleted', { address: a.address }));
      });
    });
  account
    .command('test <account>')
    .description('staged connection test (DNS, TCP, TLS, greeting, auth, mailbox) — read-only')
    .option('--json', 'print JSON')
    .action(async (ref: string, f: { json?: boolean }) => {
      await withContext(async (ctx) => {
        const a = await new MailAccountService(ctx).find(ref);
        // imapflow, mailparser and nodemailer are loaded by the one command that connects
        const { runConnectionTest } = await import('../../receive/receive-service.ts');
        const result = await runConnectionTest(ctx, a.id, langFromEnv());
        output(f.json, result, () => {
          const stages = [...result.incoming, ...result.outgoing].map((s) => say(`cli.stage.${s.stage}` as MessageKey));
          // at least as wide as before (12), wider for a Japanese stage name: the messages line up
          const width = Math.max(12, ...stages.map(displayWidth));
          return (['incoming', 'outgoing'] as const)
            .map((side) =>
              [say(`cli.account.test.${side}`), ...result[side].map((s) => `  ${s.ok ? (s.warning ? '⚠' : '✓') : '✗'} ${padDisplay(say(`cli.stage.${s.stage}` as MessageKey), width)} ${s.message}`)].join('\n'),
            )
            .join('\n');
        });
        if (!result.ok) process.exitCode = 1;
      });
    });
  return account;
}
