// yubin backup FILE / yubin restore FILE (SQLite; see src/ops/backup.ts). The backup does
// NOT contain the secret key: both commands say so every time (on stderr, in the user's language).
import type { Command } from 'commander';
import { loadConfig } from '../../config/env.ts';
import { backupDatabase, restoreDatabase } from '../../ops/backup.ts';
import { output, say } from '../context.ts';

export function registerBackupCommands(program: Command): void {
  program
    .command('backup')
    .description('copy the SQLite database to FILE, consistent while serve and workers run (the secret key is NOT included)')
    .argument('<file>')
    .option('--json', 'print JSON')
    .action(async (file: string, f: { json?: boolean }) => {
      const r = await backupDatabase(loadConfig(), file);
      process.stderr.write(`${say('cli.backup.keyWarning')}\n`);
      output(f.json, { ...r, secretKeyIncluded: false }, () => say('cli.backup.written', { file: r.file, bytes: r.bytes }) + (r.keyFile ? `\n${say('cli.backup.keyFile', { file: r.keyFile })}` : ''));
    });

  program
    .command('restore')
    .description('replace the SQLite database with FILE (refused while serve or a worker runs, unless --force)')
    .argument('<file>')
    .option('--force', 'restore even while processes use the data folder, or when the current secret key cannot open the backup')
    .option('--json', 'print JSON')
    .action(async (file: string, f: { force?: boolean; json?: boolean }) => {
      const r = restoreDatabase(loadConfig(), file, { force: f.force });
      process.stderr.write(`${say('cli.backup.keyWarning')}\n`);
      output(f.json, r, () => say('cli.restore.done', { file, target: r.file }) + (r.previous ? `\n${say('cli.restore.previous', { file: r.previous })}` : ''));
    });
}
