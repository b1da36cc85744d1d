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
import { langFromEnv, t, type Lang, type MessageKey } from '../../i18n/index.ts';
import { displayWidth, output, padDisplay, say } from '../context.ts';
import { pino } from 'pino';

interface Check {
  check: string;
  ok: boolean;
  detail: string;
}

type Text = [key: MessageKey, params?: Record<string, unknown>];

/**
 * A check as words in any language: --json keeps its English check names and details (scripts
 * read them), the lines a person reads are in the user's language. A detail is a message
 * (or several, "; "-joined), or the text of an error as it came.
 */
interface Finding {
  check: Text;
  ok: boolean;
  detail: (lang: Lang) => string;
}

const text = ([key, params]: Text, lang: Lang) => t(lang, key, params);

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check configuration, database, migrations and every account’s last receive')
    .option('--json', 'print JSON')
    .action(async (f: { json?: boolean }) => {
      const checks: Finding[] = [];
      const found = (check: Text, ok: boolean, detail: Text | ((lang: Lang) => string)) => checks.push({ check, ok, detail: typeof detail === 'function' ? detail : (lang) => text(detail, lang) });
      const config = loadConfig(); // a bad variable stops here with its name, like every command
      found(['cli.doctor.config'], true, config.databaseUrl ? ['cli.doctor.postgres'] : ['cli.doctor.sqlite', { dir: config.dataDir }]);
      let db: ReturnType<typeof openDatabase> | undefined;
      try {
        // opening can fail too (a data folder that is a file, or not writable): a FAIL line, not a crash
        db = openDatabase(config);
        const pending = await pendingMigrations(db);
        found(['cli.doctor.database'], true, ['cli.doctor.reachable', { dialect: db.dialect }]);
        found(['cli.doctor.migrations'], pending.length === 0, pending.length ? ['cli.doctor.pending', { names: pending.join(', ') }] : ['cli.doctor.current']);
      } catch (err) {
        found(['cli.doctor.database'], false, () => (err as Error).message);
      } finally {
        await db?.close();
      }
      if (checks.every((c) => c.ok)) {
        const ctx = await openContext(config, { log: pino({ level: 'silent' }), migrate: false });
        try {
          const source: Text = config.secretKey ? ['cli.doctor.keyEnv'] : ['cli.doctor.keyFile'];
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
          found(['cli.doctor.secretKey'], opens, (lang) =>
            t(lang, opens ? (one ? 'cli.doctor.keyOpens' : 'cli.doctor.keyFrom') : 'cli.doctor.keyMismatch', { source: text(source, lang), message: t(lang, 'error.secretKeyMismatch') }),
          );
          const humanLang = langFromEnv();
          for (const a of await ctx.repos.accounts.list()) {
            const now = new Date();
            // the status in English for --json, and in the user's language for the line
            const status = { en: await receiveStatus(ctx, a.id, now, 'en'), ja: humanLang === 'ja' ? await receiveStatus(ctx, a.id, now, 'ja') : undefined };
            const problems = (lang: Lang): string[] => {
              const s = (lang === 'ja' ? status.ja : undefined) ?? status.en;
              return [
                ...(a.oauth.status === 'reauthorize' ? [t(lang, 'cli.doctor.reauthorize', { code: a.oauth.errorCode })] : []),
                ...(s.stalled ? [t(lang, 'cli.doctor.stalled', { since: s.stalled.since, reason: t(lang, `stall.reason.${s.stalled.reason}`) })] : []),
                ...(s.lastError ? [t(lang, 'cli.doctor.lastFailed', { code: s.lastError.code, message: s.lastError.message })] : []),
                ...(s.notices.length ? [t(lang, 'cli.doctor.oversize', { count: s.notices.length })] : []),
                ...s.warnings.map((w) => t(lang, 'cli.doctor.backlog', { count: w.count })),
              ];
            };
            const ok = problems('en').length === 0;
            found(['cli.doctor.account', { address: a.address }], ok, (lang) =>
              !a.enabled
                ? t(lang, 'cli.doctor.disabled')
                : !ok
                  ? problems(lang).join('; ')
                  : status.en.lastSuccessAt
                    ? t(lang, 'cli.doctor.lastReceived', { at: status.en.lastSuccessAt })
                    : t(lang, 'cli.doctor.notReceived'),
            );
          }
        } finally {
          await ctx.close();
        }
      }
      const json: Check[] = checks.map((c) => ({ check: text(c.check, 'en'), ok: c.ok, detail: c.detail('en') }));
      output(f.json, { ok: checks.every((c) => c.ok), checks: json }, () => {
        const lang = langFromEnv();
        // "ok  " / "FAIL" in English, "OK" / "NG" (the UI's words for a test stage) in Japanese
        const marks = [say('cli.doctor.ok', {}, lang), say('cli.doctor.fail', {}, lang)];
        const width = Math.max(...marks.map(displayWidth));
        return checks.map((c) => `${padDisplay(c.ok ? marks[0]! : marks[1]!, width)} ${text(c.check, lang)}: ${c.detail(lang)}`).join('\n');
      });
      if (!checks.every((c) => c.ok)) process.exitCode = 1;
    });
}
