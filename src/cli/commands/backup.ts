// yubin backup FILE / yubin restore FILE (SQLite; see src/ops/backup.ts). The backup does
// NOT contain the secret key: both commands say so every time.
import type { Command } from 'commander';
import { loadConfig } from '../../config/env.ts';
import { backupDatabase, restoreDatabase } from '../../ops/backup.ts';
import { output } from '../context.ts';

const KEY_WARNING =
  'NOTE: the secret key is NOT in the backup. Keep secret.key (or YUBIN_SECRET_KEY) safe on its own: without it the mail account passwords in the backup cannot be decrypted.\n' +
  '注意: 秘密鍵はバックアップに含まれません。secret.key（または YUBIN_SECRET_KEY）を別に保管してください。秘密鍵がないとバックアップ内のメールアカウントのパスワードは復号できません。\n';

export function registerBackupCommands(program: Command): void {
  program
    .command('backup')
    .description('copy the SQLite database to FILE, consistent while serve and workers run (the secret key is NOT included)')
    .argument('<file>')
    .option('--json', 'print JSON')
    .action(async (file: string, f: { json?: boolean }) => {
      const r = await backupDatabase(loadConfig(), file);
      process.stderr.write(KEY_WARNING);
      output(f.json, { ...r, secretKeyIncluded: false }, () => `backup written: ${r.file} (${r.bytes} bytes)${r.keyFile ? `\nsecret key (not in the backup): ${r.keyFile}` : ''}`);
    });

  program
    .command('restore')
    .description('replace the SQLite database with FILE (refused while serve or a worker runs, unless --force)')
    .argument('<file>')
    .option('--force', 'restore even while processes use the data folder, or when the current secret key cannot open the backup')
    .option('--json', 'print JSON')
    .action(async (file: string, f: { force?: boolean; json?: boolean }) => {
      const r = restoreDatabase(loadConfig(), file, { force: f.force });
      process.stderr.write(KEY_WARNING);
      output(f.json, r, () => `restored ${file} into ${r.file}${r.previous ? `\nthe replaced database is kept as ${r.previous}` : ''}`);
    });
}
