// Outgoing mail: deliveries (one mail each), their recipients (one state machine each:
// queued → sending → sent | deferred | failed, or cancelled), the raw bytes of each mail,
// bulk deliveries, the per-minute limit's slot ledger, the suppression list (配信停止) and
// the accounts whose SMTP login was refused. Every SQL statement of sending lives here.
//
// Concurrency: several workers (processes, machines) share one database.
//   - Claiming recipients is one transaction: PostgreSQL skips rows another worker holds
//     (FOR UPDATE SKIP LOCKED); SQLite serializes writers, and a transaction that read a
//     stale snapshot fails to commit and is run again (database.ts).
//   - A claimed recipient carries a lease (holder + expiry) that its worker renews; a
//     recipient whose lease ran out (its worker crashed) is claimed again by another.
//   - The per-minute limit's slots are taken one at a time in a transaction serialized per
//     mail server (PostgreSQL: an advisory lock on the server id; SQLite: the write lock).
// Every write transaction starts with a read on SQLite: a transaction whose first statement
// writes would wait for another connection's lock inside better-sqlite3, blocking the event
// loop (and, with two connections in one process, the lock holder itself).
import { randomUUID } from 'node:crypto';
import { CompiledQuery, sql, type Kysely, type Transaction } from 'kysely';
import { decodeCursor, encodeCursor } from './cursor.ts';
import type { Db } from './database.ts';
import { uuidv7 } from './ids.ts';
import { decodeBase, decodeRecipe, encodeBase, encodeRecipe, recipeSize, type RecipePart } from './delivery-raw.ts';
import { rechunk } from './messages.ts';
import type { BulkDeliveryTable, Database, DeliveryRecipientTable, DeliveryTable } from './schema.ts';

type Trx = Transaction<Database>;
type Q = Kysely<Database> | Trx;

export type RecipientStatus = 'queued' | 'sending' | 'sent' | 'deferred' | 'failed' | 'cancelled';
export type RecipientKind = 'to' | 'cc' | 'bcc';
export type BulkStatus = 'running' | 'paused' | 'done' | 'cancelled';
/** The error that made a bulk delivery pause itself: a MailError code and the error's own text. */
export interface PauseError {
  code: string;
  message: string;
}

/** Statuses that still have work to do. */
export const PENDING_STATUSES: RecipientStatus[] = ['queued', 'sending', 'deferred'];

/** Rows per multi-row INSERT (well under both engines' parameter limits). */
const INSERT_BATCH = 200;
/** Ids per `IN (…)` list. */
const IN_BATCH = 500;
/** Slots are kept this long (then deleted by the next slot of the server): a record of what went out when. */
export const SLOT_RETENTION_MS = 60 * 60_000;

export interface NewDelivery {
  id: string;
  accountId: string;
  bulkId: string | null;
  rowNumber: number | null;
  fields: Record<string, string> | null;
  subject: string | null;
  messageId: string | null;
  size: number | null;
  charset: string;
  charsetFallback: string[] | null;
  createdBy: string;
  /** the composed mail (single sends); bulk mails are composed when sent */
  raw?: Buffer | undefined;
  recipients: { address: string; kind: RecipientKind }[];
  /** 0 single send, 1 bulk */
  priority: number;
}

export interface NewBulkDelivery {
  id: string;
  accountId: string;
  subjectTemplate: string;
  textTemplate: string | null;
  htmlTemplate: string | null;
  charset: string;
  replyTo: string | null;
  total: number;
  skipped: unknown[];
  createdBy: string;
}

/** A recipient a worker holds, with what it needs to compose and send. */
export interface ClaimedRecipient {
  id: string;
  deliveryId: string;
  accountId: string;
  bulkId: string | null;
  address: string;
  kind: RecipientKind;
  attempts: number;
  priority: number;
  createdAt: string;
  serverId: string;
  perMinuteLimit: number | null;
  rowNumber: number | null;
  fieldsJson: string | null;
  charset: string;
  /** written when the delivery was queued (null for bulk mail queued by an earlier version) */
  messageId: string | null;
  /** the claim's time (ms since the epoch): its lease runs until this plus the lease time, unless renewed */
  claimedAt: number;
}

export interface ClaimOptions {
  holder: string;
  now: Date;
  leaseMs: number;
  limit: number;
  /** only single sends (priority 0) */
  singlesOnly?: boolean | undefined;
  /** only this delivery's recipients */
  deliveryId?: string | undefined;
  /** leave bulk mail of these servers alone (their per-minute window is full) */
  skipThrottledServers?: string[] | undefined;
  /** at most this many bulk recipients of rate-limited servers per claim */
  maxThrottled?: number | undefined;
  /** false: leave alone recipients whose worker's lease ran out (default: take them first) */
  stale?: boolean | undefined;
}

/** What became of one claimed recipient. */
export interface RecipientResult {
  id: string;
  deliveryId: string;
  bulkId: string | null;
  /** 'queued': handed back unsent (pause, stop), no attempt counted */
  status: 'sent' | 'deferred' | 'failed' | 'queued' | 'cancelled';
  attempted: boolean;
  nextAttemptAt?: string | undefined;
  code?: number | undefined;
  reply?: string | undefined;
  errorCode?: string | undefined;
  errorMessage?: string | undefined;
  /** bulk: the mail as composed for this attempt, kept when sent */
  mail?: SentMail | undefined;
}

/**
 * A sent bulk mail to store: whole (`raw`), or as a recipe over its bulk delivery's shared
 * segments (delivery-raw.ts): `parts` as composed, or `recipe` already encoded (with the
 * encoded base when it may not be stored yet), as the send worker's committer hands it over.
 */
export interface SentMail {
  subject: string;
  messageId: string;
  size: number;
  charsetFallback: string[] | null;
  /** the subject and Message-ID were written to the delivery's row when it was queued: a mail stored as a recipe leaves the row alone */
  onRow?: boolean | undefined;
  raw?: Buffer | undefined;
  parts?: { base: { id: string; segments: Buffer[] }; parts: RecipePart[] } | undefined;
  recipe?: { baseId: string; data: Buffer; base?: Buffer | undefined } | undefined;
}

/** `mail.parts` as a recipe; the base's bytes when `withBase`. */
export function encodeSentMail(mail: SentMail, withBase: boolean): SentMail {
  if (!mail.parts) return mail;
  const { base, parts } = mail.parts;
  return {
    subject: mail.subject,
    messageId: mail.messageId,
    size: mail.size,
    charsetFallback: mail.charsetFallback,
    onRow: mail.onRow,
    recipe: { baseId: base.id, data: encodeRecipe(parts, base.segments), base: withBase ? encodeBase(base.segments) : undefined },
  };
}

export type SlotDecision = { ok: true; at: number; id: string } | { ok: false; retryAt: number };

export interface BulkCounts {
  queued: number;
  sending: number;
  deferred: number;
  sent: number;
  failed: number;
  cancelled: number;
}

export interface SuppressionRow {
  address: string;
  reason: string | null;
  createdBy: string;
  createdAt: string;
}

export interface AccountSendFlag {
  flagged: boolean;
  authFailedAt: string | null;
  errorCode: string | null;
  errorMessage: string | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Results per UPDATE (8 parameters each). */
const RESULT_BATCH = 200;
/** Rows per statement on the send worker's hot path on SQLite, with a turn of the event loop between statements. */
const SQLITE_SLICE = 64;

function chunks<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** `(p, p, …), (…)`: `rows` rows of `cols` placeholders. */
/** A running bulk delivery as the claim reads it. */
interface RunningBulkRow {
  id: string;
  server_id: string;
  outgoing_per_minute_limit: number | null;
}

/** A claimed recipient from its row; a bulk delivery's server comes from the claim's list of running ones. */
function claimed(r: CandidateRow, serverId: string, perMinuteLimit: number | null, claimedAt: number): ClaimedRecipient {
  return {
    id: r.id,
    deliveryId: r.delivery_id,
    accountId: r.account_id,
    bulkId: r.bulk_id,
    address: r.address,
    kind: r.kind as RecipientKind,
    attempts: Number(r.attempts),
    priority: Number(r.priority),
    createdAt: r.created_at,
    serverId,
    perMinuteLimit: perMinuteLimit === null ? null : Number(perMinuteLimit),
    rowNumber: r.row_number === null ? null : Number(r.row_number),
    fieldsJson: r.fields_json,
    charset: r.charset,
    messageId: r.message_id,
    claimedAt,
  };
}

/** A recipient as the claim reads it (server_id and its limit: single sends only, joined per row). */
interface CandidateRow {
  id: string;
  delivery_id: string;
  account_id: string;
  bulk_id: string | null;
  address: string;
  kind: string;
  attempts: number;
  priority: number;
  created_at: string;
  row_number: number | null;
  fields_json: string | null;
  charset: string;
  message_id: string | null;
  server_id: string;
  outgoing_per_minute_limit: number | null;
}

function rowsOf(p: () => string, rows: number, cols: number): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const row: string[] = [];
    for (let c = 0; c < cols; c++) row.push(p());
    out.push(`(${row.join(', ')})`);
  }
  return out.join(', ');
}

/** Bases (decoded) kept in memory for reading stored bulk mail back. */
const BASE_CACHE = 16;

export class DeliveryRepository {
  private readonly db: Kysely<Database>;
  readonly #baseCache = new Map<string, Buffer[]>();
  readonly #sqlCache = new Map<string, string>();
  /**
   * The database's clock minus this process's (PostgreSQL, measured at each slot; 0 on SQLite,
   * where every worker is on one host): slots are stamped in the database's time, so workers on
   * machines whose clocks differ still never start more than the limit in one window.
   */
  #clockOffsetMs = 0;

  constructor(private readonly store: Db) {
    this.db = store.kysely;
  }

  /** A raw statement of a write transaction's hot path: on SQLite straight on the connection the transaction holds (Db.sqliteQuery). */
  #exec<R>(trx: Trx, text: string, params: readonly unknown[]): { rows: R[] } | Promise<{ rows: R[] }> {
    const direct = this.store.sqliteQuery;
    return direct ? direct<R>(text, params) : trx.executeQuery<R>(CompiledQuery.raw(text, params as unknown[]));
  }

  /** A write transaction that takes its read snapshot first (see the top of this file). */
  async write<T>(fn: (trx: Trx) => Promise<T>): Promise<T> {
    return this.store.transaction(async (trx) => {
      if (this.store.dialect === 'sqlite') await sql`select 1 from sqlite_master limit 1`.execute(trx);
      return fn(trx);
    });
  }

  /**
   * On SQLite every statement runs synchronously on this thread: between the statements of
   * a big claim or group commit, the event loop gets a turn (SMTP replies are read, the next
   * mails written), so that a transaction of a few milliseconds never stalls every session
   * at once. Nothing else uses the connection meanwhile (Kysely holds it for the
   * transaction). PostgreSQL statements are asynchronous anyway.
   */
  #breathe(): Promise<void> {
    return this.store.dialect === 'sqlite' ? new Promise((resolve) => setImmediate(resolve)) : Promise.resolve();
  }

  /** Rows per statement on the hot path: smaller on SQLite, with a turn of the event loop between. */
  get #slice(): number {
    return this.store.dialect === 'sqlite' ? SQLITE_SLICE : RESULT_BATCH;
  }

  // ---- creating -------------------------------------------------------------------

  async insertDeliveries(trx: Trx, list: NewDelivery[], now: string): Promise<void> {
    for (const part of chunks(list, INSERT_BATCH)) {
      await trx
        .insertInto('deliveries')
        .values(
          part.map((d) => ({
            id: d.id,
            account_id: d.accountId,
            bulk_id: d.bulkId,
            row_number: d.rowNumber,
            fields_json: d.fields ? JSON.stringify(d.fields) : null,
            subject: d.subject,
            message_id: d.messageId,
            size: d.size,
            charset: d.charset,
            charset_fallback: d.charsetFallback ? JSON.stringify(d.charsetFallback) : null,
            created_by: d.createdBy,
            created_at: now,
          })),
        )
        .execute();
    }
    const recipients = list.flatMap((d) =>
      d.recipients.map((r, seq) => ({
        id: uuidv7(),
        delivery_id: d.id,
        account_id: d.accountId,
        bulk_id: d.bulkId,
        seq,
        kind: r.kind,
        address: r.address,
        status: 'queued',
        priority: d.priority,
        attempts: 0,
        next_attempt_at: now,
        lease_holder: null,
        lease_expires_at: null,
        code: null,
        reply: null,
        error_code: null,
        error_message: null,
        created_at: now,
        updated_at: now,
        sent_at: null,
      })),
    );
    for (const part of chunks(recipients, INSERT_BATCH)) await trx.insertInto('delivery_recipients').values(part).execute();
    for (const d of list) if (d.raw) await this.insertRaw(trx, d.id, d.raw);
  }

  private async insertRaw(trx: Trx, deliveryId: string, raw: Buffer): Promise<void> {
    for (const [seq, data] of rechunk([raw]).entries()) {
      await trx
        .insertInto('delivery_chunks')
        .values({ delivery_id: deliveryId, seq, data })
        .onConflict((oc) => oc.columns(['delivery_id', 'seq']).doNothing())
        .execute();
    }
  }

  async insertBulk(trx: Trx, b: NewBulkDelivery, now: string): Promise<void> {
    await trx
      .insertInto('bulk_deliveries')
      .values({
        id: b.id,
        account_id: b.accountId,
        status: b.total > 0 ? 'running' : 'done',
        pause_reason: null,
        pause_error_code: null,
        pause_error_message: null,
        subject_template: b.subjectTemplate,
        text_template: b.textTemplate,
        html_template: b.htmlTemplate,
        charset: b.charset,
        reply_to: b.replyTo,
        total: b.total,
        skipped_json: JSON.stringify(b.skipped),
        created_by: b.createdBy,
        created_at: now,
        updated_at: now,
        finished_at: b.total > 0 ? null : now,
      })
      .execute();
  }

  // ---- reading --------------------------------------------------------------------

  /** The delivery's row; a sent bulk mail stored as a recipe has its size from there. */
  async getDelivery(id: string, q: Q = this.db): Promise<DeliveryTable | undefined> {
    const d = await q.selectFrom('deliveries').selectAll().where('id', '=', id).executeTakeFirst();
    if (!d || d.size !== null || d.bulk_id === null) return d;
    const recipe = await q.selectFrom('delivery_recipes').select('data').where('delivery_id', '=', id).executeTakeFirst();
    return recipe ? { ...d, size: recipeSize(Buffer.from(recipe.data)) } : d;
  }

  async recipients(deliveryId: string, q: Q = this.db): Promise<DeliveryRecipientTable[]> {
    return q.selectFrom('delivery_recipients').selectAll().where('delivery_id', '=', deliveryId).orderBy('seq').execute();
  }

  /** The mail's exact bytes (single sends: from the start; bulk mail: once sent). */
  async raw(deliveryId: string): Promise<Buffer | undefined> {
    const rows = await this.db.selectFrom('delivery_chunks').select('data').where('delivery_id', '=', deliveryId).orderBy('seq').execute();
    if (rows.length) return Buffer.concat(rows.map((r) => Buffer.from(r.data)));
    // bulk mail built from its templates' segments (migration 0007)
    const recipe = await this.db.selectFrom('delivery_recipes').select(['bulk_id', 'base_id', 'data']).where('delivery_id', '=', deliveryId).executeTakeFirst();
    if (!recipe) return undefined;
    const key = `${recipe.bulk_id}|${recipe.base_id}`;
    let segments = this.#baseCache.get(key);
    if (!segments) {
      const base = await this.db.selectFrom('delivery_bases').select('data').where('bulk_id', '=', recipe.bulk_id).where('id', '=', recipe.base_id).executeTakeFirstOrThrow();
      segments = decodeBase(Buffer.from(base.data));
      if (this.#baseCache.size >= BASE_CACHE) this.#baseCache.delete(this.#baseCache.keys().next().value!);
      this.#baseCache.set(key, segments);
    }
    return decodeRecipe(Buffer.from(recipe.data), segments);
  }

  async getBulk(id: string, q: Q = this.db): Promise<BulkDeliveryTable | undefined> {
    return q.selectFrom('bulk_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Bulk deliveries, newest first; `before`: the cursor after the last one of the page before (its created_at and id). */
  async listBulks(opts: { limit: number; before?: string | undefined }): Promise<{ ids: string[]; nextCursor: string | null }> {
    let q = this.db.selectFrom('bulk_deliveries').select(['id', 'created_at']).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit + 1);
    if (opts.before !== undefined) {
      const [at, id] = decodeCursor(opts.before);
      q = q.where((eb) => eb.or([eb('created_at', '<', at), eb.and([eb('created_at', '=', at), eb('id', '<', id)])]));
    }
    const rows = await q.execute();
    const page = rows.slice(0, opts.limit);
    const last = page[page.length - 1];
    return { ids: page.map((r) => r.id), nextCursor: rows.length > opts.limit && last ? encodeCursor(last.created_at, last.id) : null };
  }

  async bulkCounts(bulkId: string, q: Q = this.db): Promise<BulkCounts> {
    const rows = await q
      .selectFrom('delivery_recipients')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('bulk_id', '=', bulkId)
      .groupBy('status')
      .execute();
    const counts: BulkCounts = { queued: 0, sending: 0, deferred: 0, sent: 0, failed: 0, cancelled: 0 };
    for (const r of rows) if (r.status in counts) counts[r.status as keyof BulkCounts] = Number(r.n);
    return counts;
  }

  /** A bulk delivery's recipients in CSV order; `afterRow` is the cursor. */
  async bulkRecipients(bulkId: string, opts: { status?: RecipientStatus | undefined; limit: number; afterRow?: number | undefined }) {
    let q = this.db
      .selectFrom('delivery_recipients as r')
      .innerJoin('deliveries as d', 'd.id', 'r.delivery_id')
      .select([
        'd.row_number',
        'r.delivery_id',
        'r.address',
        'r.status',
        'r.attempts',
        'r.next_attempt_at',
        'r.code',
        'r.reply',
        'r.error_code',
        'r.error_message',
        'r.sent_at',
        'r.updated_at',
      ])
      .where('r.bulk_id', '=', bulkId)
      .orderBy('d.row_number')
      .limit(opts.limit);
    if (opts.status) q = q.where('r.status', '=', opts.status);
    if (opts.afterRow !== undefined) q = q.where('d.row_number', '>', opts.afterRow);
    return q.execute();
  }

  // ---- claiming and leases --------------------------------------------------------

  /**
   * Claim due recipients for `holder`: queued or deferred ones whose next attempt has come,
   * and 'sending' ones whose lease ran out (their worker died mid-send: they go out again).
   * Single sends first, then bulk deliveries oldest first, each by due time. Recipients of
   * paused or cancelled bulk deliveries are left alone.
   */
  async claim(opts: ClaimOptions): Promise<ClaimedRecipient[]> {
    const now = opts.now.toISOString();
    const claimedAt = opts.now.getTime();
    const leaseUntil = iso(claimedAt + opts.leaseMs);
    return this.write(async (trx) => {
      // Where to look, in order: single sends (priority 0), then each running bulk delivery,
      // oldest first, those of servers with a per-minute limit before the others (at most
      // `maxThrottled` of their mail per claim; a server whose window is full is skipped).
      // Each is its own index walk that stops at what it takes (migrations 0008 and 0009): one
      // walk of the due index over every bulk delivery read past every waiting recipient of a
      // paused or rate-limited bulk delivery, on every claim.
      const skip = new Set(opts.skipThrottledServers ?? []);
      // the claim's queries are SQL made once per shape (#sqlOf): a worker claims many times a
      // second, and Kysely's builder cost more than the queries
      const running = opts.singlesOnly
        ? []
        : (
            await this.#exec<RunningBulkRow>(
              trx,
              this.#sqlOf(
                'claim-running',
                () => `SELECT b.id, a.server_id, s.outgoing_per_minute_limit FROM bulk_deliveries AS b
                  INNER JOIN mail_accounts AS a ON a.id = b.account_id INNER JOIN mail_servers AS s ON s.id = a.server_id
                  WHERE b.status = 'running' ORDER BY b.created_at, b.id`,
              ),
              [],
            )
          ).rows;
      type Source = { bulkId: null } | { bulkId: string; serverId: string; perMinuteLimit: number | null };
      const bulkSource = (b: RunningBulkRow): Source => ({ bulkId: b.id, serverId: b.server_id, perMinuteLimit: b.outgoing_per_minute_limit === null ? null : Number(b.outgoing_per_minute_limit) });
      const sources: Source[] = [
        { bulkId: null },
        ...running.filter((b) => b.outgoing_per_minute_limit !== null && !skip.has(b.server_id)).map(bulkSource),
        ...running.filter((b) => b.outgoing_per_minute_limit === null).map(bulkSource),
      ];

      // recipients of one source whose worker died (stale), or that are due, each walk in
      // its partial index (bulk_id, then lease or due time: migrations 8 and 9); the indexes'
      // conditions are literals so both engines match them. A bulk delivery's account and
      // server are those of `running`: only single sends join them per row.
      const postgres = this.store.dialect === 'postgres';
      const candidates = async (stale: boolean, limit: number, source: Source): Promise<ClaimedRecipient[]> => {
        const single = source.bulkId === null;
        const one = opts.deliveryId !== undefined;
        const text = this.#sqlOf(`claim-select|${stale}|${single}|${one}`, (p) => {
          const where = [single ? 'r.bulk_id IS NULL AND r.priority = 0' : `r.bulk_id = ${p()}`];
          where.push(stale ? `r.status = 'sending' AND r.lease_expires_at < ${p()}` : `r.status IN ('queued', 'deferred') AND r.next_attempt_at <= ${p()}`);
          if (one) where.push(`r.delivery_id = ${p()}`);
          return `SELECT r.id, r.delivery_id, r.account_id, r.bulk_id, r.address, r.kind, r.attempts, r.priority, r.created_at, d.row_number, d.fields_json, d.charset, d.message_id${single ? ', a.server_id, s.outgoing_per_minute_limit' : ''}
            FROM delivery_recipients AS r INNER JOIN deliveries AS d ON d.id = r.delivery_id${single ? ' INNER JOIN mail_accounts AS a ON a.id = r.account_id INNER JOIN mail_servers AS s ON s.id = a.server_id' : ''}
            WHERE ${where.join(' AND ')}
            ORDER BY ${stale ? 'r.lease_expires_at' : 'r.next_attempt_at'} LIMIT ${p()}${postgres ? ' FOR UPDATE OF r SKIP LOCKED' : ''}`;
        });
        // on PostgreSQL only the rows taken stay locked until the claim commits: a claim that
        // locked every waiting row of a rate-limited server to take one would make the other
        // workers' claims skip them all (and one worker would take every slot of each window)
        const params: unknown[] = single ? [now] : [source.bulkId, now];
        if (one) params.push(opts.deliveryId);
        params.push(limit);
        const { rows } = await this.#exec<CandidateRow>(trx, text, params);
        const out: ClaimedRecipient[] = [];
        for (const r of rows) out.push(claimed(r, single ? r.server_id : source.serverId, single ? r.outgoing_per_minute_limit : source.perMinuteLimit, claimedAt));
        return out;
      };
      const picked: ClaimedRecipient[] = [];
      let limitedLeft = opts.maxThrottled ?? Number.POSITIVE_INFINITY;
      for (const stale of opts.stale === false ? [false] : [true, false]) {
        for (const source of sources) {
          if (picked.length >= opts.limit) break;
          const limited = source.bulkId !== null && source.perMinuteLimit !== null;
          const want = Math.min(opts.limit - picked.length, limited ? limitedLeft : Number.POSITIVE_INFINITY);
          if (want <= 0) continue;
          const got = await candidates(stale, want, source);
          if (limited) limitedLeft -= got.length;
          picked.push(...got);
        }
      }

      for (const ids of chunks(
        picked.map((r) => r.id),
        this.#slice,
      )) {
        await this.#breathe();
        const text = this.#sqlOf(`claim|${ids.length}`, (p) => `UPDATE delivery_recipients SET status = 'sending', lease_holder = ${p()}, lease_expires_at = ${p()}, updated_at = ${p()} WHERE id IN (${ids.map(() => p()).join(', ')})`);
        await this.#exec(trx, text, [opts.holder, leaseUntil, now, ...ids]);
      }
      return picked;
    });
  }

  /** Renew the leases of everything `holder` is sending. */
  async renewLeases(holder: string, now: Date, leaseMs: number): Promise<number> {
    return this.write(async (trx) => {
      const r = await trx
        .updateTable('delivery_recipients')
        .set({ lease_expires_at: iso(now.getTime() + leaseMs) })
        .where('lease_holder', '=', holder)
        .where(sql<boolean>`status = 'sending'`)
        .executeTakeFirst();
      return Number(r.numUpdatedRows);
    });
  }

  /**
   * The SQL of a hot-path statement, made once per shape: the send worker runs the same few
   * statements thousands of times a second, and building them through Kysely's query
   * builder (hundreds of parameter nodes each) cost more than running them.
   */
  #sqlOf(key: string, make: (p: () => string) => string): string {
    let text = this.#sqlCache.get(key);
    if (text === undefined) {
      let n = 0;
      text = make(this.store.dialect === 'postgres' ? () => `$${++n}` : () => '?');
      if (this.#sqlCache.size > 500) this.#sqlCache.clear();
      this.#sqlCache.set(key, text);
    }
    return text;
  }

  /** The recipients' UPDATE … FROM (VALUES …) for `rows` results; parameters: [sent_at,] updated_at, 8 per row[, holder]. */
  #resultSql(sent: boolean, rows: number): string {
    // VALUES columns are column1… on both engines; parameters there are text on PostgreSQL,
    // hence the casts
    return this.#sqlOf(`results|${sent}|${rows}`, (p) => {
      const attempted = 'CAST(v.column3 AS integer) = 1';
      const sentAt = sent ? p() : 'sent_at';
      const updatedAt = p();
      const values = rowsOf(p, rows, 8);
      const guard = sent ? `delivery_recipients.status <> 'sent'` : `delivery_recipients.status = 'sending' AND delivery_recipients.lease_holder = ${p()}`;
      return `UPDATE delivery_recipients SET
          status = ${
            sent
              ? 'v.column2'
              : // a recipient handed back or deferred after its bulk delivery was cancelled is
                // cancelled too: no claim would take it again
                `CASE WHEN v.column2 IN ('queued', 'deferred') AND delivery_recipients.bulk_id IN (SELECT id FROM bulk_deliveries WHERE status = 'cancelled') THEN 'cancelled' ELSE v.column2 END`
          },
          attempts = attempts + CAST(v.column3 AS integer),
          next_attempt_at = COALESCE(v.column4, next_attempt_at),
          code = CASE WHEN ${attempted} THEN CAST(v.column5 AS integer) ELSE code END,
          reply = CASE WHEN ${attempted} THEN v.column6 ELSE reply END,
          error_code = CASE WHEN ${attempted} THEN v.column7 ELSE error_code END,
          error_message = CASE WHEN ${attempted} THEN v.column8 ELSE error_message END,
          sent_at = ${sentAt},
          lease_holder = NULL,
          lease_expires_at = NULL,
          updated_at = ${updatedAt}
        FROM (VALUES ${values}) AS v
        WHERE delivery_recipients.id = v.column1 AND ${guard}`;
    });
  }

  /**
   * Record what happened to claimed recipients, in one transaction. A 'sent' is kept
   * whoever holds the row now (the mail did go out); any other result only while `holder`
   * still holds it. Returns the bulk deliveries touched. A batch is a few statements, not a
   * few per recipient: `UPDATE … FROM (VALUES (id, …), …)` joins each row to its own values
   * (one index lookup per row; a CASE per column would compare every row with every id).
   */
  async applyResults(holder: string, results: RecipientResult[], now: Date): Promise<Set<string>> {
    const at = now.toISOString();
    const bulks = new Set(results.flatMap((r) => (r.bulkId ? [r.bulkId] : [])));
    await this.write(async (trx) => {
      // bases written in this transaction (a transaction run again writes them again)
      const written = new Set<string>();
      for (const part of chunks(results, this.#slice)) {
        await this.#breathe();
        const sent = part.filter((r) => r.status === 'sent');
        const other = part.filter((r) => r.status !== 'sent');
        for (const group of [sent, other]) {
          if (group.length === 0) continue;
          const isSent = group === sent;
          const params: unknown[] = isSent ? [at, at] : [at];
          for (const r of group) params.push(r.id, r.status, r.attempted ? 1 : 0, r.nextAttemptAt ?? null, r.code ?? null, r.reply ?? null, r.errorCode ?? null, r.errorMessage ?? null);
          if (!isSent) params.push(holder);
          await this.#exec(trx, this.#resultSql(isSent, group.length), params);
        }
        const mails = sent.filter((r): r is RecipientResult & { mail: NonNullable<RecipientResult['mail']> } => r.mail !== undefined);
        if (mails.length === 0) continue;
        // what the mail's row lacks: all but bulk mail stored as a recipe whose subject and
        // Message-ID were written when it was queued (its size is the recipe's first number)
        const rowsToFill = mails.filter((r) => !(r.mail.onRow && (r.mail.recipe || r.mail.parts) && r.bulkId));
        if (rowsToFill.length > 0) {
          const mailParams: unknown[] = [];
          for (const r of rowsToFill) mailParams.push(r.deliveryId, r.mail.subject, r.mail.messageId, r.mail.size, r.mail.charsetFallback ? JSON.stringify(r.mail.charsetFallback) : null);
          await this.#exec(
            trx,
            this.#sqlOf(
              `mails|${rowsToFill.length}`,
              (p) => `UPDATE deliveries SET
                subject = v.column2,
                message_id = v.column3,
                size = CAST(v.column4 AS integer),
                charset_fallback = v.column5
              FROM (VALUES ${rowsOf(p, rowsToFill.length, 5)}) AS v
              WHERE deliveries.id = v.column1`,
            ),
            mailParams,
          );
        }
        // bulk mail built from segments: its base when given (the send worker's committer
        // leaves out bases it has stored; mail given as parts brings its base), then a recipe
        // of a few hundred bytes; anything else whole, in chunks. The first stored copy stays
        // (a mail sent twice in the at-least-once window keeps one of the two).
        const recipes = mails.flatMap((r) => {
          const m = r.mail.recipe || !r.mail.parts ? r.mail : encodeSentMail(r.mail, true);
          return m.recipe && r.bulkId ? [{ deliveryId: r.deliveryId, bulkId: r.bulkId, recipe: m.recipe }] : [];
        });
        const newBases: { bulk_id: string; id: string; data: Buffer; created_at: string }[] = [];
        for (const r of recipes) {
          const key = `${r.bulkId}|${r.recipe.baseId}`;
          if (!r.recipe.base || written.has(key)) continue;
          written.add(key);
          newBases.push({ bulk_id: r.bulkId, id: r.recipe.baseId, data: r.recipe.base, created_at: at });
        }
        for (const rows of chunks(newBases, 20)) {
          await trx
            .insertInto('delivery_bases')
            .values(rows)
            .onConflict((oc) => oc.columns(['bulk_id', 'id']).doNothing())
            .execute();
        }
        if (recipes.length > 0) {
          const recipeParams: unknown[] = [];
          for (const r of recipes) recipeParams.push(r.deliveryId, r.bulkId, r.recipe.baseId, r.recipe.data);
          await this.#exec(
            trx,
            this.#sqlOf(`recipes|${recipes.length}`, (p) => `INSERT INTO delivery_recipes (delivery_id, bulk_id, base_id, data) VALUES ${rowsOf(p, recipes.length, 4)} ON CONFLICT (delivery_id) DO NOTHING`),
            recipeParams,
          );
        }
        const whole = mails.filter((r) => r.mail.raw && !((r.mail.parts || r.mail.recipe) && r.bulkId));
        const pieces = whole.flatMap((r) => rechunk([r.mail.raw!]).map((data, seq) => ({ delivery_id: r.deliveryId, seq, data })));
        for (const rows of chunks(pieces, RESULT_BATCH)) {
          await trx
            .insertInto('delivery_chunks')
            .values(rows)
            .onConflict((oc) => oc.columns(['delivery_id', 'seq']).doNothing())
            .execute();
        }
      }
    });
    return bulks;
  }

  // ---- the per-minute limit -------------------------------------------------------

  /**
   * Take one send slot of `serverId`: granted when fewer than `limit` slots started within
   * the last `spanMs` (the window plus a safety margin), else refused with the moment the
   * oldest of them leaves the span. Slot times never go backwards for one server, so the
   * check made when a slot is taken holds for every window that ends at it.
   */
  async acquireSlot(serverId: string, limit: number, spanMs: number, holder: string, clock: () => number = Date.now): Promise<SlotDecision> {
    return this.write(async (trx) => {
      if (this.store.dialect === 'postgres') {
        await sql`select pg_advisory_xact_lock(hashtext(${'yubin-send-slots:' + serverId}))`.execute(trx);
        const asked = clock();
        const { rows } = await sql<{ now: number }>`select (extract(epoch from clock_timestamp()) * 1000)::float8 as now`.execute(trx);
        // the database's time when it answered, against the middle of the round trip here
        this.#clockOffsetMs = Math.round(Number(rows[0]!.now) - (asked + clock()) / 2);
      }
      const offset = this.#clockOffsetMs;
      const nowMs = clock() + offset;
      const since = iso(nowMs - spanMs);
      const row = await trx
        .selectFrom('send_slots')
        .select([(eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.max('started_at').as('latest')])
        .where('server_id', '=', serverId)
        .where('started_at', '>', since)
        .executeTakeFirstOrThrow();
      const n = Number(row.n);
      if (n >= limit) {
        const oldest = await trx
          .selectFrom('send_slots')
          .select('started_at')
          .where('server_id', '=', serverId)
          .where('started_at', '>', since)
          .orderBy('started_at')
          .offset(n - limit)
          .limit(1)
          .executeTakeFirstOrThrow();
        return { ok: false, retryAt: Date.parse(oldest.started_at) + spanMs + 1 - offset };
      }
      const at = Math.max(nowMs, row.latest ? Date.parse(String(row.latest)) : 0);
      const id = randomUUID();
      await trx.insertInto('send_slots').values({ id, server_id: serverId, started_at: iso(at), holder }).execute();
      await trx.deleteFrom('send_slots').where('server_id', '=', serverId).where('started_at', '<', iso(nowMs - Math.max(2 * spanMs, SLOT_RETENTION_MS))).execute();
      return { ok: true, at: at - offset, id };
    });
  }

  /**
   * The mail of a slot started (its MAIL FROM went out) at `atMs`: the slot counts from then.
   * A slot is taken before its mail is sent; stamped again when it was, a stall between the two
   * (a slow commit, a busy process) cannot put more than the limit into a window that the SMTP
   * server sees. Only ever later.
   */
  async slotStarted(id: string, atMs: number): Promise<void> {
    const at = iso(atMs + this.#clockOffsetMs);
    await this.write((trx) => trx.updateTable('send_slots').set({ started_at: at }).where('id', '=', id).where('started_at', '<', at).execute());
  }

  /** The slots of a server since `since`, oldest first (tests and diagnostics). */
  async slotTimes(serverId: string, since = ''): Promise<{ startedAt: string; holder: string }[]> {
    const rows = await this.db.selectFrom('send_slots').select(['started_at', 'holder']).where('server_id', '=', serverId).where('started_at', '>', since).orderBy('started_at').execute();
    return rows.map((r) => ({ startedAt: r.started_at, holder: r.holder }));
  }

  // ---- bulk delivery state --------------------------------------------------------

  /** Move a bulk delivery from one of `from` to `to`; false when it was in none of them. `error`: what paused it, kept until its status changes again. */
  async setBulkStatus(trx: Trx, id: string, from: BulkStatus[], to: BulkStatus, reason: string | null, now: string, error?: PauseError): Promise<boolean> {
    const r = await trx
      .updateTable('bulk_deliveries')
      .set({
        status: to,
        pause_reason: reason,
        pause_error_code: error?.code ?? null,
        pause_error_message: error?.message ?? null,
        updated_at: now,
        ...(to === 'done' || to === 'cancelled' ? { finished_at: now } : {}),
      })
      .where('id', '=', id)
      .where('status', 'in', from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Pause every running bulk delivery of an account (its login was refused, its server's settings fail); returns their ids. */
  async pauseBulksOfAccount(accountId: string, reason: string, now: Date, error?: PauseError): Promise<string[]> {
    const at = now.toISOString();
    return this.write(async (trx) => {
      const rows = await trx.selectFrom('bulk_deliveries').select('id').where('account_id', '=', accountId).where('status', '=', 'running').execute();
      for (const r of rows) await this.setBulkStatus(trx, r.id, ['running'], 'paused', reason, at, error);
      return rows.map((r) => r.id);
    });
  }

  /** Every recipient not yet sent or failed becomes 'cancelled' (one being sent right now finishes). */
  async cancelRecipients(trx: Trx, bulkId: string, now: string): Promise<void> {
    await trx
      .updateTable('delivery_recipients')
      .set({ status: 'cancelled', lease_holder: null, lease_expires_at: null, updated_at: now })
      .where('bulk_id', '=', bulkId)
      .where((eb) => eb.or([eb('status', 'in', ['queued', 'deferred']), eb.and([eb('status', '=', 'sending'), eb('lease_expires_at', '<', now)])]))
      .execute();
  }

  /** Whether any recipient of the bulk delivery is still queued, sending or deferred. */
  async hasPending(bulkId: string, q: Q = this.db): Promise<boolean> {
    const row = await q.selectFrom('delivery_recipients').select('id').where('bulk_id', '=', bulkId).where('status', 'in', PENDING_STATUSES).limit(1).executeTakeFirst();
    return row !== undefined;
  }

  /** Running bulk deliveries among `ids` with nothing left to do become 'done'. */
  async finishBulks(ids: Iterable<string>, now: Date): Promise<void> {
    const at = now.toISOString();
    for (const id of ids) {
      await this.write(async (trx) => {
        if (!(await this.hasPending(id, trx))) await this.setBulkStatus(trx, id, ['running'], 'done', null, at);
      });
    }
  }

  /** Bulk deliveries' statuses, for workers deciding whether to go on. */
  async bulkStatuses(ids: string[]): Promise<Map<string, BulkStatus>> {
    const out = new Map<string, BulkStatus>();
    for (const part of chunks(ids, IN_BATCH)) {
      const rows = await this.db.selectFrom('bulk_deliveries').select(['id', 'status']).where('id', 'in', part).execute();
      for (const r of rows) out.set(r.id, r.status as BulkStatus);
    }
    return out;
  }

  // ---- suppression list (配信停止) -------------------------------------------------

  /** Add what is not on the list yet (an address on it keeps its reason and date); returns how many were added. */
  async addSuppressions(trx: Trx, list: { key: string; address: string }[], reason: string | null, actor: string, now: string): Promise<number> {
    let added = 0;
    for (const part of chunks(list, INSERT_BATCH)) {
      const r = await trx
        .insertInto('suppressions')
        .values(part.map((s) => ({ address_key: s.key, address: s.address, reason, created_by: actor, created_at: now })))
        .onConflict((oc) => oc.column('address_key').doNothing())
        .executeTakeFirst();
      added += Number(r.numInsertedOrUpdatedRows ?? 0);
    }
    return added;
  }

  async removeSuppressions(trx: Trx, keys: string[]): Promise<number> {
    let removed = 0;
    for (const part of chunks(keys, IN_BATCH)) {
      const r = await trx.deleteFrom('suppressions').where('address_key', 'in', part).executeTakeFirst();
      removed += Number(r.numDeletedRows);
    }
    return removed;
  }

  async listSuppressions(opts: { limit: number; after?: string | undefined }): Promise<SuppressionRow[]> {
    let q = this.db.selectFrom('suppressions').selectAll().orderBy('address_key').limit(opts.limit);
    if (opts.after !== undefined) q = q.where('address_key', '>', opts.after);
    const rows = await q.execute();
    return rows.map((r) => ({ address: r.address, reason: r.reason, createdBy: r.created_by, createdAt: r.created_at }));
  }

  /** Which of these address keys are suppressed. */
  async suppressedKeys(keys: string[], q: Q = this.db): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunks(keys, IN_BATCH)) {
      const rows = await q.selectFrom('suppressions').select('address_key').where('address_key', 'in', part).execute();
      for (const r of rows) out.add(r.address_key);
    }
    return out;
  }

  // ---- accounts whose SMTP login was refused --------------------------------------

  async flagAuthFailure(accountId: string, errorCode: string, errorMessage: string, now: Date): Promise<void> {
    const at = now.toISOString();
    await this.write(async (trx) => {
      const account = await trx.selectFrom('mail_accounts').select('updated_at').where('id', '=', accountId).executeTakeFirst();
      if (!account) return;
      const values = { auth_failed_at: at, account_updated_at: account.updated_at, error_code: errorCode, error_message: errorMessage, updated_at: at };
      await trx
        .insertInto('account_send_state')
        .values({ account_id: accountId, ...values })
        .onConflict((oc) => oc.column('account_id').doUpdateSet(values))
        .execute();
    });
  }

  async clearAuthFailure(accountId: string, now: Date): Promise<void> {
    await this.write(async (trx) => {
      await trx
        .updateTable('account_send_state')
        .set({ auth_failed_at: null, account_updated_at: null, error_code: null, error_message: null, updated_at: now.toISOString() })
        .where('account_id', '=', accountId)
        .where('auth_failed_at', 'is not', null)
        .execute();
    });
  }

  /** Flagged while the account has not been changed since its login was refused. */
  async accountSendFlag(accountId: string): Promise<AccountSendFlag> {
    const row = await this.db
      .selectFrom('account_send_state as st')
      .innerJoin('mail_accounts as a', 'a.id', 'st.account_id')
      .select(['st.auth_failed_at', 'st.account_updated_at', 'st.error_code', 'st.error_message', 'a.updated_at'])
      .where('st.account_id', '=', accountId)
      .executeTakeFirst();
    if (!row?.auth_failed_at) return { flagged: false, authFailedAt: null, errorCode: null, errorMessage: null };
    const changedSince = row.account_updated_at !== null && row.updated_at > row.account_updated_at;
    return { flagged: !changedSince, authFailedAt: row.auth_failed_at, errorCode: row.error_code, errorMessage: row.error_message };
  }
}
