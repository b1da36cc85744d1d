// Composing the mails of deliveries: From is the account's fromName and address, the
// envelope sender the account's address. A bulk mail is composed when it is sent, from the
// bulk delivery's templates and its CSV row; its Message-ID comes from the delivery id, so
// a retry sends the same Message-ID and a receiver can tell the copies apart from new mail.
import { BulkMailComposer, type ComposedBulkMail } from '../mail/compose-bulk.ts';
import { composeMail, type ComposeAttachment, type ComposedMail, type MailCharset } from '../mail/compose.ts';
import { subjectLine } from '../mail/subject.ts';
import { renderTemplate, templateFields } from '../mail/template.ts';
import { UNSUBSCRIBE_FIELD } from './unsubscribe.ts';

export interface Sender {
  fromName: string;
  address: string;
}

export interface BulkTemplates {
  subject: string;
  text: string | null;
  html: string | null;
  charset: MailCharset;
  /** the same Reply-To address in every mail of the delivery */
  replyTo?: string | null | undefined;
}

export interface ComposedDelivery extends ComposedMail {
  subject: string;
}

/** The Message-ID of a delivery's mail (a bulk mail's is written to its row when it is queued). */
export function messageIdFor(deliveryId: string, sender: Sender): string {
  const domain = sender.address.slice(sender.address.lastIndexOf('@') + 1) || 'yubin.invalid';
  return `<${deliveryId}@${domain}>`;
}

/** Replace the merge fields; a header holds one line, so line breaks (and other control characters) in the subject become spaces. */
export function renderBulk(t: BulkTemplates, fields: Readonly<Record<string, string>>): { subject: string; text: string | null; html: string | null } {
  return {
    subject: subjectLine(renderTemplate(t.subject, fields).text),
    text: t.text === null ? null : renderTemplate(t.text, fields).text,
    html: t.html === null ? null : renderTemplate(t.html, fields, { escapeHtml: true }).text,
  };
}

/** One bulk mail: one recipient in To; `listUnsubscribe`: this recipient's unsubscribe link. */
export async function composeBulkMail(t: BulkTemplates, sender: Sender, to: string, fields: Readonly<Record<string, string>>, deliveryId: string, date?: Date, listUnsubscribe?: string | null): Promise<ComposedDelivery> {
  const r = renderBulk(t, withLink(fields, listUnsubscribe));
  const mail = await composeMail({
    from: { name: sender.fromName, address: sender.address },
    to: [to],
    replyTo: t.replyTo,
    subject: r.subject,
    text: r.text,
    html: r.html,
    charset: t.charset,
    messageId: messageIdFor(deliveryId, sender),
    date,
    listUnsubscribe,
  });
  return { ...mail, subject: r.subject };
}

/** A bulk delivery's templates compiled once; each mail is then composed by `compose` (the same bytes as composeBulkMail). */
export interface CompiledBulkMail {
  /** `messageId`: the one written to the delivery's row when it was queued (else made from the delivery id, the same way). */
  compose(to: string, fields: Readonly<Record<string, string>>, deliveryId: string, date?: Date, messageId?: string): ComposedBulkMail | Promise<ComposedBulkMail>;
}

/** `unsubscribe`: each recipient's unsubscribe link (src/send/unsubscribe.ts), when the mails carry one. */
export async function compileBulkMail(t: BulkTemplates, sender: Sender, unsubscribe?: ((to: string) => string) | null): Promise<CompiledBulkMail> {
  const composer = await BulkMailComposer.compile({ from: { name: sender.fromName, address: sender.address }, replyTo: t.replyTo, subject: t.subject, text: t.text, html: t.html, charset: t.charset });
  if (!unsubscribe) return { compose: (to, fields, deliveryId, date, messageId) => composer.compose({ to, fields, messageId: messageId ?? messageIdFor(deliveryId, sender), date }) };
  // a copy of the fields per mail only when a template has the link in it
  const inTemplates = usesUnsubscribeField(t);
  return {
    compose: (to, fields, deliveryId, date, messageId) => {
      const link = unsubscribe(to);
      return composer.compose({ to, fields: inTemplates ? withLink(fields, link) : fields, messageId: messageId ?? messageIdFor(deliveryId, sender), date, listUnsubscribe: link });
    },
  };
}

/** A template of the delivery puts the unsubscribe link somewhere ({{unsubscribe_url}}). */
function usesUnsubscribeField(t: Pick<BulkTemplates, 'subject' | 'text' | 'html'>): boolean {
  return [t.subject, t.text, t.html].some((x) => x !== null && templateFields(x).includes(UNSUBSCRIBE_FIELD));
}

/** The row's fields with the recipient's unsubscribe link as {{unsubscribe_url}}. */
export function withLink(fields: Readonly<Record<string, string>>, link: string | null | undefined): Readonly<Record<string, string>> {
  return link ? { ...fields, [UNSUBSCRIBE_FIELD]: link } : fields;
}

export interface SingleMailInput {
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  text: string | null;
  html: string | null;
  attachments: ComposeAttachment[];
  charset: MailCharset;
  replyTo: string | null;
  /** with angle brackets (normalizeMessageId) */
  inReplyTo: string | null;
  references: string[];
}

/** A single send, composed when it is queued (its size is known before it is accepted). */
export async function composeSingleMail(input: SingleMailInput, sender: Sender, deliveryId: string): Promise<ComposedDelivery> {
  const subject = subjectLine(input.subject);
  const mail = await composeMail({
    from: { name: sender.fromName, address: sender.address },
    to: input.to,
    cc: input.cc,
    bcc: input.bcc,
    subject,
    text: input.text,
    html: input.html,
    attachments: input.attachments,
    charset: input.charset,
    replyTo: input.replyTo,
    inReplyTo: input.inReplyTo,
    references: input.references.length ? input.references : null,
    messageId: messageIdFor(deliveryId, sender),
  });
  return { ...mail, subject };
}
