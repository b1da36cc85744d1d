// Shared plumbing for CLI commands: open the app context from the environment,
// print results (--json or human text), and turn errors into a localized
// message on stderr with a non-zero exit code (2 for bad input, 1 otherwise).
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { destination, pino } from 'pino';
import { ConfigError, loadConfig } from '../config/env.ts';
import { AppError } from '../domain/errors.ts';
import { langFromEnv, t, type Lang, type MessageKey } from '../i18n/index.ts';
import { MailError } from '../protocols/mail-error.ts';
import type { AppContext } from '../services/context.ts';

export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

export async function withContext<T>(fn: (ctx: AppContext) => Promise<T>): Promise<T> {
  // the environment is checked first: a bad YUBIN_LOG_LEVEL is a message naming it, not
  // pino's "default level:… must be included in custom levels" with a stack trace
  const config = loadConfig();
  const level = config.logLevel ?? 'warn';
  // a command's warnings are read by a person: one line each, not pino's JSON (kept at debug
  // and trace, for diagnosis, and for serve and worker, whose logs go to a collector)
  const log = pino({ level }, level === 'debug' || level === 'trace' ? destination(2) : { write: (line: string) => void process.stderr.write(humanLogLine(line)) });
  // loaded here, not at the top: `yubin --version` and usage errors need no database
  const { openContext } = await import('../services/context.ts');
  const ctx = await openContext(config, { log });
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

/** Fields every line has, or that only tell which process said it. */
const LOG_NOISE = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'component', 'holder', 'reqId']);
const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'fatal' };

/** A pino JSON line as "yubin: warning: SMTP connection failed (host=127.0.0.1 port=1 …)". */
export function humanLogLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const fields = Object.entries(o)
    .filter(([k, v]) => !LOG_NOISE.has(k) && v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? ((v as { message?: unknown }).message ?? JSON.stringify(v)) : String(v)}`);
  return `yubin: ${LEVEL_NAMES[Number(o.level)] ?? 'log'}: ${String(o.msg ?? '')}${fields.length ? ` (${fields.join(' ')})` : ''}\n`;
}

/** The actor recorded in the audit log for CLI changes. */
export function cliActor(): string {
  return `cli:${process.env.SUDO_USER ?? process.env.USER ?? safeUsername()}`;
}

function safeUsername(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

export function output(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : human() + '\n');
}

export function reportError(err: unknown): number {
  const lang = langFromEnv();
  if (err instanceof AppError) {
    const body = err.localized(lang);
    process.stderr.write(`yubin: ${body.message}\n`);
    return err.code === 'VALIDATION' || err.code === 'MALFORMED_JSON' ? EXIT_BAD_INPUT : EXIT_FAILURE;
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`yubin: ${err.localized(lang)}\n`);
    return EXIT_BAD_INPUT;
  }
  if (err instanceof MailError) {
    process.stderr.write(`yubin: ${err.code}: ${err.message}${err.response ? ` (${err.response})` : ''}\n`);
    return EXIT_FAILURE;
  }
  // the system said no (a refused or silent PostgreSQL, a file it cannot write): its message
  // is the news; the stack only with YUBIN_LOG_LEVEL=debug
  const e = err as (Error & { code?: unknown; syscall?: unknown }) | undefined;
  const system = typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code);
  const database = /timeout exceeded when trying to connect|Connection terminated/.test(e?.message ?? '') || (system && process.env.YUBIN_DATABASE_URL && /pg-pool|[\\/]pg[\\/]/.test(e?.stack ?? ''));
  if (system || database) {
    const hint = database ? ` (YUBIN_DATABASE_URL: ${t(lang, 'cli.databaseUnreachable')})` : '';
    process.stderr.write(`yubin: ${e!.message}${hint}\n${process.env.YUBIN_LOG_LEVEL?.trim() === 'debug' ? `${e!.stack}\n` : ''}`);
    return EXIT_FAILURE;
  }
  process.stderr.write(`yubin: ${e?.stack ?? String(err)}\n`);
  return EXIT_FAILURE;
}

/** Read all of stdin as text (for --password-stdin; files and --input - go through file-input.ts). */
export function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

/** "110" → 110; anything that is not a plain integer stays a string so validation names it. */
export function intOrString(value: string): number | string {
  return /^-?\d+$/.test(value.trim()) ? Number(value) : value;
}

/** A size or rate limit: "none" → null, else intOrString. */
export function limit(value: string): number | string | null {
  return value.trim().toLowerCase() === 'none' ? null : intOrString(value);
}

/** A human line in the user's language (YUBIN_LANG, else LANG/LC_ALL; Japanese by default). */
export function say(key: MessageKey, params: Record<string, unknown> = {}, lang: Lang = langFromEnv()): string {
  return t(lang, key, params);
}

/**
 * A code the web UI shows as a word (a status, a reason): "送信済み (sent)" in Japanese, so the
 * code a script may grep stays visible; the bare code where the word is the code (English) or
 * the catalogue has no word for it.
 */
export function codeWord(prefix: string, code: string, lang: Lang = langFromEnv()): string {
  const key = `${prefix}.${code}`;
  const word = t(lang, key);
  return word === key || word === code ? code : `${word} (${code})`;
}

/** How many terminal columns a text takes: CJK and fullwidth characters take two, combining marks none. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (/\p{Mn}|\p{Me}|\p{Cf}/u.test(ch)) continue;
    width += isWide(cp) ? 2 : 1;
  }
  return width;
}

/** East Asian Wide and Fullwidth (the ranges a Japanese terminal draws double). */
function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** `text` padded with spaces to `width` terminal columns. */
export function padDisplay(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

/** Columns two spaces apart, aligned by terminal width (a Japanese header or name takes two columns a character). */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => displayWidth(r[i] ?? ''))));
  return rows.map((r) => r.map((c, i) => padDisplay(c, widths[i]!)).join('  ').trimEnd()).join('\n');
}
