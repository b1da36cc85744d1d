// The CLI's own numeric and enum options, the ones no service schema checks (page sizes,
// cursors, a run's cap, a status filter): one parser per kind, run by commander while it
// reads the command line, so a bad value is refused before any database is opened, as bad
// input naming the option (exit 2, ja/en). Options that become API fields (ports, limits,
// intervals…) are left to the service, whose validation names the field.
import { Option } from 'commander';
import { AppError } from '../domain/errors.ts';

export interface IntegerRange {
  min: number;
  /** omitted: any safe integer */
  max?: number;
}

/** "50" → 50; anything else, or out of range, is bad input naming the option. */
export function parseInteger(option: string, value: string, { min, max }: IntegerRange): number {
  const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (Number.isSafeInteger(n) && n >= min && (max === undefined || n <= max)) return n;
  throw max === undefined
    ? new AppError('VALIDATION', 'cli.option.integerMin', { option, min, value })
    : new AppError('VALIDATION', 'cli.option.integerRange', { option, min, max, value });
}

/** The value if it is one of `allowed`, else bad input naming the option and listing them. */
export function parseChoice<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new AppError('VALIDATION', 'cli.option.choice', { option, allowed: allowed.join(', '), value });
}

/** An option taking an integer in a range, e.g. integerOption('--limit <n>', '…', { min: 1, max: 1000 }). */
export function integerOption(flags: string, description: string, range: IntegerRange): Option {
  const option = new Option(flags, description);
  return option.argParser((value: string) => parseInteger(option.long ?? option.flags, value, range));
}

/** An option taking one of a few words. */
export function choiceOption(flags: string, description: string, allowed: readonly string[]): Option {
  const option = new Option(flags, description);
  return option.argParser((value: string) => parseChoice(option.long ?? option.flags, value, allowed));
}
