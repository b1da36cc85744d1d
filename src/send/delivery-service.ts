// Single sends (POST /api/v1/deliveries, `yubin send`): validate, compose the mail now (so a
// mail over the server's size limit is refused at once, with its size), store it raw with
// one queued row per recipient, and wake the workers. Single sends are never held back by
// the per-minute limit, which is for bulk delivery only.
import { randomUUID } from 'node:crypto';
import { AppError, MessageRef, ValidationError, type FieldIssue } from '../domain/errors.ts';
import type { MailAccount } from '../domain/mail-account.ts';
import { validateSchema } from '../domain/validation.ts';
import type { ComposeAttachment } from '../mail/compose.ts';
import type { AppContext } from '../services/context.ts';
import type { Transaction } from 'kysely';
import { rowToAccount } from '../store/mail-accounts.ts';
import type { Database } from '../store/schema.ts';
import type { RecipientKind } from '../store/deliveries.ts';
import { normalizeMessageId, normalizeRecipient, recipientKey, replyToAddress } from './address.ts';
import { composeSingleMail } from './compose-delivery.ts';
import { DeliveryInput, MAX_RECIPIENTS_PER_MAIL, type Delivery } from './schemas.ts';
import { deliveryView } from './views.ts';
import type { Lang } from '../i18n/index.ts';
import { wakeSendWorkers } from './wake.ts';

const KIND_LABEL: Record<RecipientKind, string> = { to: 'To', cc: 'Cc', bcc: 'Bcc' };
// padding only at the end, whole quads: checked without a repeated group, whose backtracking
// overflowed V8's regexp stack on attachments of a few MB (RangeError, a 500)
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;
const isBase64 = (s: string): boolean => s.length % 4 === 0 && BASE64_CHARS.test(s);

export function deliveryNotFound(): AppError {
  return new AppError('NOT_FOUND', 'error.notFound', { what: new MessageRef('what.delivery') });
}

/** The account that sends, or a field issue on `accountId`. */
export async function findSendingAccount(ctx: AppContext, accountId: string, issues: FieldIssue[]): Promise<MailAccount | undefined> {
  const row = (await ctx.repos.accounts.getRow(accountId)) ?? (await ctx.repos.accounts.getRowByAddress(accountId));
  if (!row) {
    issues.push({ path: 'accountId', key: 'send.accountNotFound', params: { id: accountId } });
    return undefined;
  }
  return rowToAccount(row);
}

/** Thrown inside the write transaction to roll it back when a `guard` says no. */
class GuardRefused extends Error {}

/**
 * Runs first inside the transaction that queues the mail; when it returns false nothing
 * is stored and create() returns undefined. The stall monitor claims its notification
 * here, so the claim and the queued mail commit together or not at all.
 */
export type DeliveryGuard = (trx: Transaction<Database>, deliveryId: string) => Promise<boolean>;

export interface CreateOptions {
  guard?: DeliveryGuard;
}

export class DeliveryService {
  constructor(private readonly ctx: AppContext) {}

  async create(actor: string, body: unknown): Promise<Delivery>;
  async create(actor: string, body: unknown, opts: CreateOptions): Promise<Delivery | undefined>;
  async create(actor: string, body: unknown, opts: CreateOptions = {}): Promise<Delivery | undefined> {
    const input = validateSchema<DeliveryInput>(DeliveryInput, body);
    const issues: FieldIssue[] = [];
    const account = await findSendingAccount(this.ctx, input.accountId, issues);

    const seen = new Set<string>();
    const recipients: { address: string; kind: RecipientKind }[] = [];
    const lists: Record<RecipientKind, string[]> = { to: [], cc: [], bcc: [] };
    for (const kind of ['to', 'cc', 'bcc'] as const) {
      (input[kind] ?? []).forEach((raw, i) => {
        const address = normalizeRecipient(raw);
        if (!address) {
          issues.push({ path: `${kind}.${i}`, key: 'send.address', params: { field: KIND_LABEL[kind], address: raw } });
          return;
        }
        lists[kind].push(address);
        const key = recipientKey(address);
        if (seen.has(key)) return;
        seen.add(key);
        recipients.push({ address, kind });
      });
    }
    if (!issues.some((i) => /^(to|cc|bcc)\./.test(i.path))) {
      if (recipients.length === 0) issues.push({ path: 'to', key: 'send.noRecipient' });
      else if (recipients.length > MAX_RECIPIENTS_PER_MAIL) issues.push({ path: 'to', key: 'send.tooManyRecipients', params: { max: MAX_RECIPIENTS_PER_MAIL } });
    }
    const replyTo = replyToAddress(input.replyTo, issues);
    const inReplyTo = input.inReplyTo ? normalizeMessageId(input.inReplyTo) : null;
    if (input.inReplyTo && !inReplyTo) issues.push({ path: 'inReplyTo', key: 'send.messageId', params: { value: input.inReplyTo } });
    const references: string[] = [];
    (input.references ?? []).forEach((raw, i) => {
      const id = normalizeMessageId(raw);
      if (id) references.push(id);
      else issues.push({ path: `references.${i}`, key: 'send.messageId', params: { value: raw } });
    });
    const attachments: ComposeAttachment[] = [];
    (input.attachments ?? []).forEach((a, i) => {
      const b64 = a.contentBase64.replace(/\s+/g, '');
      // a multipart/* part is a container: the file's bytes would go into its preamble, which
      // every mail reader skips, and arrive as an empty attachment
      if (/^multipart\//i.test(a.contentType)) issues.push({ path: `attachments.${i}.contentType`, key: 'send.contentTypeMultipart' });
      else if (!isBase64(b64)) issues.push({ path: `attachments.${i}.contentBase64`, key: 'send.base64' });
      else attachments.push({ filename: a.filename, contentType: a.contentType, content: Buffer.from(b64, 'base64') });
    });
    if (issues.length || !account) throw new ValidationError(issues);

    const server = await this.ctx.repos.servers.get(account.serverId);
    if (!server) throw new ValidationError([{ path: 'accountId', key: 'validation.serverNotFound', params: { id: account.serverId } }]);
    const id = randomUUID();
    const mail = await composeSingleMail(
      { ...lists, subject: input.subject, text: input.text ?? null, html: input.html ?? null, attachments, charset: input.charset ?? 'utf-8', replyTo, inReplyTo: inReplyTo ?? null, references },
      account,
      id,
    );
    const limit = server.outgoing.maxMessageBytes;
    if (limit !== null && mail.raw.length > limit) {
      throw new AppError('PAYLOAD_TOO_LARGE', 'send.messageTooLarge', { size: mail.raw.length, limit });
    }

    const repo = this.ctx.repos.deliveries;
    try {
      await repo.write(async (trx) => {
        if (opts.guard && !(await opts.guard(trx, id))) throw new GuardRefused();
        await repo.insertDeliveries(
          trx,
          [
            {
              id,
              accountId: account.id,
              bulkId: null,
              rowNumber: null,
              fields: null,
              subject: mail.subject,
              messageId: mail.messageId,
              size: mail.raw.length,
              charset: input.charset ?? 'utf-8',
              charsetFallback: mail.charsetFallback?.characters ?? null,
              createdBy: actor,
              raw: mail.raw,
              recipients,
              priority: 0,
            },
          ],
          new Date().toISOString(),
        );
        await this.ctx.repos.audit.append(trx, {
          actor,
          action: 'delivery.create',
          targetType: 'delivery',
          targetId: id,
          targetName: account.address,
          fields: Object.keys(input).sort(),
        });
      });
    } catch (err) {
      if (err instanceof GuardRefused) return undefined;
      throw err;
    }
    // the answer shows the delivery as stored (queued), before a worker takes it
    const created = await this.get(id);
    wakeSendWorkers();
    return created;
  }

  async get(id: string, lang: Lang = 'ja'): Promise<Delivery> {
    const repo = this.ctx.repos.deliveries;
    const d = await repo.getDelivery(id);
    if (!d) throw deliveryNotFound();
    return deliveryView(d, await repo.recipients(id), lang);
  }

  /** The mail's exact bytes (a bulk mail's once it was sent). */
  async raw(id: string): Promise<Buffer> {
    const raw = await this.ctx.repos.deliveries.raw(id);
    if (raw) return raw;
    // bulk mail is put together when it is sent: before that there are no bytes to show
    if (await this.ctx.repos.deliveries.getDelivery(id)) throw new AppError('NOT_FOUND', 'send.rawNotYet');
    throw deliveryNotFound();
  }
}
