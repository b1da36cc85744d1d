// Received mail: metadata rows, raw bytes in ≤ 1 MiB chunks (so every worker of a
// scale-out reads the same store and no single value gets huge), the UIDs each
// account has stored, oversize notices and the deletion log.
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { MailMetadata } from '../mail/metadata.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import type { Db } from './database.ts';
import type { Database, MessageTable } from './schema.ts';

type Q = Kysely<Database> | Transaction<Database>;

export const CHUNK_BYTES = 1024 * 1024;

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
      const results: StoredResult[] = [];
      for (const m of mails) {
        const existing = await trx
          .selectFrom('messages')
          .select('id')
          .where('account_id', '=', accountId)
          .where('sha256', '=', m.meta.sha256)
          .executeTakeFirst();
        let messageId = existing?.id;
        if (!messageId) {
          messageId = randomUUID();
          await trx
            .insertInto('messages')
            .values({
              id: messageId,
              account_id: accountId,
              received_at: now,
              size: m.meta.size,
              sha256: m.meta.sha256,
              from_name: m.meta.from?.name ?? null,
              from_address: m.meta.from?.address ?? null,
              to_json: JSON.stringify(m.meta.to),
              cc_json: JSON.stringify(m.meta.cc),
              subject: m.meta.subject,
              date: m.meta.date,
              message_id: m.meta.messageId,
              attachment_names: JSON.stringify(m.meta.attachmentNames),
              has_attachments: m.meta.hasAttachments ? 1 : 0,
              parse_error: m.meta.parseError,
            })
            .execute();
          const pieces = rechunk(m.chunks);
          for (const [seq, data] of pieces.entries()) {
            await trx.insertInto('message_chunks').values({ message_id: messageId, seq, data }).execute();
          }
        }
        await trx
          .insertInto('message_uids')
          .values({ account_id: accountId, uid: m.uid, message_id: messageId, first_seen_at: now, deleted_at: null })
          .onConflict((oc) => oc.columns(['account_id', 'uid']).doNothing())
          .execute();
        results.push({ uid: m.uid, messageId, isNew: !existing });
      }
      return results;
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
      query = query.where((eb) =>
        eb.or([
          eb(eb.fn('lower', ['subject']), 'like', like.toLowerCase()),
          eb(eb.fn('lower', ['from_address']), 'like', like.toLowerCase()),
          eb(eb.fn('lower', ['from_name']), 'like', like.toLowerCase()),
        ]),
      );
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
      .onConflict((oc) => oc.columns(['account_id', 'uid']).doUpdateSet({ size: n.size }))
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
   * Pending entries from an interrupted run: those whose UID is gone from the
   * server were deleted (QUIT went through before the crash); the others were not.
   */
  async settlePendingDeletions(accountId: string, onServer: Set<string>, now: string): Promise<void> {
    const rows = await this.db.selectFrom('deletion_log').select(['id', 'uid']).where('account_id', '=', accountId).where('status', '=', 'pending').execute();
    const done = rows.filter((r) => !onServer.has(r.uid));
    const notDone = rows.filter((r) => onServer.has(r.uid));
    if (done.length) await this.confirmDeletions(accountId, done.map((r) => r.id), done.map((r) => r.uid), now);
    if (notDone.length) await this.db.updateTable('deletion_log').set({ status: 'not_deleted' }).where('id', 'in', notDone.map((r) => r.id)).execute();
  }

  async deletionLog(accountId: string, limit: number): Promise<{ id: string; uid: string; sha256: string; messageId: string; policy: string; status: string; requestedAt: string; deletedAt: string | null }[]> {
    const rows = await this.db.selectFrom('deletion_log').selectAll().where('account_id', '=', accountId).orderBy('requested_at', 'desc').limit(limit).execute();
    return rows.map((r) => ({ id: r.id, uid: r.uid, sha256: r.sha256, messageId: r.message_id, policy: r.policy, status: r.status, requestedAt: r.requested_at, deletedAt: r.deleted_at }));
  }
}
