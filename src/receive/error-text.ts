// A failed receive run, or a recipient's failed send, in the reader's language. What is
// stored is in machine terms (a MailError code, the socket errno or certificate code when
// there was one, and the error's own English text); the API and the CLI turn that into one
// sentence here, with the connection test's vocabulary of reasons
// (connection-test-messages.ts).
//
//   receiveErrorText('ja', { code: 'TLS_FAILED', reason: 'ERR_SSL_WRONG_VERSION_NUMBER', message: '80EC…:error:0A00010B:SSL routines…' })
//   → 受信できませんでした: サーバーがTLSで応答しません。暗号化なしのポートかもしれません
import { t, type Lang } from '../i18n/index.ts';
import { ctMessage, reasonKey } from './connection-test-messages.ts';
import { oneLine } from './connection-test-stages.ts';

export interface StoredMailFailure {
  code: string;
  /** the error's own text (English: a server reply, a socket or OpenSSL message) */
  message: string;
  /** the socket errno or certificate code (ECONNREFUSED, ERR_SSL_…), when known */
  reason?: string | undefined;
}

export interface LocalizedReceiveError {
  code: string;
  /** one sentence in the reader's language */
  message: string;
  /** the error's own text, as stored */
  detail: string;
}

export function receiveErrorText(lang: Lang, e: StoredMailFailure): string {
  return t(lang, 'receive.failed', { reason: mailFailureReason(lang, e) });
}

/**
 * A recipient's send failure in the reader's language ("送信できませんでした: …"); a failure
 * that is the server's own reply (5xx, 4xx) is left in its words, which the reply field
 * holds too.
 */
export function sendErrorText(lang: Lang, e: StoredMailFailure, reply: string | null): string {
  if (reply && e.message === reply) return e.message;
  return t(lang, 'send.failed', { reason: mailFailureReason(lang, e) });
}

/** Why, in a few words: the errno or certificate code's, else the code's followed by the error's own text. */
function mailFailureReason(lang: Lang, e: StoredMailFailure): string {
  // an errno or certificate code says it all (its text is OpenSSL's or libuv's); a MailError
  // code is followed by the error's text, which holds the server's reply
  const byReason = e.reason ? reasonKey(e.reason) : undefined;
  const byCode = reasonKey(e.code);
  const detail = oneLine(e.message);
  let reason: string;
  if (byReason) reason = ctMessage(lang, byReason);
  else if (byCode) reason = detail ? `${ctMessage(lang, byCode)}${lang === 'ja' ? `（${detail}）` : ` (${detail})`}` : ctMessage(lang, byCode);
  else reason = detail || e.code;
  return reason;
}

export function localizeReceiveErrors(lang: Lang, errors: readonly StoredMailFailure[]): LocalizedReceiveError[] {
  return errors.map((e) => ({ code: e.code, message: receiveErrorText(lang, e), detail: e.message }));
}
