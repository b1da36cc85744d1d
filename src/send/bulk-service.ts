// Bulk delivery (一斉配信, PRODUCT.md §5): a subject and body template with {{column}} merge
// fields, recipients from a CSV with a header row, one recipient in To per mail. Everything
// that would make sending go wrong is found before anything is queued: a CSV that cannot be
// read for sure (with its row numbers), a merge field that is not a column, a mail over the
// server's size limit. Rows with an invalid address, a duplicate address or an address on
// the suppression list (配信停止) are skipped and reported; the rest is queued in one
// transaction, one delivery per row. The workers then send at the mail server's per-minute
// limit (send-worker.ts); pause, resume and cancel take effect between two mails.
import { randomUUID } from 'node:crypto';
import { uuidv7 } from '../store/ids.ts';
import { AppError, MessageRef, ValidationError, type FieldIssue } from '../domain/errors.ts';
import { UNSAFE_TEXT, validateSchema } from '../domain/validation.ts';
import type { Lang, MessageKey } from '../i18n/index.ts';
import { t } from '../i18n/index.ts';
import { recipientError, recipientOutcome } from './views.ts';
import { compileTemplate, templateFields } from '../mail/template.ts';
import type { AppContext } from '../services/context.ts';
import type { NewDelivery, RecipientStatus } from '../store/deliveries.ts';
import type { BulkDeliveryTable } from '../store/schema.ts';
import { normalizeRecipient, recipientKey, replyToAddress } from './address.ts';
import { bulkSubject } from '../mail/compose-bulk.ts';
import { subjectLine } from '../mail/subject.ts';
import { compileBulkMail, messageIdFor, withLink } from './compose-delivery.ts';
import { UNSUBSCRIBE_FIELD, unsubscribeLinks } from './unsubscribe.ts';
import { decodeCsv, parseCsv, type CsvError } from './csv.ts';
import { findSendingAccount } from './delivery-service.ts';
import {
  BulkDeliveryInput,
  MAX_BULK_RECIPIENTS,
  type BulkDelivery,
  type BulkListQuery,
  type BulkRecipient,
  type BulkRecipientsQuery,
  type SkippedRow,
} from './schemas.ts';
import { wakeSendWorkers } from './wake.ts';

/** A bulk delivery's status in the request's language (中止, not "cancelled", in a Japanese message). */
function bulkStatusLabel(status: string): MessageRef {
  return new MessageRef(`cli.bulkStatus.${status}` as MessageKey);
}

/** Header names taken as the address column, compared trimmed and lower-cased. */
export const ADDRESS_COLUMNS = ['email', 'e-mail', 'email address', 'e-mail address', 'mail', 'mail address', 'address', 'メールアドレス', 'メール', 'アドレス', '宛先'];
/** CSV errors listed one by one; the rest are counted. */
const MAX_LISTED_CSV_ERRORS = 20;

interface StoredSkip {
  row: number;
  line: number;
  address: string;
  reason: SkippedRow['reason'];
  firstRow?: number | undefined;
}

export function bulkNotFound(): AppError {
  return new AppError('NOT_FOUND', 'error.notFound', { what: new MessageRef('what.bulkDelivery') });
}

function csvIssue(e: CsvError): FieldIssue {
  const key = `bulk.csv.${e.problem}` as MessageKey;
  return { path: 'recipientsCsv', key, params: { row: e.row, line: e.line, expected: e.expected, actual: e.actual, column: e.column } };
}

function localizeSkips(list: StoredSkip[], lang: Lang): SkippedRow[] {
  return list.map((s) => ({
    row: s.row,
    line: s.line,
    address: s.address,
    reason: s.reason,
    message: t(lang, `bulk.skip.${s.reason}`, { firstRow: s.firstRow }),
  }));
}

export class BulkDeliveryService {
  constructor(private readonly ctx: AppContext) {}

  async create(actor: string, body: unknown, lang: Lang = 'ja'): Promise<{ id: string; total: number; skipped: SkippedRow[] }> {
    const input = validateSchema<BulkDeliveryInput>(BulkDeliveryInput, body);
    const issues: FieldIssue[] = [];
    const account = await findSendingAccount(this.ctx, input.accountId, issues);

    // the CSV
    let text: string | undefined;
    if (input.recipientsCsv !== undefined && input.recipientsCsvBase64 !== undefined) issues.push({ path: 'recipientsCsv', key: 'bulk.csvBoth' });
    else if (input.recipientsCsv !== undefined) text = input.recipientsCsv;
    else if (input.recipientsCsvBase64 !== undefined) {
      const b64 = input.recipientsCsvBase64.replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1) issues.push({ path: 'recipientsCsvBase64', key: 'send.base64' });
      else text = decodeCsv(Buffer.from(b64, 'base64')).text;
    } else issues.push({ path: 'recipientsCsv', key: 'bulk.csvRequired' });
    if (text === undefined) throw new ValidationError(issues);
    // a CSV file (base64, or read by the CLI) is checked here: the API checks only JSON strings
    const unsafe = text.search(UNSAFE_TEXT);
    if (unsafe >= 0) {
      const line = (text.slice(0, unsafe).match(/\r\n|\r|\n/g)?.length ?? 0) + 1;
      throw new ValidationError([...issues, { path: input.recipientsCsvBase64 !== undefined ? 'recipientsCsvBase64' : 'recipientsCsv', key: 'bulk.csv.unsafeText', params: { line } }]);
    }

    const table = parseCsv(text);
    if (table.errors.length) {
      const listed = table.errors.slice(0, MAX_LISTED_CSV_ERRORS).map(csvIssue);
      const more = table.errors.length - listed.length;
      throw new ValidationError([...issues, ...listed, ...(more > 0 ? [{ path: 'recipientsCsv', key: 'bulk.csv.moreErrors' as const, params: { count: more } }] : [])]);
    }
    const columns = table.header.filter((h) => h !== '');
    let addressIndex = -1;
    if (input.addressColumn !== undefined) addressIndex = table.header.indexOf(input.addressColumn.trim());
    else addressIndex = table.header.findIndex((h) => ADDRESS_COLUMNS.includes(h.toLowerCase()));
    if (addressIndex < 0) {
      // a column named that is not there is its own mistake: not "say which column", which was done
      if (input.addressColumn !== undefined) issues.push({ path: 'addressColumn', key: 'bulk.csv.noSuchColumn', params: { column: input.addressColumn.trim(), columns: columns.join(', ') } });
      else issues.push({ path: 'recipientsCsv', key: 'bulk.csv.noAddressColumn', params: { columns: columns.join(', ') } });
    }
    if (table.rows.length > MAX_BULK_RECIPIENTS) issues.push({ path: 'recipientsCsv', key: 'bulk.csv.tooManyRows', params: { max: MAX_BULK_RECIPIENTS, count: table.rows.length } });

    // the subject template as it is used and shown: one line (a line break or a vertical tab
    // pasted in is a space, as in every mail: subjectLine)
    const subjectTemplate = subjectLine(input.subject);
    // every merge field must be a column: found now, not as blanks in sent mail
    const known = new Set(columns);
    // {{unsubscribe_url}} is Yubin's to fill in when the mails carry unsubscribe links
    const links = unsubscribeLinks(this.ctx);
    if (links) known.add(UNSUBSCRIBE_FIELD);
    const used = new Set<string>();
    for (const [path, template] of [
      ['subject', subjectTemplate],
      ['text', input.text],
      ['html', input.html],
    ] as const) {
      if (!template) continue;
      const names = templateFields(template);
      for (const name of names) used.add(name);
      const missing = names.filter((f) => !known.has(f));
      const noLinks = missing.includes(UNSUBSCRIBE_FIELD);
      const columnsMissing = missing.filter((f) => f !== UNSUBSCRIBE_FIELD);
      if (columnsMissing.length) issues.push({ path, key: 'bulk.missingField', params: { fields: columnsMissing.map((f) => `{{${f}}}`).join(' ') } });
      if (noLinks) issues.push({ path, key: 'bulk.unsubscribeFieldOff', params: { fields: `{{${UNSUBSCRIBE_FIELD}}}` } });
    }
    const replyTo = replyToAddress(input.replyTo, issues);
    if (issues.length || !account) throw new ValidationError(issues);

    // rows → recipients and skips. Each keeps the values of the merge fields the templates use,
    // not the whole row: a wide spreadsheet export is neither stored per recipient nor read
    // again for every mail sent (column names are unique: parseCsv refuses a repeated one)
    const usedColumns = [...used].filter((name) => !(links && name === UNSUBSCRIBE_FIELD)).map((name) => [name, table.header.indexOf(name)] as const);
    const skipped: StoredSkip[] = [];
    const firstRowOf = new Map<string, number>();
    const candidates: { row: number; line: number; address: string; key: string; fields: Record<string, string> }[] = [];
    for (const r of table.rows) {
      const raw = r.values[addressIndex] ?? '';
      const address = normalizeRecipient(raw);
      if (!address) {
        skipped.push({ row: r.row, line: r.line, address: raw, reason: 'invalid_address' });
        continue;
      }
      const key = recipientKey(address);
      const first = firstRowOf.get(key);
      if (first !== undefined) {
        skipped.push({ row: r.row, line: r.line, address: raw.trim(), reason: 'duplicate', firstRow: first });
        continue;
      }
      firstRowOf.set(key, r.row);
      // no prototype: a column named __proto__ is a field like any other, not a setter
      const fields: Record<string, string> = Object.create(null) as Record<string, string>;
      for (const [name, i] of usedColumns) fields[name] = r.values[i] ?? '';
      candidates.push({ row: r.row, line: r.line, address, key, fields });
    }
    const suppressed = await this.ctx.repos.deliveries.suppressedKeys(candidates.map((c) => c.key));
    const recipients = candidates.filter((c) => {
      if (!suppressed.has(c.key)) return true;
      skipped.push({ row: c.row, line: c.line, address: c.address, reason: 'suppressed' });
      return false;
    });
    skipped.sort((a, b) => a.row - b.row);
    if (recipients.length === 0) {
      throw new AppError('VALIDATION', 'validation.summary', {}, [{ path: 'recipientsCsv', key: 'bulk.noRecipients' }], { skipped: localizeSkips(skipped, lang) });
    }

    // every mail must fit the server's size limit (each is checked again when sent). Each row's
    // mail is composed as the worker will (the compiled templates): the row with the most field
    // bytes is not the largest mail — one kanji turns a 7-bit body quoted-printable ('=' → '=3D')
    // or base64, a long line turns it quoted-printable
    const server = await this.ctx.repos.servers.get(account.serverId);
    if (!server) throw new ValidationError([{ path: 'accountId', key: 'validation.serverNotFound', params: { id: account.serverId } }]);
    const charset = input.charset ?? 'utf-8';
    const templates = { subject: subjectTemplate, text: input.text ?? null, html: input.html ?? null, charset, replyTo };
    const limit = server.outgoing.maxMessageBytes;
    if (limit !== null) {
      const compiled = await compileBulkMail(templates, account, links);
      // a delivery id of the length the queued ones have (the Message-ID is made of it)
      const probeId = randomUUID();
      for (const c of recipients) {
        const composed = compiled.compose(c.address, c.fields, probeId);
        const mail = composed instanceof Promise ? await composed : composed;
        const size = mail.parts ? mail.parts.parts.reduce((n: number, x) => n + (typeof x === 'number' ? mail.parts!.base.segments[x]!.length : x.length), 0) : mail.raw.length;
        if (size > limit) throw new AppError('PAYLOAD_TOO_LARGE', 'send.bulkMessageTooLarge', { row: c.row, size, limit });
      }
    }

    const id = randomUUID();
    // time-ordered ids: the rows of a bulk delivery (and what is stored for them when sent)
    // land at the end of their indexes, in the order they are sent. Each mail's subject and
    // Message-ID are known now and written with it: sending it then leaves its row alone (one
    // write fewer per mail), and the API shows them while it waits.
    const subject = compileTemplate(subjectTemplate);
    const linkInSubject = links !== null && subject.names.includes(UNSUBSCRIBE_FIELD);
    const deliveries: NewDelivery[] = recipients.map((c) => {
      const deliveryId = uuidv7();
      return {
        id: deliveryId,
        accountId: account.id,
        bulkId: id,
        rowNumber: c.row,
        fields: c.fields,
        subject: bulkSubject(subject, linkInSubject ? withLink(c.fields, links(c.address)) : c.fields),
        messageId: messageIdFor(deliveryId, account),
        size: null,
        charset,
        charsetFallback: null,
        createdBy: actor,
        recipients: [{ address: c.address, kind: 'to' }],
        priority: 1,
      };
    });
    const repo = this.ctx.repos.deliveries;
    await repo.write(async (trx) => {
      const now = new Date().toISOString();
      await repo.insertBulk(
        trx,
        { id, accountId: account.id, subjectTemplate, textTemplate: templates.text, htmlTemplate: templates.html, charset, replyTo, total: recipients.length, skipped, createdBy: actor },
        now,
      );
      await repo.insertDeliveries(trx, deliveries, now);
      await this.ctx.repos.audit.append(trx, {
        actor,
        action: 'bulk_delivery.create',
        targetType: 'bulk_delivery',
        targetId: id,
        targetName: account.address,
        fields: Object.keys(input).sort(),
      });
    });
    wakeSendWorkers();
    return { id, total: recipients.length, skipped: localizeSkips(skipped, lang) };
  }

  async get(id: string, lang: Lang = 'ja'): Promise<BulkDelivery> {
    const repo = this.ctx.repos.deliveries;
    const b = await repo.getBulk(id);
    if (!b) throw bulkNotFound();
    const counts = await repo.bulkCounts(id);
    const pending = counts.queued + counts.sending + counts.deferred;
    const flag = await repo.accountSendFlag(b.account_id);
    return {
      id: b.id,
      accountId: b.account_id,
      // 'done' is written by the worker that sends the last mail; until then it is derived
      status: (b.status === 'running' && pending === 0 ? 'done' : b.status) as BulkDelivery['status'],
      pauseReason: b.pause_reason,
      pauseError: recipientError(lang, { error_code: b.pause_error_code, error_message: b.pause_error_message, reply: null }),
      subject: b.subject_template,
      charset: b.charset as BulkDelivery['charset'],
      replyTo: b.reply_to,
      total: Number(b.total),
      sent: counts.sent,
      failed: counts.failed,
      pending,
      cancelled: counts.cancelled,
      skipped: localizeSkips(JSON.parse(b.skipped_json) as StoredSkip[], lang),
      accountError: flag.flagged && flag.errorCode && flag.authFailedAt ? { code: flag.errorCode, message: flag.errorMessage ?? '', at: flag.authFailedAt } : null,
      createdAt: b.created_at,
      updatedAt: b.updated_at,
      finishedAt: b.finished_at,
    };
  }

  /** Bulk deliveries, newest first, each with its progress as `get` gives it. */
  async list(query: BulkListQuery, lang: Lang = 'ja'): Promise<{ items: BulkDelivery[]; nextCursor: string | null }> {
    const page = await this.ctx.repos.deliveries.listBulks({ limit: query.limit ?? 20, before: query.cursor });
    const items: BulkDelivery[] = [];
    for (const id of page.ids) {
      try {
        items.push(await this.get(id, lang));
      } catch (err) {
        // deleted since (its account was): not listed
        if (!(err instanceof AppError && err.code === 'NOT_FOUND')) throw err;
      }
    }
    return { items, nextCursor: page.nextCursor };
  }

  async recipients(id: string, query: BulkRecipientsQuery, lang: Lang = 'ja'): Promise<{ items: BulkRecipient[]; nextCursor: string | null }> {
    const repo = this.ctx.repos.deliveries;
    if (!(await repo.getBulk(id))) throw bulkNotFound();
    const limit = query.limit ?? 100;
    const after = query.cursor !== undefined && /^\d{1,9}$/.test(query.cursor) ? Number(query.cursor) : undefined;
    if (query.cursor !== undefined && after === undefined) throw new ValidationError([{ path: 'cursor', key: 'validation.type.integer' }]);
    const rows = await repo.bulkRecipients(id, { status: query.status as RecipientStatus | undefined, limit: limit + 1, afterRow: after });
    const items: BulkRecipient[] = rows.slice(0, limit).map((r) => ({ row: Number(r.row_number), deliveryId: r.delivery_id, address: r.address, ...recipientOutcome(r, lang) }));
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? String(last.row) : null };
  }

  /** Stop taking new mails of this bulk delivery (a mail being sent right now finishes). */
  async pause(actor: string, id: string, lang: Lang = 'ja'): Promise<BulkDelivery> {
    await this.transition(actor, id, 'pause', (b) => {
      if (b.status === 'paused') return null;
      if (b.status !== 'running') throw new AppError('CONFLICT', 'bulk.cannotPause', { status: bulkStatusLabel(b.status) });
      return { from: ['running'], to: 'paused' };
    });
    return this.get(id, lang);
  }

  /** Go on; also after the server refused the login, once the account's password is right. */
  async resume(actor: string, id: string, lang: Lang = 'ja'): Promise<BulkDelivery> {
    const b = await this.transition(actor, id, 'resume', (b) => {
      if (b.status === 'running') return null;
      if (b.status !== 'paused') throw new AppError('CONFLICT', 'bulk.cannotResume', { status: bulkStatusLabel(b.status) });
      return { from: ['paused'], to: 'running' };
    });
    await this.ctx.repos.deliveries.clearAuthFailure(b.account_id, new Date());
    wakeSendWorkers();
    return this.get(id, lang);
  }

  /** Every mail not sent yet is cancelled; what was sent stays sent. */
  async cancel(actor: string, id: string, lang: Lang = 'ja'): Promise<BulkDelivery> {
    await this.transition(actor, id, 'cancel', (b) => {
      if (b.status === 'cancelled') return null;
      if (b.status === 'done') throw new AppError('CONFLICT', 'bulk.cannotCancel', { status: bulkStatusLabel(b.status) });
      return { from: ['running', 'paused'], to: 'cancelled' };
    });
    return this.get(id, lang);
  }

  private async transition(
    actor: string,
    id: string,
    action: string,
    decide: (b: BulkDeliveryTable) => { from: ('running' | 'paused')[]; to: 'running' | 'paused' | 'cancelled' } | null,
  ): Promise<BulkDeliveryTable> {
    const repo = this.ctx.repos.deliveries;
    return repo.write(async (trx) => {
      const b = await repo.getBulk(id, trx);
      if (!b) throw bulkNotFound();
      // a running bulk delivery with nothing left is done, whatever the worker has written yet
      if (b.status === 'running') {
        if (!(await repo.hasPending(id, trx))) b.status = 'done';
      }
      const step = decide(b);
      if (!step) return b;
      const now = new Date().toISOString();
      await repo.setBulkStatus(trx, id, step.from, step.to, null, now);
      if (step.to === 'cancelled') await repo.cancelRecipients(trx, id, now);
      await this.ctx.repos.audit.append(trx, { actor, action: `bulk_delivery.${action}`, targetType: 'bulk_delivery', targetId: id, targetName: null, fields: [] });
      return b;
    });
  }
}
