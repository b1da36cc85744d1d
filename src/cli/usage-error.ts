// Commander's own usage errors (a required option or argument missing, an unknown option or
// command, too many arguments) in the CLI's voice: "yubin: …" in Japanese or English like
// every other error, and exit code 2 for bad input as the README promises. Commander only
// speaks English and says what went wrong in its message, so the message is read here by
// its code (the wording of the pinned commander 14); one not recognised is shown as it is.
import { CommanderError, type Command } from 'commander';
import { t, type Lang, type MessageKey } from '../i18n/index.ts';
import { EXIT_BAD_INPUT } from './context.ts';

type Params = Record<string, unknown>;
const USAGE: Record<string, [pattern: RegExp, key: MessageKey, params: (m: RegExpExecArray) => Params]> = {
  'commander.missingMandatoryOptionValue': [/required option '(.+)' not specified/, 'cli.usage.requiredOption', (m) => ({ option: m[1] })],
  'commander.optionMissingArgument': [/option '(.+)' argument missing/, 'cli.usage.optionValue', (m) => ({ option: m[1] })],
  'commander.missingArgument': [/missing required argument '(.+)'/, 'cli.usage.missingArgument', (m) => ({ argument: m[1] })],
  'commander.unknownOption': [/unknown option '(.+?)'/, 'cli.usage.unknownOption', (m) => ({ option: m[1] })],
  'commander.unknownCommand': [/unknown command '(.+?)'/, 'cli.usage.unknownCommand', (m) => ({ command: m[1] })],
  'commander.conflictingOption': [/option '(.+?)' cannot be used with option '(.+?)'/, 'cli.usage.conflictingOptions', (m) => ({ first: m[1], second: m[2] })],
  'commander.excessArguments': [/Expected (\d+) arguments? but got (\d+)/, 'cli.usage.excessArguments', (m) => ({ expected: m[1], actual: m[2] })],
};

/** Commander's message in the user's language, with its "Did you mean" suggestion. */
export function usageMessage(lang: Lang, err: CommanderError): string {
  const rule = USAGE[err.code];
  const m = rule?.[0].exec(err.message);
  if (!rule || !m) return err.message.replace(/^error: /, '');
  const suggestion = /\(Did you mean (?:one of )?(.+)\?\)/.exec(err.message)?.[1];
  // the catalogue carries the separator: a space in English, none before Japanese brackets
  return t(lang, rule[1], rule[2](m)) + (suggestion ? t(lang, 'cli.usage.didYouMean', { suggestion }) : '');
}

/** "yubin bulk create": the commands of `args` that exist, for the --help hint. */
function commandPath(program: Command, args: string[]): string {
  const names = [program.name()];
  let cmd = program;
  for (const arg of args) {
    const sub = cmd.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (!sub) break;
    names.push(arg);
    cmd = sub;
  }
  return names.join(' ');
}

/** Print a usage error and give the exit code; --help and --version end here too, with 0. */
export function reportUsageError(err: CommanderError, program: Command, args: string[], lang: Lang): number {
  if (err.exitCode === 0) return 0;
  // a command group without its subcommand (`yubin server`): commander printed its help
  if (err.code === 'commander.help') return EXIT_BAD_INPUT;
  process.stderr.write(`yubin: ${usageMessage(lang, err)}\n${t(lang, 'cli.usage.help', { command: commandPath(program, args) })}\n`);
  return EXIT_BAD_INPUT;
}
