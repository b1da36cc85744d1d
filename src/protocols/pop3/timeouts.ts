// Every limit the POP3 client enforces, as named constants (overridable per client
// through Pop3ClientOptions.timeouts, mainly so that tests need not wait).

/** TCP connect, plus the TLS handshake for implicit TLS (port 995). */
export const CONNECT_TIMEOUT = 30_000;
/** From an open connection to the server's +OK greeting. */
export const GREETING_TIMEOUT = 30_000;
/** STLS: from the +OK to a finished TLS handshake (RFC 2595 §4). */
export const TLS_HANDSHAKE_TIMEOUT = 30_000;
/**
 * From the moment a command's reply is next in line until its status line is complete.
 * Generous because some servers (Gmail) scan the whole mailbox after PASS, and QUIT
 * expunges the deleted messages before it answers.
 */
export const COMMAND_TIMEOUT = 120_000;
/** Longest silence allowed inside a multi-line body (RETR, TOP, LIST, UIDL, CAPA). */
export const DATA_IDLE_TIMEOUT = 120_000;

/** Status lines are short (RFC 2449 §4: 512 octets); refuse to buffer a runaway one. */
export const MAX_STATUS_LINE_BYTES = 64 * 1024;
/** Commands in flight at once when the server advertises PIPELINING (RFC 2449 §6.6). */
export const PIPELINE_WINDOW = 64;

export interface Pop3Timeouts {
  connect: number;
  greeting: number;
  tlsHandshake: number;
  command: number;
  dataIdle: number;
}

export const DEFAULT_TIMEOUTS: Readonly<Pop3Timeouts> = Object.freeze({
  connect: CONNECT_TIMEOUT,
  greeting: GREETING_TIMEOUT,
  tlsHandshake: TLS_HANDSHAKE_TIMEOUT,
  command: COMMAND_TIMEOUT,
  dataIdle: DATA_IDLE_TIMEOUT,
});
