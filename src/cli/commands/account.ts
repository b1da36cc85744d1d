// yubin account list|show|add|change|delete — the same service as the API.
import type { Command } from 'commander';
import type { MailAccount } from '../../domain/mail-account.ts';
import { langFromEnv } from '../../i18n/index.ts';
import { runConnectionTest } from '../../receive/receive-service.ts';
import { MailAccountService } from '../../services/mail-accounts.ts';
import { cliActor, intOrString, output, readStdin, table, withContext } from '../context.ts';
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
  return a.leaveOnServer.mode === 'days' ? `days:${a.leaveOnServer.days}` : a.leaveOnServer.mode;
}

export function describeAccount(a: MailAccount): string {
  return [
    `${a.address} (${a.displayName})  id=${a.id}`,
    `  server=${a.serverId} username=${a.username} password=${a.hasPassword ? 'set' : 'none'} smtpUsername=${a.smtpUsername ?? '-'} smtpPassword=${a.hasSmtpPassword ? 'set' : 'none'}`,
    `  fromName=${a.fromName || '-'} leaveOnServer=${leaveText(a)} interval=${a.receiveIntervalMinutes}min enabled=${a.enabled}`,
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
          table([['ADDRESS', 'NAME', 'LEAVE', 'INTERVAL', 'ENABLED', 'ID'], ...items.map((a) => [a.address, a.displayName, leaveText(a), `${a.receiveIntervalMinutes}m`, String(a.enabled), a.id])]),
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
        output(f.json, { deleted: a.id }, () => `deleted ${a.address}`);
      });
    });
  account
    .command('test <account>')
    .description('staged connection test (DNS, TCP, TLS, greeting, auth, mailbox) — read-only')
    .option('--json', 'print JSON')
    .action(async (ref: string, f: { json?: boolean }) => {
      await withContext(async (ctx) => {
        const a = await new MailAccountService(ctx).find(ref);
        const result = await runConnectionTest(ctx, a.id, langFromEnv());
        output(f.json, result, () =>
          (['incoming', 'outgoing'] as const)
            .map((side) =>
              [`${side === 'incoming' ? '受信 incoming' : '送信 outgoing'}:`, ...result[side].map((s) => `  ${s.ok ? (s.warning ? '⚠' : '✓') : '✗'} ${s.stage.padEnd(12)} ${s.message}`)].join('\n'),
            )
            .join('\n'),
        );
        if (!result.ok) process.exitCode = 1;
      });
    });
  return account;
}
