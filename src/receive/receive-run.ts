// One receive run over one account (PRODUCT.md §4), the same template for POP3
// and IMAP4:
//   connect → list → new = UID not stored for this account → oversize mail gets a
//   notice and stays → every other new mail streamed, stored raw with metadata and
//   its UID marked, in durable commits → ONLY THEN the deletions the account's
//   policy calls for → quit.
// A crash or dropped connection at any point leaves each mail on the server, in
// the store, or both; a mail is stored once per account (same bytes → same row,
// also after an IMAP UIDVALIDITY change). Deleting before the commit is the one
// bug this module must never have.
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { extractMetadata, createMetadataCollector } from '../mail/metadata.ts';
import { isMailError, MailError } from '../protocols/mail-error.ts';
import type { AppContext } from '../services/context.ts';
import { MailAccountService } from '../services/mail-accounts.ts';
import { mailLogin, serverForAccount, type MailLogin } from '../oauth/mail-login.ts';
import { ChunkAccumulator, type KnownUid, type IncomingMail, type MessageRepository } from '../store/messages.ts';
import { uuidv7 } from '../store/ids.ts';
import { BIG_MAIL_GC_INTERVAL_BYTES, collectYoungGarbage } from './memory.ts';
import type { MailboxOpener, MailboxSession, RemoteMessage } from './mailbox.ts';
import { openPop3Mailbox } from './pop3-mailbox.ts';

/** Default caps for one run; the next run continues. */
export const DEFAULT_MAX_MESSAGES_PER_RUN = 2_000;
export const DEFAULT_MAX_BYTES_PER_RUN = 512 * 1024 * 1024;
/** Mails per durable commit: fewer commits (fsyncs) without holding much in memory. */
export const COMMIT_BATCH_MESSAGES = 200;
export const COMMIT_BATCH_BYTES = 8 * 1024 * 1024;
/** Mails larger than this (by the server's size) are streamed into the database. */
export const STREAM_TO_DATABASE_BYTES = 4 * 1024 * 1024;
/** Rows of a streamed big mail: small, so no large buffers are joined on the way. */
const STAGE_BYTES = 256 * 1024;
/** With "leave on server without limit", warn from this many received mails left there. */
export const BACKLOG_WARNING_THRESHOLD = 500;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface ReceiveSummary {
  received: number;
  skippedOversize: number;
  deletedFromServer: number;
  remainingOnServer: number;
  /** why the run failed: a MailError code, the error's text, the errno or certificate code when known (localized by error-text.ts) */
  errors: { code: string; message: string; reason?: string }[];
  /** true when a cap stopped the run early: run again to continue */
  hasMore: boolean;
  /** received, but the same bytes were already stored for this account */
  duplicates: number;
}

export interface ReceiveProgress {
  phase: 'connecting' | 'listing' | 'receiving' | 'deleting' | 'done';
  total: number;
  done: number;
  bytes: number;
}

export interface ReceiveOptions {
  maxMessages?: number;
  maxBytes?: number;
  ca?: Buffer | string;
  openMailbox?: MailboxOpener;
  now?: () => Date;
  onProgress?: (p: ReceiveProgress) => void;
  logger?: Logger;
  /** The run's id on its log lines (made here when not given) */
  runId?: string | undefined;
  /**
   * Stop early (worker shutdown): checked before the transfer and after each mail, so the
   * mail in hand is finished and committed; nothing is deleted; the summary says hasMore.
   */
  signal?: AbortSignal | undefined;
  /** Give up a run that takes longer than this (a slow server must not hold a worker): TIMEOUT. */
  timeoutMs?: number | undefined;
  /**
   * Asked (and awaited) right before deleting from the server and right before the deletions
   * are committed (POP3 QUIT): false when the run's lease is gone, and then nothing is deleted.
   * The `signal` alone is set by a heartbeat that may not have run yet (a stalled process).
   */
  leaseHeld?: (() => Promise<boolean>) | undefined;
}

/** Thrown inside the transfer when `signal` asks the run to stop after the mail in hand. */
class StopRequested extends Error {}

// imapflow is loaded on first use: a POP3-only installation does not pay its memory
export const defaultOpener: MailboxOpener = async (incoming, creds, opts) =>
  incoming.protocol === 'pop3' ? openPop3Mailbox(incoming, creds, opts) : (await import('./imap-mailbox.ts')).openImapMailbox(incoming, creds, opts);

export async function receiveAccount(ctx: AppContext, messages: MessageRepository, accountId: string, opts: ReceiveOptions = {}): Promise<ReceiveSummary> {
  const now = opts.now ?? (() => new Date());
  const accounts = new MailAccountService(ctx);
  const account = await accounts.get(accountId);
  const server = await serverForAccount(ctx, account.serverId);
  if (!server) throw new Error(`mail server ${account.serverId} of ${account.address} is gone`);
  // every line of this run (the mailbox's protocol lines too) carries runId and accountId
  const log = (opts.logger ?? ctx.log).child({ accountId, runId: opts.runId ?? uuidv7() });
  const progress = (p: ReceiveProgress) => opts.onProgress?.(p);
  const summary: ReceiveSummary = { received: 0, skippedOversize: 0, deletedFromServer: 0, remainingOnServer: 0, errors: [], hasMore: false, duplicates: 0 };
  const started = now().toISOString();

  let session: MailboxSession | undefined;
  let committed = false;
  // past the deadline the connection is dropped, as a crash would: whatever was committed
  // stays, nothing uncommitted was deleted, and the next run continues
  let timedOut = false;
  const timeoutError = () => new MailError('TIMEOUT', `the receive run took longer than ${Math.round(opts.timeoutMs! / 1000)} s and was stopped`, { kind: 'transient' });
  let onDeadline = (): void => undefined;
  const deadlineHit = new Promise<never>((_, reject) => (onDeadline = () => reject(timeoutError())));
  deadlineHit.catch(() => undefined);
  const deadline =
    opts.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          session?.abort();
          onDeadline(); // also ends a login that is still going on
        }, opts.timeoutMs);
  deadline?.unref();
  try {
    progress({ phase: 'connecting', total: 0, done: 0, bytes: 0 });
    // inside the try: an OAuth grant that cannot be used is this run's error, like a refused login
    const openWith = (l: MailLogin) => {
      const opening = (opts.openMailbox ?? defaultOpener)(server.incoming, { username: l.username, password: l.password, accessToken: l.accessToken }, { ca: opts.ca, logger: log });
      // a session that opens after the deadline is closed at once
      opening.then((s) => timedOut && s.abort(), () => undefined);
      return Promise.race([opening, deadlineHit]);
    };
    const login = await mailLogin(ctx, accountId, server);
    try {
      session = await openWith(login);
    } catch (err) {
      if (!login.accessToken || !isMailError(err) || err.code !== 'AUTH_FAILED') throw err;
      // the server refused a token we believed valid (revoked, or its clock ahead of ours):
      // refresh once — a dead grant flags the account re-authorize right here
      log.info({ event: 'receive.oauth.refused' }, 'the mail server refused the access token; refreshing it once');
      session = await openWith(await mailLogin(ctx, accountId, server, undefined, { refused: login.accessToken }));
    }
    progress({ phase: 'listing', total: 0, done: 0, bytes: 0 });
    const remote = await session.list();
    const known = await messages.knownUids(accountId);
    // a UID whose deletion an earlier run asked for but never saw confirmed (the QUIT's reply
    // lost): the server may have deleted that mail and given the UID to a new one. Its mail is
    // fetched again and matched by SHA-256 — the same mail is not stored twice, a new one is
    // stored — and a UID not fetched this run is neither trusted nor deleted
    const uncertain = await messages.pendingDeletionUids(accountId);

    // --- decide what is new, and what is too large to receive -------------------------
    const limit = server.incoming.maxMessageBytes;
    // a UID listed for more than one mail (Dovecot pop3_uidl_duplicates=allow, UIDLs made from
    // the Message-ID) names no single mail: such mails are fetched each run (stored once, by
    // SHA-256) and never deleted, since "this UID is stored" says nothing about the others
    const seenUids = new Set<string>();
    const ambiguous = new Set<string>();
    for (const m of remote) (seenUids.has(m.uid) ? ambiguous : seenUids).add(m.uid);
    if (ambiguous.size) log.warn({ event: 'receive.uid.duplicate', uids: [...ambiguous].slice(0, 20), count: ambiguous.size }, 'the server lists the same UID for several mails; they are never deleted by Yubin');
    const fresh = remote.filter((m) => ambiguous.has(m.uid) || uncertain.has(m.uid) || !known.has(m.uid));
    const oversize = limit === null ? [] : fresh.filter((m) => m.size > limit);
    const oversizeUids = new Set(oversize.map((m) => m.uid));
    // a notice stored while the server refused TOP has neither From nor Subject: ask again
    // each run until the headers come (only oversize mails, one TOP each)
    const completeNotices = new Set((await messages.notices(accountId)).filter((n) => n.from !== null || n.subject !== null).map((n) => n.uid));
    let headersRefused = false;
    for (const m of oversize) {
      if (completeNotices.has(m.uid)) continue;
      // TOP is optional in POP3 (RFC 1939 §7): when the server refuses it, for good or for now
      // ([SYS/TEMP]), the mail still gets its notice, without From/Subject, and the next run
      // asks again; a dropped connection still fails the run
      const header = await session.headers(m).catch((err: unknown) => {
        if (!isMailError(err) || (err.code !== 'COMMAND_FAILED' && err.code !== 'SERVER_TEMPORARY') || err.response === undefined) throw err;
        if (!headersRefused) log.warn({ event: 'receive.oversize.headers_refused', err, uid: m.uid }, 'the server refused to send the headers of an oversize mail; its notice has no From/Subject until a later run gets them');
        headersRefused = true;
        return Buffer.alloc(0);
      });
      const meta = extractMetadata(header);
      await messages.upsertNotice(ctx.db.kysely, {
        accountId,
        uid: m.uid,
        size: m.size,
        fromText: meta.from ? (meta.from.name && meta.from.address ? `${meta.from.name} <${meta.from.address}>` : meta.from.name || meta.from.address) : null,
        subject: meta.subject,
        now: started,
      });
      log.warn({ uid: m.uid, size: m.size, limit }, 'receive.oversize');
    }
    await messages.pruneNotices(accountId, oversizeUids);
    summary.skippedOversize = oversize.length;

    const maxMessages = opts.maxMessages ?? ctx.config.receiveMaxMessages ?? DEFAULT_MAX_MESSAGES_PER_RUN;
    const maxBytes = opts.maxBytes ?? ctx.config.receiveMaxBytes ?? DEFAULT_MAX_BYTES_PER_RUN;
    const candidates = fresh.filter((m) => !oversizeUids.has(m.uid));
    const toFetch: RemoteMessage[] = [];
    let plannedBytes = 0;
    for (const m of candidates) {
      if (toFetch.length >= maxMessages || (toFetch.length > 0 && plannedBytes + m.size > maxBytes)) break;
      toFetch.push(m);
      plannedBytes += m.size;
    }
    summary.hasMore = toFetch.length < candidates.length;

    // --- download and store, committing in batches ---------------------------------------
    const stored = new Map<string, KnownUid>();
    let batch: IncomingMail[] = [];
    let batchBytes = 0;
    let doneBytes = 0;
    const flush = async () => {
      if (!batch.length) return;
      const at = now().toISOString();
      const results = await messages.storeBatch(accountId, batch, at);
      for (const [i, r] of results.entries()) {
        const m = batch[i]!;
        stored.set(r.uid, { messageId: r.messageId, firstSeenAt: r.firstSeenAt, sha256: m.meta.sha256 });
        if (r.isNew) summary.received++;
        else summary.duplicates++;
      }
      log.debug({ count: batch.length, bytes: batchBytes }, 'receive.batch.committed');
      batch = [];
      batchBytes = 0;
    };
    progress({ phase: 'receiving', total: toFetch.length, done: 0, bytes: 0 });
    await messages.clearStaging(accountId);
    let fetchedCount = 0;
    const open = session;
    // a mail the server refuses to send (a damaged file, "-ERR cannot read message"): it stays
    // on the server, never deleted, and is named in the run's errors; the others still come
    const refused = (msg: RemoteMessage, error: Error) => {
      const entry = summaryError(error);
      summary.errors.push({ ...entry, message: `UID ${msg.uid} (${msg.size} bytes): ${entry.message}` });
      log.warn({ event: 'receive.message.refused', uid: msg.uid, size: msg.size, err: error }, 'the server refused to send one mail; it stays on the server');
      fetchedCount++;
    };
    const transfer = () =>
      open.fetchMany(toFetch, async (msg, body: Readable) => {
      if (msg.size > STREAM_TO_DATABASE_BYTES) {
        // a big mail goes to the database MiB by MiB as it arrives, never whole in memory
        await flush();
        const collector = createMetadataCollector();
        const stagingId = uuidv7();
        let seq = 0;
        let pending: Buffer[] = [];
        let pendingBytes = 0;
        let size = 0;
        let lastGcAt = 0;
        const stage = async () => {
          if (!pendingBytes) return;
          await messages.stageChunk(accountId, stagingId, seq++, Buffer.concat(pending, pendingBytes));
          pending = [];
          pendingBytes = 0;
        };
        for await (const chunk of body) {
          const b = chunk as Buffer;
          collector.update(b);
          pending.push(b);
          pendingBytes += b.length;
          size += b.length;
          if (pendingBytes >= STAGE_BYTES) await stage();
          if (size - lastGcAt >= BIG_MAIL_GC_INTERVAL_BYTES) {
            lastGcAt = size;
            collectYoungGarbage();
          }
        }
        await stage();
        const meta = collector.end();
        const at = now().toISOString();
        const r = await messages.commitStaged(accountId, stagingId, msg.uid, meta, at);
        stored.set(r.uid, { messageId: r.messageId, firstSeenAt: r.firstSeenAt, sha256: meta.sha256 });
        if (r.isNew) summary.received++;
        else summary.duplicates++;
        doneBytes += size;
        fetchedCount++;
        progress({ phase: 'receiving', total: toFetch.length, done: fetchedCount, bytes: doneBytes });
        stopIfAsked();
        return;
      }
      const collector = createMetadataCollector();
      const acc = new ChunkAccumulator();
      // 'data' events rather than for-await: one hop less per chunk on the hot path
      await new Promise<void>((resolve, reject) => {
        body.on('data', (chunk: Buffer) => {
          collector.update(chunk);
          acc.push(chunk);
        });
        body.once('end', resolve);
        body.once('error', reject);
      });
      const size = acc.size;
      batch.push({ uid: msg.uid, chunks: acc.end(), meta: collector.end() });
      batchBytes += size;
      doneBytes += size;
      fetchedCount++;
      if (batch.length >= COMMIT_BATCH_MESSAGES || batchBytes >= COMMIT_BATCH_BYTES) await flush();
      progress({ phase: 'receiving', total: toFetch.length, done: fetchedCount, bytes: doneBytes });
      stopIfAsked();
    }, refused);
    const stopIfAsked = () => {
      if (!opts.signal?.aborted) return;
      // drop the connection now rather than drain the RETRs/FETCHes still in flight: no
      // deletion was asked for yet, so the server keeps every mail we did not store
      open.abort();
      throw new StopRequested();
    };
    let stopped = !!opts.signal?.aborted;
    if (!stopped) {
      try {
        await transfer();
      } catch (err) {
        if (!(err instanceof StopRequested)) {
          // the mails in hand arrived whole (their bodies ended): keep them, so that a server
          // that drops the connection (or refuses one mail, or a run that times out) does not
          // make every run download the same batch again and store none of it
          await flush().catch((flushErr: unknown) => log.warn({ err: flushErr }, 'receive.batch.flush_failed'));
          throw err;
        }
        stopped = true;
      }
    }
    await flush();
    const stopNow = async (): Promise<ReceiveSummary> => {
      open.abort();
      // the mails in hand are committed; deletions and the rest wait for the next run
      committed = true;
      summary.hasMore = true;
      await ctx.db.kysely
        .updateTable('mail_accounts')
        .set({ last_run_at: started, last_summary: JSON.stringify(summary) })
        .where('id', '=', accountId)
        .execute();
      log.info({ ...summary }, 'receive.run.stopped');
      return summary;
    };
    // asked to stop, or the lease is lost (another worker may be deleting): no deletions
    const mayDelete = async () => !opts.signal?.aborted && (opts.leaseHeld === undefined || (await opts.leaseHeld())) && !opts.signal?.aborted;
    // asked to stop (or the lease was lost) during the transfer's last mail: no deletions
    if (!stopped && opts.signal?.aborted) stopped = true;
    if (stopped) return stopNow();

    // --- only now: deletions, by the account's policy --------------------------------------
    const all = new Map<string, KnownUid>([...known, ...stored]);
    for (const uid of uncertain) if (!stored.has(uid)) all.delete(uid);
    // what an interrupted earlier run asked to delete: settle it now that every UID we
    // could fetch is matched to a stored message
    const onServerMessageIds = new Set(remote.flatMap((m) => (all.has(m.uid) ? [all.get(m.uid)!.messageId] : [])));
    const allIdentified = remote.every((m) => all.has(m.uid) || oversizeUids.has(m.uid));
    await messages.settlePendingDeletions(accountId, onServerMessageIds, allIdentified, now().toISOString());
    const policy = account.leaveOnServer;
    const cutoff = policy.mode === 'days' ? now().getTime() - (policy.days ?? 0) * DAY_MS : 0;
    const toDelete = remote.filter((m) => {
      const k = all.get(m.uid);
      if (!k) return false; // not stored: never deleted (oversize, over the cap, or failed)
      if (ambiguous.has(m.uid)) return false; // which of the mails under this UID is stored is unknown
      if (policy.mode === 'delete') return true;
      if (policy.mode === 'days') return Date.parse(k.firstSeenAt) <= cutoff;
      return false;
    });
    progress({ phase: 'deleting', total: toDelete.length, done: 0, bytes: doneBytes });
    if (toDelete.length) {
      if (!(await mayDelete())) return stopNow();
      const policyText = policy.mode === 'days' ? `days:${policy.days}` : policy.mode;
      const logIds = await messages.logDeletionsPending(
        accountId,
        toDelete.map((m) => ({ uid: m.uid, sha256: all.get(m.uid)!.sha256, messageId: all.get(m.uid)!.messageId, policy: policyText })),
        now().toISOString(),
      );
      await session.delete(toDelete);
      // POP3 deletes at QUIT: a lease lost while the DELEs went out still deletes nothing
      // (the log's pending entries are settled by the next run)
      if (!(await mayDelete())) return stopNow();
      await session.commit();
      committed = true;
      await messages.confirmDeletions(accountId, logIds, toDelete.map((m) => m.uid), now().toISOString());
    } else {
      await session.commit();
      committed = true;
    }
    summary.deletedFromServer = toDelete.length;
    summary.remainingOnServer = remote.length - toDelete.length;
    const storedOnServer = remote.filter((m) => all.has(m.uid)).length - toDelete.length;

    await ctx.db.kysely
      .updateTable('mail_accounts')
      .set({
        last_run_at: started,
        last_success_at: now().toISOString(),
        last_error_code: null,
        last_error_message: null,
        consecutive_failures: 0,
        last_summary: JSON.stringify(summary),
        on_server_count: summary.remainingOnServer,
        stored_on_server_count: storedOnServer,
      })
      .where('id', '=', accountId)
      .execute();
    log.info({ ...summary }, 'receive.run.done');
    progress({ phase: 'done', total: toFetch.length, done: fetchedCount, bytes: doneBytes });
    return summary;
  } catch (caught) {
    const err = timedOut ? timeoutError() : caught;
    if (session && !committed) session.abort();
    const entry = summaryError(err);
    const { code, message } = entry;
    summary.errors.push(entry);
    log.warn({ err, code }, 'receive.run.failed');
    await ctx.db.kysely
      .updateTable('mail_accounts')
      .set((eb) => ({
        last_run_at: started,
        last_error_code: code,
        last_error_message: message.slice(0, 2000),
        consecutive_failures: eb('consecutive_failures', '+', 1),
        last_summary: JSON.stringify(summary),
      }))
      .where('id', '=', accountId)
      .execute();
    throw err;
  } finally {
    clearTimeout(deadline);
  }
}

/** A failed run's entry in its summary: the MailError code, the error's text, and the socket errno or certificate code when there is one (error-text.ts words it). */
export function summaryError(err: unknown): ReceiveSummary['errors'][number] {
  const code = isMailError(err) ? err.code : 'INTERNAL';
  const message = err instanceof Error ? err.message : String(err);
  const cause = (err as { cause?: { code?: unknown } } | null)?.cause;
  const reason = typeof cause?.code === 'string' ? cause.code : undefined;
  return { code, message, ...(reason ? { reason } : {}) };
}
