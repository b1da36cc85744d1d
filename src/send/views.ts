// Database rows of sending → the API's shapes (schemas.ts).
import type { DeliveryRecipientTable, DeliveryTable } from '../store/schema.ts';
import type { Lang } from '../i18n/index.ts';
import { sendErrorText } from '../receive/error-text.ts';
import type { Delivery, DeliveryRecipient } from './schemas.ts';

type Status = Delivery['status'];

/** One status for a mail from its recipients': work in progress first, then failed over sent. */
export function aggregateStatus(statuses: string[]): Status {
  const has = (s: string) => statuses.includes(s);
  if (has('sending')) return 'sending';
  if (has('queued')) return 'queued';
  if (has('deferred')) return 'deferred';
  if (statuses.length > 0 && statuses.every((s) => s === 'cancelled')) return 'cancelled';
  if (has('failed')) return 'failed';
  if (has('sent')) return 'sent';
  return 'cancelled';
}

export function recipientView(r: DeliveryRecipientTable, lang: Lang = 'ja'): DeliveryRecipient {
  return { address: r.address, kind: r.kind as DeliveryRecipient['kind'], ...recipientOutcome(r, lang) };
}

/** What became of a recipient, as a single send's and a bulk delivery's recipients show it. */
export function recipientOutcome(
  r: Pick<DeliveryRecipientTable, 'status' | 'attempts' | 'next_attempt_at' | 'code' | 'reply' | 'error_code' | 'error_message' | 'sent_at'>,
  lang: Lang,
): Pick<DeliveryRecipient, 'status' | 'attempts' | 'nextAttemptAt' | 'code' | 'reply' | 'error' | 'sentAt'> {
  return {
    status: r.status as DeliveryRecipient['status'],
    attempts: Number(r.attempts),
    nextAttemptAt: r.status === 'deferred' ? r.next_attempt_at : null,
    code: r.code === null ? null : Number(r.code),
    reply: r.reply,
    error: recipientError(lang, r),
    sentAt: r.sent_at,
  };
}

/** A recipient's error: its code, a sentence in `lang`, and the error's own text as `detail`. */
export function recipientError(lang: Lang, r: Pick<DeliveryRecipientTable, 'error_code' | 'error_message' | 'reply'>): DeliveryRecipient['error'] {
  if (!r.error_code) return null;
  const detail = r.error_message ?? '';
  return { code: r.error_code, message: sendErrorText(lang, { code: r.error_code, message: detail }, r.reply), detail };
}

export function deliveryView(d: DeliveryTable, recipients: DeliveryRecipientTable[], lang: Lang = 'ja'): Delivery {
  return {
    id: d.id,
    accountId: d.account_id,
    bulkDeliveryId: d.bulk_id,
    status: aggregateStatus(recipients.map((r) => r.status)),
    subject: d.subject,
    messageId: d.message_id,
    size: d.size === null ? null : Number(d.size),
    charset: d.charset as Delivery['charset'],
    charsetFallback: d.charset_fallback ? (JSON.parse(d.charset_fallback) as string[]) : null,
    createdAt: d.created_at,
    recipients: recipients.map((r) => recipientView(r, lang)),
  };
}
