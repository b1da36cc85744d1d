// yubin admin create, yubin token create|list|revoke, yubin audit, yubin migrate.
import type { Command } from 'commander';
import { loadConfig } from '../../config/env.ts';
import { AuthService } from '../../services/auth.ts';
import { openDatabase } from '../../store/database.ts';
import { migrateToLatest } from '../../store/migrate.ts';
import { cliActor, codeWord, output, readStdin, say, table, withContext } from '../context.ts';
import { integerOption } from '../options.ts';

export function registerAdminCommands(program: Command): void {
  program
    .command('migrate')
    .description('apply database migrations and exit')
    .option('--json', 'print JSON')
    .action(async (f: { json?: boolean }) => {
      const db = openDatabase(loadConfig());
      try {
        const applied = await migrateToLatest(db);
        output(f.json, { applied }, () => (applied.length ? say('cli.migrate.applied', { names: applied.join(', ') }) : say('cli.migrate.upToDate')));
      } finally {
        await db.close();
      }
    });

  const admin = program.command('admin').description('administrators');
  admin
    .command('create')
    .requiredOption('--username <name>', 'user name')
    .requiredOption('--password-stdin', 'read the password (8+ characters) from stdin')
    .option('--json', 'print JSON')
    .action(async (f: { username: string; json?: boolean }) => {
      const password = readStdin().replace(/\r?\n$/, '');
      await withContext(async (ctx) => {
        const id = await new AuthService(ctx).createAdmin(f.username, password, cliActor());
        output(f.json, { id, username: f.username.trim() }, () => say('cli.admin.created', { username: f.username.trim() }));
      });
    });

  const token = program.command('token').description('API tokens (Authorization: Bearer …)');
  token
    .command('create')
    .requiredOption('--name <name>', 'what the token is for')
    .option('--json', 'print JSON')
    .action(async (f: { name: string; json?: boolean }) => {
      await withContext(async (ctx) => {
        const value = await new AuthService(ctx).createToken(f.name);
        output(f.json, { name: f.name.trim(), token: value }, () => value);
      });
    });
  token
    .command('list')
    .option('--json', 'print JSON')
    .action(async (f: { json?: boolean }) => {
      await withContext(async (ctx) => {
        const items = await ctx.repos.tokens.list();
        output(f.json, { items }, () =>
          table([[say('cli.token.col.name'), say('cli.token.col.created'), say('cli.token.col.lastUsed'), say('cli.token.col.revoked')], ...items.map((t) => [t.name, t.createdAt, t.lastUsedAt ?? '-', t.revokedAt ?? '-'])]),
        );
      });
    });
  token
    .command('revoke')
    .requiredOption('--name <name>', 'the token to revoke')
    .option('--json', 'print JSON')
    .action(async (f: { name: string; json?: boolean }) => {
      await withContext(async (ctx) => {
        await new AuthService(ctx).revokeToken(f.name);
        output(f.json, { revoked: f.name.trim() }, () => say('cli.token.revoked', { name: f.name.trim() }));
      });
    });

  program
    .command('audit')
    .description('the audit log, newest first')
    .addOption(integerOption('--limit <n>', 'how many entries (1–1000)', { min: 1, max: 1000 }).default(50))
    .option('--json', 'print JSON')
    .action(async (f: { limit: number; json?: boolean }) => {
      await withContext(async (ctx) => {
        const page = await ctx.repos.audit.list({ limit: f.limit });
        output(f.json, page, () =>
          table([
            [say('cli.col.at'), say('cli.col.actor'), say('cli.audit.col.action'), say('cli.audit.col.target'), say('cli.audit.col.fields')],
            ...page.items.map((e) => [e.at, e.actor, codeWord('cli.audit.action', e.action), e.targetName ?? e.targetId ?? '-', e.fields.join(',')]),
          ]),
        );
      });
    });
}
