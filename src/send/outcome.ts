// What one attempt means for one recipient — decided here and nowhere else, on top of the
// SMTP classifier (src/protocols/smtp/smtp-reply.ts), Haraka-style:
//   2xx                              → sent
//   4xx, network errors, timeouts    → deferred, retried after 1, 5, 15, 60, 240 minutes,
//                                      then every 4 hours, until 24 hours after the mail was
//                                      queued; then failed
//   5xx, TLS and settings errors     → failed at once
//   authentication refused (535 …)   → failed, and the account is flagged
//   OAuth grant unusable (presets:    → deferred on the schedule above without contacting
//   OAUTH_REAUTHORIZE, _NOT_CONNECTED)  any server; re-authorizing sends them at once
//                                      (src/oauth/authorization.ts); failed after 24 hours
// The SMTP code and reply are kept in every case where the server gave one.
import { isMailError, MailError } from '../protocols/mail-error.ts';
import type { SmtpRecipientResult } from '../protocols/smtp/smtp-client.ts';
import { classifySmtpResult } from '../protocols/smtp/smtp-reply.ts';

const MINUTE = 60_000;
/** Delays before the 2nd, 3rd, … attempt. */
export const RETRY_DELAYS_MS = [1, 5, 15, 60, 240].map((m) => m * MINUTE);
/** After the schedule above: every 4 hours … */
export const LATER_RETRY_MS = 240 * MINUTE;
/** … until this long after the mail was queued. */
export const GIVE_UP_AFTER_MS = 24 * 60 * MINUTE;

const WAITS_FOR_ADMINISTRATOR = new Set(['OAUTH_REAUTHORIZE', 'OAUTH_NOT_CONNECTED']);

export interface DeliveryDecision {
  status: 'sent' | 'deferred' | 'failed';
  /** the server refused the account's credentials: flag the account */
  authFailure: boolean;
  /** deferred: when to try again (ISO) */
  nextAttemptAt?: string | undefined;
  code?: number | undefined;
  reply?: string | undefined;
  /** MailError code, or GAVE_UP when the retry time ran out */
  errorCode?: string | undefined;
  errorMessage?: string | undefined;
}

export interface AttemptContext {
  /** attempts so far, this one included */
  attempts: number;
  /** when the recipient was queued (ISO) */
  queuedAt: string;
  now: Date;
}

/** When to try again after `attempts` failed attempts, or undefined when it is time to give up. */
export function nextRetryAt(attempts: number, queuedAt: string, now: Date): Date | undefined {
  const delay = RETRY_DELAYS_MS[attempts - 1] ?? LATER_RETRY_MS;
  const next = now.getTime() + delay;
  if (next - Date.parse(queuedAt) > GIVE_UP_AFTER_MS) return undefined;
  return new Date(next);
}

/**
 * The one decision for one recipient's attempt: an accepted recipient (`outcome: 'sent'`),
 * a refused one (a rejection with its outcome and error), or whatever failed the whole
 * transaction (a MailError or any other error).
 */
export function decideDelivery(result: SmtpRecipientResult | MailError | Error, ctx: AttemptContext): DeliveryDecision {
  let outcome: 'sent' | 'temporary' | 'permanent' | 'auth';
  let code: number | undefined;
  let reply: string | undefined;
  let error: Error | undefined;
  if (isMailError(result) && WAITS_FOR_ADMINISTRATOR.has(result.code)) {
    // the mail waits for the administrator to (re)connect the account: never lost, never
    // failed as an SMTP refusal, and no SMTP or provider connection is made meanwhile
    outcome = 'temporary';
    error = result;
  } else if (result instanceof Error) {
    ({ outcome, code, reply } = classifySmtpResult(result));
    // an error is never a sent mail, whatever its last reply says: a connection cut inside a
    // multi-line 250 (EHLO) leaves "250-…" as the reply of a failed greeting
    if (outcome === 'sent') outcome = 'temporary';
    error = result;
  } else {
    outcome = result.outcome;
    code = result.code;
    reply = result.reply;
    // a refused recipient comes classified by the SMTP client, with its MailError
    error = (result as { error?: Error }).error;
  }
  const errorCode = error ? (isMailError(error) ? error.code : 'COMMAND_FAILED') : undefined;
  const errorMessage = error?.message;
  const base = { code, reply, errorCode, errorMessage };
  switch (outcome) {
    case 'sent':
      return { status: 'sent', authFailure: false, code, reply };
    case 'permanent':
      return { status: 'failed', authFailure: false, ...base };
    case 'auth':
      return { status: 'failed', authFailure: true, ...base };
    case 'temporary': {
      const next = nextRetryAt(ctx.attempts, ctx.queuedAt, ctx.now);
      if (!next) {
        return {
          status: 'failed',
          authFailure: false,
          code,
          reply,
          errorCode: 'GAVE_UP',
          errorMessage: `gave up after ${ctx.attempts} attempts over ${GIVE_UP_AFTER_MS / 3_600_000} hours; last error: ${errorMessage ?? reply ?? 'temporary failure'}`,
        };
      }
      return { status: 'deferred', authFailure: false, nextAttemptAt: next.toISOString(), ...base };
    }
  }
}

/** A failure that happened before any SMTP exchange (settings, no credentials): fail now. */
export function configFailure(message: string): MailError {
  return new MailError('COMMAND_FAILED', message, { kind: 'config' });
}
