// The `yubin` command line (INTERFACE.md). Every command goes through the same
// services as the HTTP API; --json prints one JSON document on stdout, errors go
// to stderr with exit code 2 (bad input) or 1.
import { Command, CommanderError } from 'commander';
import { langFromEnv } from '../i18n/index.ts';
import { registerAccountCommands } from './commands/account.ts';
import { registerAdminCommands } from './commands/admin.ts';
import { registerBackupCommands } from './commands/backup.ts';
import { registerBulkCommands } from './commands/bulk.ts';
import { registerDoctorCommand } from './commands/doctor.ts';
import { registerMigrateToPostgresCommand } from './commands/migrate-to-postgres.ts';
import { registerReceiveCommand } from './commands/receive.ts';
import { registerSendCommand } from './commands/send.ts';
import { registerServeCommand } from './commands/serve.ts';
import { registerWorkerCommand } from './commands/worker.ts';
import { registerServerCommands } from './commands/server.ts';
import { registerOAuthCommands } from './commands/oauth.ts';
import { reportError } from './context.ts';
import { reportUsageError } from './usage-error.ts';

export function buildProgram(): Command {
  const program = new Command('yubin').description('Yubin (郵便) — shared-inbox mail gateway').version('0.1.0');
  // Usage errors are thrown to main() (which words them in ja/en, exit 2) instead of printed
  // in English with exit 1. Set before the commands are added: each one inherits it.
  program.exitOverride().configureOutput({ outputError: () => undefined });
  registerServeCommand(program);
  registerWorkerCommand(program);
  registerReceiveCommand(program);
  registerDoctorCommand(program);
  registerBackupCommands(program);
  registerMigrateToPostgresCommand(program);
  registerAdminCommands(program);
  registerServerCommands(program);
  registerAccountCommands(program);
  registerOAuthCommands(program);
  registerSendCommand(program);
  registerBulkCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = err instanceof CommanderError ? reportUsageError(err, program, argv.slice(2), langFromEnv()) : reportError(err);
  }
}
