// The logger the POP3 client writes to: any pino-compatible object. Event names are
// stable (`pop3.command`, `pop3.reply`, ...); secrets never reach it (see
// protocol/request.ts for how commands are redacted).

export interface Pop3Logger {
  debug(obj: Record<string, unknown>, msg?: string): void;
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
}

const noop = (): void => {};
export const SILENT_LOGGER: Pop3Logger = { debug: noop, info: noop, warn: noop, error: noop };
