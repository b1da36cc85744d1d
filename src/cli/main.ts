// The `yubin` command line: one sub-command per file under src/cli/commands.
import { Command } from 'commander';

export function buildProgram(): Command {
  const program = new Command('yubin').description('Yubin (郵便) — shared-inbox mail gateway').version('0.1.0');
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
