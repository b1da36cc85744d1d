// The `yubin` command line (INTERFACE.md). Every command goes through the same
// services as the HTTP API; --json prints one JSON document on stdout, errors go
// to stderr with exit code 2 (bad input) or 1.
import { Command, CommanderError } from 'commander';
import { langFromEnv } from '../i18n/index.ts';
import { reportError } from './context.ts';
import { reportUsageError } from './usage-error.ts';

type Register = (program: Command) => void;

/**
 * Each command's module, loaded only when it is the one run: together they import Fastify and
 * every route, imapflow, mailparser and nodemailer (~0.6 s), which `yubin server list` does not
 * need. Listed in the order `yubin --help` shows them; the names are the top-level commands
 * each module adds.
 */
export const MODULES: { names: string[]; load: () => Promise<Register> }[] = [
  { names: ['serve'], load: async () => (await import('./commands/serve.ts')).registerServeCommand },
  { names: ['worker'], load: async () => (await import('./commands/worker.ts')).registerWorkerCommand },
  { names: ['receive'], load: async () => (await import('./commands/receive.ts')).registerReceiveCommand },
  { names: ['doctor'], load: async () => (await import('./commands/doctor.ts')).registerDoctorCommand },
  { names: ['backup', 'restore'], load: async () => (await import('./commands/backup.ts')).registerBackupCommands },
  { names: ['migrate-to-postgres'], load: async () => (await import('./commands/migrate-to-postgres.ts')).registerMigrateToPostgresCommand },
  { names: ['migrate', 'admin', 'token', 'audit'], load: async () => (await import('./commands/admin.ts')).registerAdminCommands },
  { names: ['server'], load: async () => (await import('./commands/server.ts')).registerServerCommands },
  { names: ['account'], load: async () => (await import('./commands/account.ts')).registerAccountCommands },
  { names: ['oauth'], load: async () => (await import('./commands/oauth.ts')).registerOAuthCommands },
  { names: ['send'], load: async () => (await import('./commands/send.ts')).registerSendCommand },
  { names: ['bulk'], load: async () => (await import('./commands/bulk.ts')).registerBulkCommands },
];

/**
 * The program with the command `argv` names, or with every command when it names none that is
 * known (`yubin --help`, `yubin help send`, a misspelt command, whose "Did you mean" needs
 * them all). `--version` alone needs none.
 */
export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command('yubin').description('Yubin (郵便) — shared-inbox mail gateway').version('0.1.0');
  // Usage errors are thrown to main() (which words them in ja/en, exit 2) instead of printed
  // in English with exit 1. Set before the commands are added: each one inherits it.
  program.exitOverride().configureOutput({ outputError: () => undefined });
  const [first] = argv;
  if (argv.length === 1 && (first === '--version' || first === '-V')) return program;
  const named = MODULES.find((m) => first !== undefined && m.names.includes(first));
  for (const m of named ? [named] : MODULES) (await m.load())(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // every file Yubin makes is its owner's alone: the SQLite database (all received mail) and
  // its -wal/-shm, backups, the restored copies. A data folder that existed before (mkdir,
  // a container volume) keeps its mode, and the default umask made these readable by all
  process.umask(0o077);
  let program: Command | undefined;
  try {
    program = await buildProgram(argv.slice(2));
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = err instanceof CommanderError && program ? reportUsageError(err, program, argv.slice(2), langFromEnv()) : reportError(err);
  }
}
