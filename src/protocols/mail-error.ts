// The one error type for mail work (POP3, IMAP4, SMTP, TLS). A stable UPPER_SNAKE
// `code` from MAIL_ERROR_CODES, a `kind` that decides what the caller does next
// (retry later, give up, ask for new credentials, fix the settings), and the
// command and server reply that caused it. Protocol code throws only MailError.

export type MailErrorKind = 'transient' | 'permanent' | 'auth' | 'tls' | 'config';

export const MAIL_ERROR_CODES = [
  'CONNECT_FAILED', // DNS or TCP failure
  'CONNECTION_CLOSED', // the server closed or reset the connection
  'TIMEOUT', // a named timeout expired
  'TLS_FAILED', // handshake or certificate verification failed
  'STARTTLS_UNSUPPORTED', // encryption=starttls but the server does not offer it
  'GREETING_FAILED', // the server greeted with an error
  'WRONG_PROTOCOL', // another protocol's server answered (a POP3 port in an IMAP setting…)
  'AUTH_FAILED', // credentials refused
  'AUTH_UNSUPPORTED', // no common authentication mechanism
  'APOP_UNSUPPORTED', // APOP asked for, no timestamp in the greeting
  'UIDL_UNSUPPORTED', // POP3 server without UIDL: nothing is received or deleted
  'MAILBOX_IN_USE', // POP3 [IN-USE]
  'SERVER_TEMPORARY', // POP3 [SYS/TEMP], SMTP 4xx, IMAP NO [UNAVAILABLE]
  'SERVER_PERMANENT', // POP3 [SYS/PERM], SMTP 5xx
  'PROTOCOL_ERROR', // the server said something we cannot understand
  'COMMAND_FAILED', // -ERR / NO / BAD without a more specific meaning
  'MESSAGE_TOO_LARGE', // over the configured or advertised size limit
  'MAILBOX_NOT_FOUND', // IMAP: no INBOX
  'OAUTH_NOT_CONNECTED', // a preset account without an OAuth 2.0 grant yet
  'OAUTH_REAUTHORIZE', // the grant is dead (revoked, expired, consent): the administrator must re-authorize
  'OAUTH_PROVIDER', // the token endpoint failed for now (network, 5xx): try again later
] as const;
export type MailErrorCode = (typeof MAIL_ERROR_CODES)[number];

export interface MailErrorOptions {
  kind: MailErrorKind;
  command?: string | undefined;
  response?: string | undefined;
  /** SMTP reply code (e.g. 550) when there was one */
  responseCode?: number | undefined;
  cause?: unknown;
}

export class MailError extends Error {
  override readonly name = 'MailError';
  readonly code: MailErrorCode;
  readonly kind: MailErrorKind;
  readonly command: string | undefined;
  readonly response: string | undefined;
  readonly responseCode: number | undefined;

  constructor(code: MailErrorCode, message: string, options: MailErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.kind = options.kind;
    this.command = options.command;
    this.response = options.response;
    this.responseCode = options.responseCode;
  }

  /** Worth trying again later without changing any setting. */
  get retryable(): boolean {
    return this.kind === 'transient';
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      kind: this.kind,
      message: this.message,
      command: this.command,
      response: this.response,
      responseCode: this.responseCode,
    };
  }
}

export function isMailError(err: unknown): err is MailError {
  return err instanceof MailError;
}

/** Map a node:net / node:tls error to a MailError (for code outside a protocol reply). */
export function fromSocketError(err: unknown, command?: string): MailError {
  if (err instanceof MailError) return err;
  const e = err as NodeJS.ErrnoException & { code?: string };
  const code = e?.code ?? '';
  const message = e?.message ?? String(err);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new MailError('CONNECT_FAILED', message, { kind: 'transient', command, cause: err });
  }
  if (code === 'ETIMEDOUT') return new MailError('TIMEOUT', message, { kind: 'transient', command, cause: err });
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED') {
    return new MailError('CONNECTION_CLOSED', message, { kind: 'transient', command, cause: err });
  }
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /certificate|self[- ]signed|SSL|TLS/i.test(code + ' ' + message)) {
    return new MailError('TLS_FAILED', message, { kind: 'tls', command, cause: err });
  }
  return new MailError('CONNECTION_CLOSED', message, { kind: 'transient', command, cause: err });
}
