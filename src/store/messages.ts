// Received mail: metadata rows, raw bytes in ≤ 1 MiB chunks (so every worker of a
// scale-out reads the same store and no single value gets huge), the UIDs each
// account has stored, oversize notices and the deletion log.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type OnConflictBuilder, type Transaction } from 'kysely';
import type { MailMetadata } from '../mail/metadata.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { uuidv7 } from './ids.ts';
import type { Db } from './database.ts';
import type { Database, MessageChunkTable, MessageTable, MessageUidTable } from './schema.ts';

type Q = Kysely<Database> | Transaction<Database>;

export const CHUNK_BYTES = 1024 * 1024;
/** Rows per multi-row INSERT (SQLite allows 32,766 bound values; messages have 15 columns). */
const ROWS_PER_INSERT = 500;
/** Bytes of chunk data bound in one INSERT. */
const BYTES_PER_INSERT = 4 * 1024 * 1024;
const IN_LIST_MAX = 500;

function toMessageRow(id: string, accountId: string, now: string, meta: MailMetadata): MessageTable {
  return {
    id,
    account_id: accountId,
    received_at: now,
    size: meta.size,
    sha256: meta.sha256,
    from_name: meta.from?.name ?? null,
    from_address: meta.from?.address ?? null,
    to_json: JSON.stringify(meta.to),
    cc_json: JSON.stringify(meta.cc),
    subject: meta.subject,
    date: meta.date,
    message_id: meta.messageId,
    attachment_names: JSON.stringify(meta.attachmentNames),
    has_attachments: meta.hasAttachments ? 1 : 0,
    parse_error: meta.parseError,
  };
}

/**
 * Collects a mail's bytes as they arrive into pieces of CHUNK_BYTES, so the small
 * socket buffers are let go at once and a big mail is held only once.
 */
export class ChunkAccumulator {
  readonly pieces: Buffer[] = [];
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  size = 0;

  push(chunk: Buffer): void {
    this.size += chunk.length;
    while (chunk.length) {
      const take = Math.min(chunk.length, CHUNK_BYTES - this.pendingBytes);
      this.pending.push(take === chunk.length ? chunk : chunk.subarray(0, take));
      this.pendingBytes += take;
      chunk = chunk.subarray(take);
      if (this.pendingBytes === CHUNK_BYTES) this.flush();
    }
  }

  end(): Buffer[] {
    this.flush();
    return this.pieces;
  }

  private flush(): void {
    if (!this.pendingBytes) return;
    // a small mail keeps its one socket buffer as is; bigger ones are joined per MiB
    this.pieces.push(this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes));
    this.pending = [];
    this.pendingBytes = 0;
  }
}

export interface KnownUid {
  messageId: string;
  firstSeenAt: string;
  sha256: string;
}

export interface IncomingMail {
  uid: string;
  chunks: Buffer[];
  meta: MailMetadata;
}

export interface StoredResult {
  uid: string;
  messageId: string;
  /** when Yubin first stored these bytes: a new UID for old bytes keeps the old time */
  firstSeenAt: string;
  /** false when the same bytes were already stored for this account (UIDVALIDITY change…) */
  isNew: boolean;
}

export interface MessageSummary {
  id: string;
  accountId: string;
  receivedAt: string;
  size: number;
  sha256: string;
  from: { name: string; address: string } | null;
  to: { name: string; address: string }[];
  cc: { name: string; address: string }[];
  subject: string | null;
  date: string | null;
  messageId: string | null;
  attachmentNames: string[];
  hasAttachments: boolean;
  parseError: string | null;
}

export function rowToMessage(r: MessageTable): MessageSummary {
  return {
    id: r.id,
    accountId: r.account_id,
    receivedAt: r.received_at,
    size: Number(r.size),
    sha256: r.sha256,
    from: r.from_address !== null ? { name: r.from_name ?? '', address: r.from_address } : null,
    to: JSON.parse(r.to_json),
    cc: JSON.parse(r.cc_json),
    subject: r.subject,
    date: r.date,
    messageId: r.message_id,
    attachmentNames: JSON.parse(r.attachment_names),
    hasAttachments: !!r.has_attachments,
    parseError: r.parse_error,
  };
}

/** Re-cut a mail's chunks into pieces of at most CHUNK_BYTES without copying more than needed. */
export function rechunk(chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = () => {
    if (pendingBytes) out.push(pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes));
    pending = [];
    pendingBytes = 0;
  };
  for (let c of chunks) {
    while (c.length) {
      const take = Math.min(c.length, CHUNK_BYTES - pendingBytes);
      pending.push(c.subarray(0, take));
      pendingBytes += take;
      c = c.subarray(take);
      if (pendingBytes === CHUNK_BYTES) flush();
    }
  }
  flush();
  if (out.length === 0) out.push(Buffer.alloc(0));
  return out;
}

/**
 * A UID row already there: kept as is while its mail is on the server; a UID whose mail was
 * deleted from the server and that the server lists again now names the mail just stored.
 */
function reuseDeletedUid(oc: OnConflictBuilder<Database, 'message_uids'>) {
  return oc
    .columns(['account_id', 'uid'])
    .doUpdateSet((eb) => ({ message_id: eb.ref('excluded.message_id'), first_seen_at: eb.ref('excluded.first_seen_at'), deleted_at: null }))
    .where('message_uids.deleted_at', 'is not', null);
}

export class MessageRepository {
  private readonly db: Kysely<Database>;
  constructor(private readonly store: Db) {
    this.db = store.kysely;
  }

  async knownUids(accountId: string): Promise<Map<string, KnownUid>> {
    const rows = await this.db
      .selectFrom('message_uids')
      .innerJoin('messages', 'messages.id', 'message_uids.message_id')
      .select(['message_uids.uid', 'message_uids.message_id', 'message_uids.first_seen_at', 'messages.sha256'])
      .where('message_uids.account_id', '=', accountId)
      // a UID whose mail Yubin deleted from the server is not known any more: seen again, it
      // is another mail under a reused UID (or a deletion the server did not apply), fetched
      // and matched by SHA-256 — never deleted unseen
      .where('message_uids.deleted_at', 'is', null)
      .execute();
    return new Map(rows.map((r) => [r.uid, { messageId: r.message_id, firstSeenAt: r.first_seen_at, sha256: r.sha256 }]));
  }

  /**
   * Store mails and mark their UIDs in ONE transaction: after it commits, every
   * mail in the batch is durable; if it fails, none is marked and the run must
   * not delete any of them from the server.
   */
  async storeBatch(accountId: string, mails: IncomingMail[], now: string): Promise<StoredResult[]> {
    return this.store.transaction(async (trx) => {
      // one query for the whole batch: which of these exact byte sequences are already stored?
      const shas = [...new Set(mails.map((m) => m.meta.sha256))];
      const existing = new Map<string, { id: string; receivedAt: string }>();
      for (let i = 0; i < shas.length; i += IN_LIST_MAX) {
        const rows = await trx
          .selectFrom('messages')
          .select(['id', 'sha256', 'received_at'])
          .where('account_id', '=', accountId)
          .where('sha256', 'in', shas.slice(i, i + IN_LIST_MAX))
          .execute();
        for (const r of rows) existing.set(r.sha256, { id: r.id, receivedAt: r.received_at });
      }
      const results: StoredResult[] = [];
      const messageRows: MessageTable[] = [];
      const chunkRows: MessageChunkTable[] = [];
      const uidRows: MessageUidTable[] = [];
      for (const m of mails) {
        let found = existing.get(m.meta.sha256);
        const isNew = found === undefined;
        if (found === undefined) {
          found = { id: uuidv7(), receivedAt: now }; // time-ordered ids: inserts land at the end of the B-trees
          existing.set(m.meta.sha256, found); // the same bytes twice in one batch: stored once
          messageRows.push(toMessageRow(found.id, accountId, now, m.meta));
          for (const [seq, data] of rechunk(m.chunks).entries()) chunkRows.push({ message_id: found.id, seq, data });
        }
        uidRows.push({ account_id: accountId, uid: m.uid, message_id: found.id, first_seen_at: found.receivedAt, deleted_at: null });
        results.push({ uid: m.uid, messageId: found.id, firstSeenAt: found.receivedAt, isNew });
      }
      for (let i = 0; i < messageRows.length; i += ROWS_PER_INSERT) {
        await trx.insertInto('messages').values(messageRows.slice(i, i + ROWS_PER_INSERT)).execute();
      }
      // chunk rows in statements of bounded bytes: a 50 MB mail is not bound in one go
      let group: MessageChunkTable[] = [];
      let groupBytes = 0;
      for (const row of chunkRows) {
        if (group.length && (groupBytes + row.data.length > BYTES_PER_INSERT || group.length >= ROWS_PER_INSERT)) {
          await trx.insertInto('message_chunks').values(group).execute();
          group = [];
          groupBytes = 0;
        }
        group.push(row);
        groupBytes += row.data.length;
      }
      if (group.length) await trx.insertInto('message_chunks').values(group).execute();
      // one row per UID in a statement (a UID listed twice: the first mail keeps it)
      const seen = new Set<string>();
      const uniqueUidRows = uidRows.filter((r) => !seen.has(r.uid) && !!seen.add(r.uid));
      for (let i = 0; i < uniqueUidRows.length; i += ROWS_PER_INSERT) {
        await trx
          .insertInto('message_uids')
          .values(uniqueUidRows.slice(i, i + ROWS_PER_INSERT))
          .onConflict((oc) => reuseDeletedUid(oc))
          .execute();
      }
      return results;
    });
  }

  // ---- big mails: streamed into the database as they arrive -------------------------

  /** Forget the staged bytes of runs that never finished (crash, dropped connection). */
  async clearStaging(accountId: string): Promise<void> {
    await this.db.deleteFrom('message_staging_chunks').where('account_id', '=', accountId).execute();
  }

  async stageChunk(accountId: string, stagingId: string, seq: number, data: Buffer): Promise<void> {
    await this.db.insertInto('message_staging_chunks').values({ staging_id: stagingId, account_id: accountId, seq, data }).execute();
  }

  /**
   * The staged mail becomes a message (or, with bytes already stored, one more UID
   * of that message) and its UID is marked — in one transaction, like storeBatch.
   */
  async commitStaged(accountId: string, stagingId: string, uid: string, meta: MailMetadata, now: string): Promise<StoredResult> {
    return this.store.transaction(async (trx) => {
      const existing = await trx
        .selectFrom('messages')
        .select(['id', 'received_at'])
        .where('account_id', '=', accountId)
        .where('sha256', '=', meta.sha256)
        .executeTakeFirst();
      let messageId = existing?.id;
      const firstSeenAt = existing?.received_at ?? now;
      if (!messageId) {
        messageId = uuidv7();
        await trx.insertInto('messages').values(toMessageRow(messageId, accountId, now, meta)).execute();
        await trx
          .insertInto('message_chunks')
          .columns(['message_id', 'seq', 'data'])
          .expression((eb) =>
            eb
              .selectFrom('message_staging_chunks')
              .select((e) => [e.val(messageId!).as('message_id'), 'seq', 'data'])
              .where('staging_id', '=', stagingId),
          )
          .execute();
      }
      await trx.deleteFrom('message_staging_chunks').where('staging_id', '=', stagingId).execute();
      await trx
        .insertInto('message_uids')
        .values({ account_id: accountId, uid, message_id: messageId, first_seen_at: firstSeenAt, deleted_at: null })
        .onConflict((oc) => reuseDeletedUid(oc))
        .execute();
      return { uid, messageId, firstSeenAt, isNew: !existing };
    });
  }

  async get(id: string): Promise<MessageSummary | undefined> {
    const r = await this.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? rowToMessage(r) : undefined;
  }

  /** The exact stored bytes, chunk by chunk. */
  async *raw(id: string): AsyncGenerator<Buffer> {
    // one chunk per query: a 50 MB mail never sits in memory whole
    for (let seq = 0; ; seq++) {
      const row = await this.db.selectFrom('message_chunks').select('data').where('message_id', '=', id).where('seq', '=', seq).executeTakeFirst();
      if (!row) return;
      yield Buffer.from(row.data);
    }
  }

  async rawBuffer(id: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of this.raw(id)) parts.push(c);
    return Buffer.concat(parts);
  }

  /** Newest first; `q` searches subject and sender. */
  async list(opts: { accountId?: string | undefined; q?: string | undefined; limit: number; cursor?: string | undefined }): Promise<{ items: MessageSummary[]; nextCursor: string | null }> {
    let query = this.db.selectFrom('messages').selectAll().orderBy('received_at', 'desc').orderBy('id', 'desc').limit(opts.limit + 1);
    if (opts.accountId) query = query.where('account_id', '=', opts.accountId);
    if (opts.q) {
      const like = `%${opts.q.replace(/[\\%_]/g, (c) => '\\' + c)}%`;
      // ESCAPE spelled out: PostgreSQL's default escape is the backslash, SQLite has none (a
      // search for "50%" or "off_now" then matched any character there, or nothing)
      const pattern = like.toLowerCase();
      query = query.where(sql<boolean>`(lower(subject) like ${pattern} escape '\\' or lower(from_address) like ${pattern} escape '\\' or lower(from_name) like ${pattern} escape '\\')`);
    }
    if (opts.cursor) {
      const [at, id] = decodeCursor(opts.cursor);
      query = query.where((eb) => eb.or([eb('received_at', '<', at), eb.and([eb('received_at', '=', at), eb('id', '<', id)])]));
    }
    const rows = await query.execute();
    const items = rows.slice(0, opts.limit).map(rowToMessage);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > opts.limit && last ? encodeCursor(last.receivedAt, last.id) : null };
  }

  async count(accountId: string): Promise<number> {
    const r = await this.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('account_id', '=', accountId).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  // ---- oversize notices -------------------------------------------------------

  async upsertNotice(q: Q, n: { accountId: string; uid: string; size: number; fromText: string | null; subject: string | null; now: string }): Promise<void> {
    await q
      .insertInto('receive_notices')
      .values({ account_id: n.accountId, uid: n.uid, size: n.size, from_text: n.fromText, subject: n.subject, first_seen_at: n.now })
      // headers got by a later run fill in a notice stored without them; nulls never erase them
      .onConflict((oc) =>
        oc.columns(['account_id', 'uid']).doUpdateSet({
          size: n.size,
          ...(n.fromText !== null ? { from_text: n.fromText } : {}),
          ...(n.subject !== null ? { subject: n.subject } : {}),
        }),
      )
      .execute();
  }

  async notices(accountId: string): Promise<{ uid: string; size: number; from: string | null; subject: string | null; firstSeenAt: string }[]> {
    const rows = await this.db.selectFrom('receive_notices').selectAll().where('account_id', '=', accountId).orderBy('first_seen_at').execute();
    return rows.map((r) => ({ uid: r.uid, size: Number(r.size), from: r.from_text, subject: r.subject, firstSeenAt: r.first_seen_at }));
  }

  /** Drop notices whose mail is gone from the server or has been received since. */
  async pruneNotices(accountId: string, stillOversize: Set<string>): Promise<void> {
    const rows = await this.db.selectFrom('receive_notices').select('uid').where('account_id', '=', accountId).execute();
    const gone = rows.map((r) => r.uid).filter((u) => !stillOversize.has(u));
    if (gone.length) await this.db.deleteFrom('receive_notices').where('account_id', '=', accountId).where('uid', 'in', gone).execute();
  }

  // ---- deletion log -------------------------------------------------------------

  /** Written BEFORE the server is asked to delete: the proof each mail was stored first. */
  async logDeletionsPending(accountId: string, rows: { uid: string; sha256: string; messageId: string; policy: string }[], now: string): Promise<string[]> {
    const ids = rows.map(() => randomUUID());
    await this.store.transaction(async (trx) => {
      for (const [i, r] of rows.entries()) {
        await trx
          .insertInto('deletion_log')
          .values({ id: ids[i]!, account_id: accountId, uid: r.uid, sha256: r.sha256, message_id: r.messageId, policy: r.policy, status: 'pending', requested_at: now, deleted_at: null })
          .execute();
      }
    });
    return ids;
  }

  /** After QUIT / EXPUNGE succeeded. */
  async confirmDeletions(accountId: string, ids: string[], uids: string[], now: string): Promise<void> {
    await this.store.transaction(async (trx) => {
      for (let i = 0; i < ids.length; i += 500) {
        await trx.updateTable('deletion_log').set({ status: 'done', deleted_at: now }).where('id', 'in', ids.slice(i, i + 500)).execute();
        await trx.updateTable('message_uids').set({ deleted_at: now }).where('account_id', '=', accountId).where('uid', 'in', uids.slice(i, i + 500)).execute();
      }
    });
  }

  /**
   * Pending entries from an interrupted run (deletion asked, commit not confirmed):
   * an entry whose stored message is still on the server (under any UID) was not
   * deleted; otherwise it was — but only when every mail on the server is
   * identified. UIDs can all change (IMAP UIDVALIDITY, Dovecot's POP3 UIDLs), and
   * then "UID gone" proves nothing until the new UIDs are matched by SHA-256.
   */
  /** UIDs whose deletion an earlier run asked for and never saw confirmed (QUIT's reply lost, a crash). */
  async pendingDeletionUids(accountId: string): Promise<Set<string>> {
    const rows = await this.db.selectFrom('deletion_log').select('uid').where('account_id', '=', accountId).where('status', '=', 'pending').execute();
    return new Set(rows.map((r) => r.uid));
  }

  async settlePendingDeletions(accountId: string, onServerMessageIds: Set<string>, allIdentified: boolean, now: string): Promise<void> {
    const rows = await this.db
      .selectFrom('deletion_log')
      .select(['id', 'uid', 'message_id'])
      .where('account_id', '=', accountId)
      .where('status', '=', 'pending')
      .execute();
    const notDone = rows.filter((r) => onServerMessageIds.has(r.message_id));
    const done = allIdentified ? rows.filter((r) => !onServerMessageIds.has(r.message_id)) : [];
    if (done.length) await this.confirmDeletions(accountId, done.map((r) => r.id), done.map((r) => r.uid), now);
    for (let i = 0; i < notDone.length; i += IN_LIST_MAX) {
      await this.db.updateTable('deletion_log').set({ status: 'not_deleted' }).where('id', 'in', notDone.slice(i, i + IN_LIST_MAX).map((r) => r.id)).execute();
    }
  }

  async deletionLog(accountId: string, limit: number): Promise<{ id: string; uid: string; sha256: string; messageId: string; policy: string; status: string; requestedAt: string; deletedAt: string | null }[]> {
    const rows = await this.db.selectFrom('deletion_log').selectAll().where('account_id', '=', accountId).orderBy('requested_at', 'desc').limit(limit).execute();
    return rows.map((r) => ({ id: r.id, uid: r.uid, sha256: r.sha256, messageId: r.message_id, policy: r.policy, status: r.status, requestedAt: r.requested_at, deletedAt: r.deleted_at }));
  }
}
