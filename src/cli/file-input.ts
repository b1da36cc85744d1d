// What the command line reads from a file option or from stdin ("-"): the bytes, a text
// (a body or a template), or --input's JSON object. A missing file, a folder, an unreadable
// file, bytes that are not text and JSON that is not an object are bad input naming the
// option and the path (exit 2, ja/en), never a Node stack trace; and only one option may
// read stdin, since a second one would silently get nothing.
import { readFileSync } from 'node:fs';
import { AppError, MessageRef } from '../domain/errors.ts';
import { UNSAFE_TEXT } from '../domain/validation.ts';
import type { MessageKey } from '../i18n/index.ts';
import { decodeCsv } from '../send/csv.ts';

/** All of stdin as bytes: a Shift_JIS CSV piped in must decode like the same file. */
export function readStdinBytes(): Buffer {
  try {
    return readFileSync(0);
  } catch {
    return Buffer.alloc(0);
  }
}

const FILE_ERRORS: Record<string, MessageKey> = {
  ENOENT: 'cli.file.notFound',
  // a/b where a is a file: no such file either, as a user sees it
  ENOTDIR: 'cli.file.notFound',
  EISDIR: 'cli.file.isFolder',
  EACCES: 'cli.file.notReadable',
  EPERM: 'cli.file.notReadable',
};

/** The option and the path as the message shows them: "-" read from stdin is 標準入力 / stdin. */
function where(option: string, path: string, stdin = true): { option: string; path: string | MessageRef } {
  return { option, path: stdin && path === '-' ? new MessageRef('cli.stdin') : path };
}

/** The bytes of the file an option names; "-" is stdin unless the option says otherwise (--attach). */
export function readFileOption(option: string, path: string, { stdin = true }: { stdin?: boolean } = {}): Buffer {
  if (stdin && path === '-') return readStdinBytes();
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    throw new AppError('VALIDATION', FILE_ERRORS[code] ?? 'cli.file.unreadable', { ...where(option, path, stdin), reason: code || String(err) });
  }
}

/** What iconv makes of bytes that are not Shift_JIS either: U+FFFD, or a C1 control for 0x80. */
const NOT_SHIFT_JIS = /[\u0080-\u009f\ufffd]/;

/**
 * A body or template file. Decoded like a recipients CSV (UTF-8 with or without BOM, UTF-16
 * with BOM, else Shift_JIS): Windows editors in Japan still save Shift_JIS, and the same
 * `bulk create` takes a Shift_JIS CSV. Bytes that are neither are refused rather than sent
 * as U+FFFD, and a binary file is called what it is.
 */
export function readTextOption(option: string, path: string): string {
  const { text, encoding } = decodeCsv(readFileOption(option, path));
  if (UNSAFE_TEXT.test(text)) throw new AppError('VALIDATION', 'cli.file.notText', where(option, path));
  if (encoding === 'shift_jis' && NOT_SHIFT_JIS.test(text)) throw new AppError('VALIDATION', 'cli.file.encoding', where(option, path));
  return text;
}

/** --input: the API's JSON body, which is always an object; UTF-8 like the API's. */
export function readJsonOption(option: string, path: string): Record<string, unknown> {
  const bytes = readFileOption(option, path);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new AppError('VALIDATION', 'cli.input.notUtf8', where(option, path));
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AppError('MALFORMED_JSON', 'cli.input.json', { ...where(option, path), detail: (err as Error).message });
  }
  if (!isObject(value)) throw new AppError('VALIDATION', 'cli.input.notObject', where(option, path));
  return value;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Refuse two options that both read stdin (`--input -` with `--password-stdin`, `--csv -`
 * with `--text-file -`…): the first would take it all and the second get nothing.
 */
export function refuseSharedStdin(readers: [option: string, readsStdin: boolean | undefined][]): void {
  const using = readers.filter(([, on]) => on).map(([option]) => option);
  if (using.length > 1) throw new AppError('VALIDATION', 'cli.stdin.twice', { first: using[0], second: using[1] });
}
