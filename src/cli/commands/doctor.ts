// yubin doctor: is this installation healthy? Configuration, database and
// migrations, the secret key, and each account's last receive — one line each,
// exit code 1 when anything needs attention.
import type { Command } from 'commander';
import { loadConfig } from '../../config/env.ts';
import { isSecretKeyMismatch } from '../../config/secrets.ts';
import { receiveStatus } from '../../receive/receive-service.ts';
import { openContext } from '../../services/context.ts';
import { openDatabase } from '../../store/database.ts';
import { pendingMigrations } from '../../store/migrate.ts';
import { t } from '../../i18n/index.ts';
import { output } from '../context.ts';
import { pino } from 'pino';

interface Check {
  check: string;
  ok: boolean;
  detail: string;
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check configuration, database, migrations and every account’s last receive')
    .option('--json', 'print JSON')
    .action(async (f: { json?: boolean }) => {
      const checks: Check[] = [];
      const config = loadConfig(); // a bad variable stops here with its name, like every command
      checks.push({ check: 'config', ok: true, detail: config.databaseUrl ? 'PostgreSQL (YUBIN_DATABASE_URL)' : `SQLite in ${config.dataDir}` });
      let db: ReturnType<typeof openDatabase> | undefined;
      try {
        // opening can fail too (a data folder that is a file, or not writable): a FAIL line, not a crash
        db = openDatabase(config);
        const pending = await pendingMigrations(db);
        checks.push({ check: 'database', ok: true, detail: `reachable (${db.dialect})` });
        checks.push({ check: 'migrations', ok: pending.length === 0, detail: pending.length ? `pending: ${pending.join(', ')} — run yubin migrate` : 'current' });
      } catch (err) {
        checks.push({ check: 'database', ok: false, detail: (err as Error).message });
      } finally {
        await db?.close();
      }
      if (checks.every((c) => c.ok)) {
        const ctx = await openContext(config, { log: pino({ level: 'silent' }), migrate: false });
        try {
          const source = config.secretKey ? 'YUBIN_SECRET_KEY' : 'secret.key in the data folder';
          // the key must open what was sealed with it: another valid key would fail every login
          const sealed = await ctx.db.kysely
            .selectFrom('mail_accounts')
            .select(['password_enc', 'smtp_password_enc', 'oauth_token_enc'])
            .where((eb) => eb.or([eb('password_enc', 'is not', null), eb('smtp_password_enc', 'is not', null), eb('oauth_token_enc', 'is not', null)]))
            .limit(1)
            .executeTakeFirst();
          const one = sealed?.password_enc ?? sealed?.smtp_password_enc ?? sealed?.oauth_token_enc;
          let opens = true;
          if (one) {
            try {
              ctx.secrets.open(one);
            } catch (err) {
              if (!isSecretKeyMismatch(err)) throw err;
              opens = false;
            }
          }
          checks.push({
            check: 'secret key',
            ok: opens,
            detail: opens ? `from ${source}${one ? ', opens the stored passwords' : ''}` : `from ${source}: ${t('en', 'error.secretKeyMismatch')}`,
          });
          for (const a of await ctx.repos.accounts.list()) {
            const s = await receiveStatus(ctx, a.id, new Date(), 'en');
            const problems = [
              ...(a.oauth.status === 'reauthorize' ? [`OAuth 2.0 grant refused (${a.oauth.errorCode}): re-authorize the account on its page`] : []),
              ...(s.stalled ? [`stalled since ${s.stalled.since} (${t('en', `stall.reason.${s.stalled.reason}`)})`] : []),
              ...(s.lastError ? [`last run failed: ${s.lastError.code} ${s.lastError.message}`] : []),
              ...(s.notices.length ? [`${s.notices.length} mail(s) over the size limit left on the server`] : []),
              ...(s.warnings.map((w) => `${w.count} received mails left on the server`)),
            ];
            checks.push({
              check: `account ${a.address}`,
              ok: problems.length === 0,
              detail: !a.enabled ? 'disabled' : problems.length ? problems.join('; ') : s.lastSuccessAt ? `last received ${s.lastSuccessAt}` : 'not received yet',
            });
          }
        } finally {
          await ctx.close();
        }
      }
      output(f.json, { ok: checks.every((c) => c.ok), checks }, () => checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.check}: ${c.detail}`).join('\n'));
      if (!checks.every((c) => c.ok)) process.exitCode = 1;
    });
}
