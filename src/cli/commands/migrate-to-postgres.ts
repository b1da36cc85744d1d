// yubin migrate-to-postgres URL: copy the SQLite data folder into an empty PostgreSQL
// database and print, per table, the row counts and content hashes of both sides
// (src/ops/migrate-to-postgres.ts). Exit code 1 when any table differs.
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../../config/env.ts';
import { migrateToPostgres } from '../../ops/migrate-to-postgres.ts';
import type { MessageKey } from '../../i18n/index.ts';
import { output, say, table } from '../context.ts';

export function registerMigrateToPostgresCommand(program: Command): void {
  program
    .command('migrate-to-postgres')
    .description('copy every table of the SQLite data folder into an empty PostgreSQL database, verified by row counts and hashes')
    .argument('<url>', 'postgres://user:password@host:5432/database (an empty database)')
    .option('--json', 'print JSON')
    .action(async (url: string, f: { json?: boolean }) => {
      const config = loadConfig();
      // the same check as YUBIN_DATABASE_URL, reported under the argument's name
      try {
        loadConfig({ YUBIN_DATABASE_URL: url });
      } catch (err) {
        if (err instanceof ConfigError) throw new ConfigError('URL', err.key, err.params);
        throw err;
      }
      const bar = process.stderr.isTTY && !f.json ? new cliProgress.SingleBar({ format: say('cli.mtp.bar'), hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
      let started = '';
      const checks = await migrateToPostgres(config, url, (p) => {
        if (!bar) return;
        if (started !== p.phase) {
          if (started) bar.stop();
          bar.start(p.total, p.done, { phase: say(`cli.mtp.phase.${p.phase}` as MessageKey), table: p.table });
          started = p.phase;
        }
        bar.update(p.done, { phase: say(`cli.mtp.phase.${p.phase}` as MessageKey), table: p.table });
      }).finally(() => bar?.stop());
      const ok = checks.every((c) => c.ok);
      output(f.json, { ok, tables: checks }, () =>
        [
          table([
            [say('cli.mtp.col.table'), say('cli.mtp.col.sourceRows'), say('cli.mtp.col.targetRows'), 'sha256 (SQLite)', 'sha256 (PostgreSQL)', ''],
            ...checks.map((c) => [c.table, String(c.sourceRows), String(c.targetRows), c.sourceHash.slice(0, 16), c.targetHash.slice(0, 16), c.ok ? say('cli.mtp.ok') : say('cli.mtp.different')]),
          ]),
          ok
            ? `\n${say('cli.mtp.matches', { key: config.secretKey ? 'YUBIN_SECRET_KEY' : say('cli.mtp.keyFile') })}`
            : `\n${say('cli.mtp.differ')}`,
        ].join('\n'),
      );
      if (!ok) process.exitCode = 1;
    });
}
