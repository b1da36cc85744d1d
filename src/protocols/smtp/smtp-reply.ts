// SMTP results decided in one place (RFC 5321 §4.2 reply codes, RFC 3463 enhanced status
// codes), in the spirit of Stalwart's Completed | TemporaryFailure | PermanentFailure and
// Haraka's outbound: 2xx/3xx sent; 4xx, network errors and timeouts temporary (retry with
// backoff); 5xx permanent (fail the delivery now); 530/534/535 authentication (stop and ask
// for new credentials). Every match on reply text lives in this file.
//
// `smtpErrorToMailError` turns what nodemailer's SMTPConnection reports (an Error with its
// own `code` such as EAUTH / EENVELOPE / EMESSAGE, plus `response` and `command`) into the
// one MailError of this project.
import { wrongProtocolError } from '../greeting.ts';
import { fromSocketError, isMailError, MailError } from '../mail-error.ts';
import type { MailErrorCode, MailErrorKind } from '../mail-error.ts';

export type SmtpOutcome = 'sent' | 'temporary' | 'permanent' | 'auth';

export interface SmtpClassification {
  outcome: SmtpOutcome;
  /** The reply code (e.g. 550), when there was a reply. */
  code?: number;
  /** The full reply text, as the server sent it. */
  reply?: string;
}

export interface ParsedSmtpReply {
  code: number | undefined;
  /** RFC 3463 enhanced status code such as "5.1.1", when the server sent one. */
  enhanced: string | undefined;
}

/** What nodemailer's SMTPConnection attaches to its errors. */
interface NodemailerSmtpError extends Error {
  code?: string;
  response?: string;
  responseCode?: number;
  command?: string;
}

/** The reply's code alone (what parseSmtpReply reads first), without a regular expression: several per mail sent. */
export function replyCode(reply: string): number | undefined {
  let i = 0;
  // leading white space as \s reads it in a latin1-decoded reply
  for (let ch = reply.charCodeAt(0); ch === 0x20 || ch === 0xa0 || (ch >= 0x09 && ch <= 0x0d); ch = reply.charCodeAt(++i));
  const a = reply.charCodeAt(i) - 0x30;
  const b = reply.charCodeAt(i + 1) - 0x30;
  const c = reply.charCodeAt(i + 2) - 0x30;
  if (!(a >= 2 && a <= 5 && b >= 0 && b <= 9 && c >= 0 && c <= 9)) return undefined;
  return a * 100 + b * 10 + c;
}

export function parseSmtpReply(reply: string): ParsedSmtpReply {
  const m = /^\s*([2-5]\d\d)(?:[ -]([245]\.\d{1,3}\.\d{1,3})\b)?/.exec(reply);
  return { code: m?.[1] === undefined ? undefined : Number(m[1]), enhanced: m?.[2] };
}

const AUTH_CODES = new Set([530, 534, 535]);
// 5.7.8 authentication credentials invalid (RFC 4954); 5.7.139 Exchange Online's
// "Authentication unsuccessful" family (basic auth or SMTP AUTH disabled for the tenant)
const AUTH_ENHANCED = new Set(['5.7.8', '5.7.139']);

function classifyReply(reply: string): SmtpClassification {
  const { code, enhanced } = parseSmtpReply(reply);
  if (code === undefined) {
    // no reply code we can read: treat like a network fault, worth another try
    return { outcome: 'temporary', reply };
  }
  if (code < 400) return { outcome: 'sent', code, reply };
  if (code < 500) return { outcome: 'temporary', code, reply };
  // Gmail and Postfix answer "530 5.7.0 Must issue a STARTTLS command first" to AUTH or MAIL
  // on a plain connection: a settings problem, not the credentials
  if (code === 530 && /STARTTLS/i.test(reply)) return { outcome: 'permanent', code, reply };
  if (AUTH_CODES.has(code) || (enhanced !== undefined && AUTH_ENHANCED.has(enhanced))) return { outcome: 'auth', code, reply };
  return { outcome: 'permanent', code, reply };
}

function outcomeOfKind(kind: MailErrorKind): SmtpOutcome {
  if (kind === 'transient') return 'temporary';
  if (kind === 'auth') return 'auth';
  // tls and config failures do not heal by waiting: fail now, with the error shown
  return 'permanent';
}

/**
 * Classify an SMTP reply (a string such as "250 2.0.0 OK") or a failure (a MailError, a
 * nodemailer SMTP error, a socket error). Replies decide by their code; failures without a
 * reply by their kind: network errors and timeouts are temporary, TLS and settings errors
 * permanent.
 */
export function classifySmtpResult(result: string | Error | { response?: string | undefined }): SmtpClassification {
  if (typeof result === 'string') return classifyReply(result);
  if (isMailError(result)) {
    if (result.response !== undefined && parseSmtpReply(result.response).code !== undefined) return classifyReply(result.response);
    return { outcome: outcomeOfKind(result.kind) };
  }
  const response = (result as { response?: unknown }).response;
  if (typeof response === 'string' && parseSmtpReply(response).code !== undefined) return classifyReply(response);
  if (result instanceof Error) return { outcome: outcomeOfKind(smtpErrorToMailError(result).kind) };
  return { outcome: 'temporary' };
}

/** The MailError for an SMTP reply that ended `command` (e.g. 'RCPT TO', 'DATA'). */
export function smtpReplyError(reply: string, command: string, cause?: unknown): MailError {
  const { outcome, code } = classifyReply(reply);
  const { enhanced } = parseSmtpReply(reply);
  const text = reply.replace(/\r?\n/g, ' ');
  let errorCode: MailErrorCode;
  let kind: MailErrorKind;
  if (command === 'GREETING') {
    errorCode = 'GREETING_FAILED';
    kind = outcome === 'temporary' ? 'transient' : 'permanent';
  } else if (command.startsWith('AUTH')) {
    if (outcome === 'temporary') [errorCode, kind] = ['SERVER_TEMPORARY', 'transient'];
    // 502 not implemented, 504 mechanism not supported (RFC 4954 §4), 503 Postfix "authentication not enabled"
    else if (code === 502 || code === 503 || code === 504) [errorCode, kind] = ['AUTH_UNSUPPORTED', 'config'];
    else if (code === 530 && outcome === 'permanent') [errorCode, kind] = ['COMMAND_FAILED', 'config'];
    else [errorCode, kind] = ['AUTH_FAILED', 'auth'];
  } else if (command === 'STARTTLS') {
    errorCode = 'TLS_FAILED';
    kind = outcome === 'temporary' ? 'transient' : 'tls';
  } else if (outcome === 'temporary') {
    [errorCode, kind] = ['SERVER_TEMPORARY', 'transient'];
  } else if (outcome === 'auth') {
    [errorCode, kind] = ['AUTH_FAILED', 'auth'];
  } else if (outcome === 'sent') {
    // a positive reply where a failure was reported: nodemailer expected another code
    [errorCode, kind] = ['PROTOCOL_ERROR', 'transient'];
  } else if (enhanced !== undefined && /^5\.(3\.4|2\.3)$/.test(enhanced)) {
    // 5.3.4 message too big for system, 5.2.3 message length exceeds administrative limit
    [errorCode, kind] = ['MESSAGE_TOO_LARGE', 'permanent'];
  } else if (code === 530) {
    [errorCode, kind] = ['COMMAND_FAILED', 'config'];
  } else {
    [errorCode, kind] = ['SERVER_PERMANENT', 'permanent'];
  }
  return new MailError(errorCode, `SMTP ${command} failed: ${text}`, { kind, command, response: reply, responseCode: code, cause });
}

export interface SmtpErrorContext {
  /** The command to name when nodemailer did not say which one failed. */
  command?: string | undefined;
  /** True while connecting: a reply to no command ('CONN') is then the greeting. */
  connecting?: boolean | undefined;
}

/** Map anything SMTPConnection (or a socket under it) throws to a MailError. */
export function smtpErrorToMailError(err: unknown, context: SmtpErrorContext = {}): MailError {
  if (isMailError(err)) return err;
  const e = (err ?? {}) as NodemailerSmtpError;
  let command = e.command && e.command !== 'API' ? e.command : context.command;
  const message = e.message ?? String(err);
  if (typeof e.response === 'string' && parseSmtpReply(e.response).code !== undefined) {
    if (command === 'CONN' && context.connecting) command = 'GREETING';
    return smtpReplyError(e.response, command ?? 'SMTP', err);
  }
  // a first line that is not an SMTP reply (nodemailer: "Invalid greeting"): another protocol's port
  if (e.code === 'EPROTOCOL' && command === 'CONN' && typeof e.response === 'string') return wrongProtocolError('SMTP', e.response);
  switch (e.code) {
    case 'ETIMEDOUT':
      return new MailError('TIMEOUT', message, { kind: 'transient', command, response: e.response, cause: err });
    case 'ETLS':
      return new MailError('TLS_FAILED', message, { kind: 'tls', command, response: e.response, cause: err });
    case 'ECONNECTION':
      return new MailError('CONNECTION_CLOSED', message, { kind: 'transient', command, response: e.response, cause: err });
    case 'EDNS':
      return new MailError('CONNECT_FAILED', message, { kind: 'transient', command, cause: err });
    case 'EAUTH':
      // no reply: nodemailer refused before asking the server (missing credentials, unknown mechanism)
      return new MailError('AUTH_FAILED', message, { kind: 'config', command, cause: err });
    case 'EMESSAGE':
      if (command === 'MAIL FROM') {
        // the message is larger than the SIZE the server advertised; nothing was sent
        return new MailError('MESSAGE_TOO_LARGE', message, { kind: 'permanent', command, cause: err });
      }
      return new MailError('COMMAND_FAILED', message, { kind: 'permanent', command, cause: err });
    case 'EENVELOPE':
    case 'EPROTOCOL':
      return new MailError(e.code === 'EPROTOCOL' ? 'PROTOCOL_ERROR' : 'COMMAND_FAILED', message, { kind: 'permanent', command, response: e.response, cause: err });
    default:
      // ESOCKET and plain socket errors: nodemailer replaced the errno code, so TLS failures
      // (certificate, handshake) are told apart by their message
      return fromSocketError(err, command);
  }
}
