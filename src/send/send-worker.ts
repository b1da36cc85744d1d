// The send worker (PRODUCT.md §5): claims due recipients from the shared database and
// sends them over SMTP, any number of workers in any number of processes at once.
//
//   worker: claim DEFAULT_BATCH recipients at a time (single sends first), the next batch
//           while the sessions send this one
//   loop:   take SESSION_TAKE of them → per account, one SmtpSession per loop → per mail:
//           bulk delivery still running? → compose (bulk) → per-minute slot (bulk mail of a
//           rate-limited server only) → send, up to PIPELINE_DEPTH mails ahead of their
//           results → decide each recipient (outcome.ts) → group commit (result-committer.ts)
//
// `sessions` loops run side by side, so that is the number of parallel SMTP sessions; one
// more loop takes single sends only, so a single send never waits behind bulk mail held
// back by the per-minute limit. A slot is taken right before the mail's MAIL FROM on an
// already open connection, and slots are kept a small margin longer than the window, so
// that the SMTP server too never sees more than the limit start in any window.
// Crash safety: claimed recipients carry a lease this worker renews; a recipient whose
// worker died goes out again from another one. `stop()` lets mails in flight finish,
// hands back what it claimed but did not send, and commits every result.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { MailAccount } from '../domain/mail-account.ts';
import type { MailServer } from '../domain/mail-server.ts';
import { bulkMailChunks } from '../mail/compose-bulk.ts';
import type { MailCharset } from '../mail/compose.ts';
import { isSecretKeyMismatch } from '../config/secrets.ts';
import { isMailError, MailError } from '../protocols/mail-error.ts';
import { messageSize } from '../protocols/smtp/dot-stuffing.ts';
import { SendCancelledError, SmtpSession, type SmtpMessage, type SmtpRecipientResult, type SmtpSendOptions, type SmtpSendResult } from '../protocols/smtp/smtp-client.ts';
import type { FailedAfterRecipients } from '../protocols/smtp/smtp-transaction.ts';
import type { AppContext } from '../services/context.ts';
import { MailAccountService } from '../services/mail-accounts.ts';
import { mailLogin, serverForAccount } from '../oauth/mail-login.ts';
import { OAuthTokenService } from '../oauth/token-service.ts';
import type { BulkStatus, ClaimedRecipient, RecipientResult, SlotDecision } from '../store/deliveries.ts';
import type { BulkDeliveryTable } from '../store/schema.ts';
import { BulkStatusCache } from './bulk-status-cache.ts';
import { compileBulkMail, type CompiledBulkMail } from './compose-delivery.ts';
import { unsubscribeLinks } from './unsubscribe.ts';
import { decideDelivery, type DeliveryDecision } from './outcome.ts';
import { COMMIT_RETRY_MS, ResultCommitter } from './result-committer.ts';
import { shared } from './shared-load.ts';
import { smtpOptionsFor, type SmtpExtras } from './smtp-options.ts';
import { onSendWork } from './wake.ts';

/** Parallel SMTP sessions (sender loops) per worker. */
export const DEFAULT_SESSIONS = 4;
/** Recipients a worker claims from the database at a time (its sessions take from them). */
export const DEFAULT_BATCH = 256;
/** Recipients one session takes from its worker's claimed batch at a time. */
export const SESSION_TAKE = 32;
/** How often an idle worker looks for work (new work in this process wakes it at once). */
export const POLL_INTERVAL = 1_000;
/** A claimed recipient's lease; renewed every third of it while the worker lives. */
export const LEASE_MS = 60_000;
/** After claims failed (the database away), recipients of other workers whose lease ran out are left alone this long. */
export const STALE_GRACE_MS = 3 * COMMIT_RETRY_MS;
/** At most this much of a lease's end is not used for starting a mail (a tenth of the lease when that is less). */
export const LEASE_MARGIN_MS = 5_000;
/** The per-minute limit's window. Tests shorten it. */
export const RATE_WINDOW_MS = 60_000;
/** A slot that frees within this long is waited for; later, the mail is handed back. */
export const MAX_SLOT_WAIT_MS = 1_000;
/** An SMTP session with nothing to send for this long says QUIT. */
export const SESSION_IDLE_MS = 5_000;
/** Account, server and credentials are read again after this long. */
export const ACCOUNT_CACHE_MS = 5_000;
/** Mails of an account that could not be read are tried again after this long. */
export const ACCOUNT_RETRY_MS = 60_000;
/** Mails handed to one SMTP session before the oldest one's result is taken (see #sendForAccount). */
export const PIPELINE_DEPTH = 3;
/** A bulk delivery's status (pause, cancel) is read again this often while the worker sends its mail. */
export const BULK_STATUS_CACHE_MS = 500;

/** Slots occupy the window plus this margin (2 %, at most a second): what the server sees never exceeds the limit. */
export function defaultRateMarginMs(windowMs: number): number {
  return Math.min(1_000, Math.ceil(windowMs * 0.02));
}

export interface SendWorkerOptions {
  /** This worker's name in leases and slots; random by default. */
  holder?: string | undefined;
  sessions?: number | undefined;
  /** recipients claimed from the database at a time (DEFAULT_BATCH) */
  batchSize?: number | undefined;
  pollIntervalMs?: number | undefined;
  leaseMs?: number | undefined;
  rateWindowMs?: number | undefined;
  rateMarginMs?: number | undefined;
  /** extra trusted CA certificates for SMTP servers */
  ca?: SmtpExtras['ca'];
  logger?: Logger | undefined;
  /** only this delivery's recipients (`yubin send`), without the single-send loop */
  deliveryId?: string | undefined;
  /** told when an account cannot be read (its mail is handed back for later): `yubin send` stops with it */
  onAccountError?: ((err: unknown) => void) | undefined;
}

export interface SendWorker {
  readonly holder: string;
  /** Finish the mails in flight, hand back the rest, commit every result. */
  stop(): Promise<void>;
}

interface AccountContext {
  account: MailAccount;
  server: MailServer;
  /** the SMTP options, or why there are none (XOAUTH2, missing credentials) */
  options: SmtpSendOptions | MailError;
  /** a session opened for another version of the settings is not reused */
  version: string;
  flagged: boolean;
  at: number;
}

/** What one SMTP transaction sends: a single send's due recipients, or one bulk mail. */
interface Unit {
  items: ClaimedRecipient[];
  bulkId: string | null;
  deliveryId: string;
  serverId: string;
  perMinuteLimit: number | null;
  /** the batch's logger: every line about this mail carries batchId and accountId */
  log: BatchLog;
}

/**
 * A child logger made on first use. At the default level a batch of sent mail logs nothing,
 * and pino's child() cost tens of microseconds a batch on the send path.
 */
class BatchLog {
  #child: Logger | undefined;
  #debug: boolean | undefined;
  readonly #parent: Logger;
  readonly #bindings: Record<string, unknown>;

  constructor(parent: Logger, bindings: Record<string, unknown>) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  /** Whether debug lines are written (asked once per batch: a sent mail's line is debug). */
  get debugEnabled(): boolean {
    return (this.#debug ??= this.#parent.isLevelEnabled('debug'));
  }

  debug(fields: object, message: string): void {
    if (this.debugEnabled) this.#log().debug(fields, message);
  }

  info(fields: object, message: string): void {
    if (this.#parent.isLevelEnabled('info')) this.#log().info(fields, message);
  }

  #log(): Logger {
    return (this.#child ??= this.#parent.child(this.#bindings));
  }
}

/** A mail ready to go: its bytes, its envelope, and (bulk) what to record once it is sent. */
interface PreparedMail {
  /** its bytes, as one buffer or as chunks (bulk mail: its shared segments are not copied) */
  message: SmtpMessage;
  envelope: { from: string; to: string[] };
  /** built from CRLF-only segments (compose-bulk's parts): the SMTP layer need not look for bare line breaks */
  crlf?: boolean;
  info?: RecipientResult['mail'];
}

/** A mail handed to its SMTP session, its result not taken yet. */
interface InFlight {
  unit: Unit;
  mail: PreparedMail;
  result: Promise<SmtpSendResult>;
}

interface PooledSession {
  session: SmtpSession;
  version: string;
  lastUsed: number;
}

export function startSendWorker(ctx: AppContext, opts: SendWorkerOptions = {}): SendWorker {
  const worker = new Worker(ctx, opts);
  worker.start();
  return worker;
}

/**
 * Send one delivery now in this process (`yubin send`): returns once no recipient is queued
 * or being sent (a deferred one waits for its retry), or after `timeoutMs`. If another
 * worker already holds the recipients, this waits for its result.
 */
export async function sendDeliveryNow(ctx: AppContext, deliveryId: string, opts: SendWorkerOptions & { timeoutMs?: number } = {}): Promise<void> {
  // an account that cannot be read (a secret key that does not open its password): the mail
  // stays queued for a worker that can, and the caller is told why at once
  let unreadable: unknown;
  const worker = startSendWorker(ctx, { ...opts, sessions: 1, deliveryId, pollIntervalMs: opts.pollIntervalMs ?? 200, onAccountError: (err) => (unreadable ??= err) });
  const deadline = Date.now() + (opts.timeoutMs ?? 10 * 60_000);
  try {
    while (Date.now() < deadline) {
      if (unreadable !== undefined) throw unreadable;
      const rows = await ctx.repos.deliveries.recipients(deliveryId);
      if (!rows.some((r) => r.status === 'queued' || r.status === 'sending')) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await worker.stop();
  }
}

class Worker implements SendWorker {
  readonly holder: string;
  readonly #ctx: AppContext;
  readonly #log: Logger;
  readonly #sessions: number;
  readonly #batch: number;
  readonly #poll: number;
  readonly #leaseMs: number;
  readonly #spanMs: number;
  readonly #extras: SmtpExtras;
  readonly #deliveryId: string | undefined;
  readonly #onAccountError: ((err: unknown) => void) | undefined;
  readonly #committer: ResultCommitter;
  readonly #tokens: OAuthTokenService;
  readonly #accounts = new Map<string, AccountContext>();
  /** reads under way, one per key for every session that asks meanwhile (at a worker's start, all of them at once) */
  readonly #loads = {
    accounts: new Map<string, Promise<AccountContext | undefined>>(),
    bulks: new Map<string, Promise<BulkDeliveryTable>>(),
  };
  readonly #bulks = new Map<string, BulkDeliveryTable>();
  /** compiled templates per bulk delivery, charset and version of the account (its From); `ready` once compiled, taken without an await */
  readonly #composers = new Map<string, { compiling: Promise<CompiledBulkMail>; ready?: CompiledBulkMail }>();
  /** the statuses of the bulk deliveries being sent, taken without an await (pause, cancel) */
  readonly #bulkStatus: BulkStatusCache;
  /** servers whose window is full, until when */
  readonly #throttledUntil = new Map<string, number>();
  readonly #sleepers = new Set<() => void>();
  #loops: Promise<void>[] = [];
  /** claimed for this worker and not taken by a session yet */
  #claimed: ClaimedRecipient[] = [];
  #refilling: Promise<void> | null = null;
  /** the last claim got all it asked for: more is likely due */
  #claimedFull = false;
  #stopping = false;
  #heartbeat: NodeJS.Timeout | undefined;
  /**
   * What this worker knows of its leases: every recipient claimed at or after `since` is held
   * until `until` (its renewals went through without a gap); any recipient at least until its
   * claim plus the lease time. A renewal that failed, or a process that stood still (a stall,
   * SIGSTOP, a suspended VM), lets leases run out, and another worker may then send those
   * recipients: this worker must not send them too (#startBy).
   */
  readonly #held = { since: Number.POSITIVE_INFINITY, until: 0 };
  /** kept off the end of a lease: clocks of workers on other hosts differ a little */
  readonly #leaseMargin: number;
  /** recipients claimed by this worker whose result (or hand-back) is not committed yet */
  readonly #holding = new Set<string>();
  /** the last claim failed (the database away); when claims worked again after that */
  readonly #outage = { claimFailed: false, backAt: Number.NEGATIVE_INFINITY };
  #unsubscribe: (() => void) | undefined;

  constructor(ctx: AppContext, opts: SendWorkerOptions) {
    this.#ctx = ctx;
    this.holder = opts.holder ?? `send-${randomUUID()}`;
    this.#log = (opts.logger ?? ctx.log).child({ component: 'send-worker', holder: this.holder });
    this.#sessions = Math.max(1, opts.sessions ?? DEFAULT_SESSIONS);
    this.#batch = Math.max(1, opts.batchSize ?? DEFAULT_BATCH);
    this.#poll = opts.pollIntervalMs ?? POLL_INTERVAL;
    // YUBIN_LEASE_TTL_SECONDS and YUBIN_SEND_RATE_WINDOW_SECONDS, when set
    this.#leaseMs = opts.leaseMs ?? ctx.config.worker?.leaseTtlMs ?? LEASE_MS;
    this.#leaseMargin = Math.min(this.#leaseMs / 10, LEASE_MARGIN_MS);
    const configured = opts.rateWindowMs === undefined ? ctx.config.worker?.rateWindowMs : undefined;
    const window = opts.rateWindowMs ?? configured ?? RATE_WINDOW_MS;
    // a window shortened for several worker processes (tests on a busy machine) keeps
    // production's 1 s budget between a slot and its MAIL FROM, at most half the window
    const margin = configured !== undefined ? Math.min(1_000, Math.ceil(configured / 2)) : defaultRateMarginMs(window);
    this.#spanMs = window + (opts.rateMarginMs ?? margin);
    this.#extras = { ca: opts.ca };
    this.#deliveryId = opts.deliveryId;
    this.#onAccountError = opts.onAccountError;
    this.#committer = new ResultCommitter(ctx.repos.deliveries, this.holder, this.#log, undefined, (results) => {
      for (const r of results) this.#holding.delete(r.id);
    });
    this.#bulkStatus = new BulkStatusCache((ids) => ctx.repos.deliveries.bulkStatuses(ids), {
      intervalMs: BULK_STATUS_CACHE_MS,
      onRefreshError: (err) => this.#log.warn({ event: 'send.bulk_status.failed', err }, 'could not read the status of bulk deliveries'),
    });
    this.#tokens = new OAuthTokenService(ctx, { holder: `${this.holder}:oauth` });
  }

  start(): void {
    this.#unsubscribe = onSendWork(() => this.#wakeAll());
    this.#heartbeat = setInterval(() => void this.#renewLeases(), Math.max(50, Math.floor(this.#leaseMs / 3)));
    this.#heartbeat.unref();
    for (let i = 0; i < this.#sessions; i++) this.#loops.push(this.#loop(false));
    if (!this.#deliveryId) this.#loops.push(this.#loop(true));
    this.#log.info({ event: 'send.worker.start', sessions: this.#sessions }, 'send worker started');
  }

  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#unsubscribe?.();
    this.#wakeAll();
    await Promise.allSettled(this.#loops);
    // what was claimed and not taken goes back at once
    await this.#refilling?.catch(() => undefined);
    await this.#release(this.#claimed.splice(0));
    clearInterval(this.#heartbeat);
    this.#bulkStatus.close();
    await this.#committer.close();
    this.#log.info({ event: 'send.worker.stop' }, 'send worker stopped');
  }

  // ---- the loop -------------------------------------------------------------------

  async #loop(singlesOnly: boolean): Promise<void> {
    const pool = new Map<string, PooledSession>();
    try {
      while (!this.#stopping) {
        let items: ClaimedRecipient[];
        try {
          items = singlesOnly ? await this.#claim(Math.min(this.#batch, 8), true) : await this.#take();
        } catch (err) {
          this.#log.error({ event: 'send.claim.failed', err }, 'could not claim deliveries');
          await this.#sleep(this.#poll, true);
          continue;
        }
        if (items.length === 0) {
          // the last results of a run are not held back for company that is not coming
          this.#committer.commitNow();
          await this.#closeIdle(pool);
          await this.#sleep(this.#idleWait(), true);
          continue;
        }
        try {
          await this.#process(items, pool);
        } catch (err) {
          await this.#recover(items, pool, err);
        }
      }
    } finally {
      await Promise.allSettled([...pool.values()].map((p) => p.session.quit()));
    }
  }

  /**
   * The next recipients for one session: up to SESSION_TAKE from what this worker claimed.
   * The worker claims `batchSize` at a time (one transaction instead of one per session
   * turn), and the next batch while the sessions send this one when the last claim was
   * full, so that no session waits for the database.
   */
  async #take(): Promise<ClaimedRecipient[]> {
    if (this.#claimed.length === 0) await this.#refill();
    const items = this.#claimed.splice(0, SESSION_TAKE);
    if (this.#claimedFull && this.#claimed.length < SESSION_TAKE * this.#sessions && !this.#stopping) {
      this.#refill().catch((err: unknown) => this.#log.error({ event: 'send.claim.failed', err }, 'could not claim deliveries'));
    }
    return items;
  }

  #refill(): Promise<void> {
    this.#refilling ??= (async () => {
      try {
        const items = await this.#claim(this.#batch, false);
        // a batch held back by a per-minute limit is not a sign of more to come soon
        this.#claimedFull = items.length === this.#batch && items.every((it) => it.bulkId === null || it.perMinuteLimit === null);
        this.#claimed.push(...items);
      } finally {
        this.#refilling = null;
      }
    })();
    return this.#refilling;
  }

  async #claim(limit: number, singlesOnly: boolean): Promise<ClaimedRecipient[]> {
    const now = Date.now();
    const throttled = [...this.#throttledUntil].filter(([, until]) => until > now).map(([id]) => id);
    let items: ClaimedRecipient[];
    try {
      items = await this.#ctx.repos.deliveries.claim({
        holder: this.holder,
        now: new Date(now),
        leaseMs: this.#leaseMs,
        limit,
        singlesOnly,
        deliveryId: this.#deliveryId,
        skipThrottledServers: throttled,
        maxThrottled: 1,
        // Right after the database came back, every lease may have run out, also those of
        // workers that are alive and whose results are on their way (they retry their
        // commits every COMMIT_RETRY_MS): their recipients are taken over only when they
        // had the time to commit.
        stale: !this.#outage.claimFailed && now - this.#outage.backAt >= STALE_GRACE_MS,
      });
    } catch (err) {
      this.#outage.claimFailed = true;
      throw err;
    }
    if (this.#outage.claimFailed) {
      this.#outage.claimFailed = false;
      this.#outage.backAt = now;
    }
    // A recipient this worker still holds comes back when its lease ran out while the
    // database was away: its mail may be sent already, its result waiting to be committed.
    // The copy in hand decides (its result is committed, or, not started before its old
    // lease ran out, it is handed back and claimed anew); this one is not sent as well.
    const fresh: ClaimedRecipient[] = [];
    for (const it of items) {
      if (this.#holding.has(it.id)) continue;
      this.#holding.add(it.id);
      fresh.push(it);
    }
    if (fresh.length < items.length) this.#log.warn({ event: 'send.claim.held', recipients: items.length - fresh.length }, 'claimed again what this worker still holds (its lease ran out); not sent twice');
    return fresh;
  }

  /**
   * Sending a batch failed outside any one mail (the database away under a slot, a status or
   * a flag). The loop lives on — an unhandled rejection here ended the whole process, and a
   * loop that ended left its recipients 'sending' under leases its worker kept renewing: the
   * sessions are closed (nothing more of the batch goes out), the results already recorded
   * are committed first, and every recipient of the batch still 'sending' for this worker is
   * handed back (a committed result wins: applyResults' guards).
   */
  async #recover(items: ClaimedRecipient[], pool: Map<string, PooledSession>, err: unknown): Promise<void> {
    this.#log.error({ event: 'send.batch.failed', err, recipients: items.length }, 'sending a batch failed; its unsent recipients go back to the queue');
    for (const p of pool.values()) p.session.close();
    pool.clear();
    try {
      await this.#committer.flush();
      await this.#release(items);
    } catch (releaseErr) {
      this.#log.error({ event: 'send.batch.release_failed', err: releaseErr }, 'could not hand back the recipients of a failed batch; their leases will run out');
    }
    await this.#sleep(this.#poll, true);
  }

  /** Until the next poll, or until a throttled server's window opens, whichever is first. */
  #idleWait(): number {
    const now = Date.now();
    let wait = this.#poll;
    for (const until of this.#throttledUntil.values()) if (until > now) wait = Math.min(wait, until - now);
    return Math.max(1, wait);
  }

  async #process(items: ClaimedRecipient[], pool: Map<string, PooledSession>): Promise<void> {
    const batchId = randomUUID();
    const byAccount = new Map<string, ClaimedRecipient[]>();
    for (const item of items) {
      const list = byAccount.get(item.accountId) ?? [];
      list.push(item);
      byAccount.set(item.accountId, list);
    }
    for (const [accountId, list] of byAccount) await this.#sendForAccount(accountId, toUnits(list, new BatchLog(this.#log, { batchId, accountId })), pool);
  }

  async #sendForAccount(accountId: string, units: Unit[], pool: Map<string, PooledSession>): Promise<void> {
    let actx: AccountContext | undefined;
    try {
      actx = await this.#accountContext(accountId);
    } catch (err) {
      // unreadable (the database, a secret that does not open): try again in a while
      this.#log.error({ event: 'send.account.failed', accountId, err }, 'could not read the account');
      this.#onAccountError?.(err);
      await this.#release(
        units.flatMap((u) => u.items),
        new Date(Date.now() + ACCOUNT_RETRY_MS).toISOString(),
      );
      return;
    }
    if (!actx) {
      for (const u of units) for (const it of u.items) this.#holding.delete(it.id);
      return; // the account is gone, and its deliveries with it
    }
    if (actx.options instanceof MailError) {
      await this.#finishAll(units, actx.options);
      return;
    }
    const session = this.#session(pool, actx);
    // a new connection's handshake (connect, greeting, EHLO, STARTTLS, login) goes on while
    // the first mail is composed; awaited before that mail goes to the session
    let connecting = session.connected ? null : session.connect();
    connecting?.catch(ignore);
    // the next bulk mail is composed while this one is on the wire
    const prepared = new Map<Unit, Promise<PreparedMail>>();
    const prepare = (u: Unit): Promise<PreparedMail> => {
      let p = prepared.get(u);
      if (!p) {
        p = this.#mailFor(u, actx);
        p.catch(ignore); // awaited (and its error handled) when the unit's turn comes
        prepared.set(u, p);
      }
      return p;
    };
    /** Hand a unit's mail to the session, to be started while the unit's leases last. */
    const send = (unit: Unit, mail: PreparedMail): Promise<SmtpSendResult> => session.send(mail.envelope, mail.message, { crlf: mail.crlf, startBy: this.#startBy(unit.items) });

    // Mails without a per-minute limit are handed to the session up to PIPELINE_DEPTH ahead
    // of their results, so that when one mail's data is written the next one is already
    // waiting and its command group goes in the same write (one round trip per mail); a
    // result is taken (and recorded) once later mails are on their way.
    const inFlight: InFlight[] = [];
    // `from`: where the units not handed to the session yet begin (sliced only when the
    // session fails, not once per mail)
    /** Record a sent mail's result; false when its session failed (then the units from `from` on are dealt with too). */
    const settle = async (sent: InFlight, from: number): Promise<boolean> => {
      let result: SmtpSendResult;
      try {
        result = await sent.result;
      } catch (err) {
        if (isSessionFailure(err)) {
          await this.#sessionFailed(err, [sent.unit, ...units.slice(from)], actx, pool);
          return false;
        }
        if (err instanceof SendCancelledError) await this.#notSent(err, sent.unit.items);
        else await this.#finish(sent.unit, err as Error);
        return true;
      }
      const pooled = pool.get(accountId);
      if (pooled) pooled.lastUsed = Date.now();
      const recorded = this.#recordResult(sent.unit, result, sent.mail.info, actx);
      if (recorded) await recorded;
      return true;
    };
    /** Settle the oldest mail in flight; false when the session failed (the rest in flight and the units from `from` on were dealt with). */
    const settleOldest = async (from: number): Promise<boolean> => {
      if (await settle(inFlight.shift()!, from)) return true;
      // the session failed under it and was closed: the mails queued behind it went
      // nowhere unless they had already started; each is recorded as it ended
      for (const q of inFlight.splice(0)) {
        try {
          await this.#recordResult(q.unit, await q.result, q.mail.info, actx);
        } catch (err) {
          if (err instanceof SendCancelledError) await this.#notSent(err, q.unit.items);
          else await this.#finish(q.unit, err as Error);
        }
      }
      return false;
    };
    /** Settle every mail in flight; false when the session failed and the units from `from` on were dealt with. */
    const drain = async (from: number): Promise<boolean> => {
      while (inFlight.length > 0) if (!(await settleOldest(from))) return false;
      return true;
    };

    for (let i = 0; i < units.length; i++) {
      const unit = units[i]!;
      if (this.#stopping) {
        if (!(await drain(i))) return;
        await this.#release(units.slice(i).flatMap((u) => u.items));
        return;
      }
      if (unit.bulkId) {
        // read at most BULK_STATUS_CACHE_MS ago: no await (one per mail otherwise)
        const known = this.#bulkStatus.get(unit.bulkId);
        let status: BulkStatus | null;
        try {
          status = known === undefined ? await this.#bulkStatus.load(unit.bulkId) : known;
        } catch (err) {
          // the database away: the mail waits for a worker that can read whether it may go
          this.#log.warn({ event: 'send.bulk_status.failed', bulkId: unit.bulkId, err }, 'could not read the status of a bulk delivery; its mail goes back to the queue');
          await this.#release(unit.items);
          continue;
        }
        if (status === 'cancelled') {
          await this.#committer.push(unit.items.map((it) => ({ id: it.id, deliveryId: it.deliveryId, bulkId: it.bulkId, status: 'cancelled', attempted: false })));
          continue;
        }
        if (status !== 'running') {
          await this.#release(unit.items);
          continue;
        }
      }

      // the mail, before the slot: nothing slow between the slot and MAIL FROM
      let mail: PreparedMail;
      try {
        mail = await prepare(unit);
        prepared.delete(unit);
      } catch (err) {
        if (err instanceof StoreReadError) {
          // the database, not the mail: it waits, unattempted, as for an account that could not be read
          this.#log.warn({ event: 'send.mail.read_failed', deliveryId: unit.deliveryId, err: err.cause }, 'could not read the mail to send; it goes back to the queue');
          await this.#release(unit.items, new Date(Date.now() + ACCOUNT_RETRY_MS).toISOString());
          continue;
        }
        const error = isMailError(err) ? err : new MailError('COMMAND_FAILED', `the mail could not be composed: ${(err as Error).message}`, { kind: 'permanent' });
        await this.#finish(unit, error);
        continue;
      }
      const next = units[i + 1];
      if (next?.bulkId) void prepare(next);
      if (connecting) {
        try {
          await connecting;
        } catch (err) {
          // the login (or the connection) decides for every mail here, as a failed first send would
          await this.#sessionFailed(err, units.slice(i), actx, pool);
          return;
        }
        connecting = null;
      }

      if (!(unit.bulkId && unit.perMinuteLimit !== null) && session.connected) {
        const sent: InFlight = { unit, mail, result: send(unit, mail) };
        sent.result.catch(ignore); // settled in turn
        inFlight.push(sent);
        if (inFlight.length >= PIPELINE_DEPTH && !(await settleOldest(i + 1))) return;
        continue;
      }

      if (!(await drain(i))) return;
      if (!(unit.bulkId && unit.perMinuteLimit !== null)) {
        // the first mail of a connection: its login decides whether the next can follow
        if (!(await settle({ unit, mail, result: send(unit, mail) }, i + 1))) return;
        continue;
      }

      // per-minute limit: the slot is taken right before this mail's MAIL FROM, in order
      try {
        if (!session.connected) await session.connect();
      } catch (err) {
        await this.#sessionFailed(err, units.slice(i), actx, pool);
        return;
      }
      const slot = await this.#takeSlot(unit.serverId, unit.perMinuteLimit);
      if (slot === null) {
        // the window is full for a while: hand back this server's bulk mail, go on with the rest
        const rest = units.slice(i);
        const held = rest.filter((u) => u.bulkId && u.serverId === unit.serverId && u.perMinuteLimit !== null);
        await this.#release(held.flatMap((u) => u.items));
        units = [...units.slice(0, i + 1), ...rest.filter((u) => !held.includes(u))];
        continue;
      }
      const result = send(unit, mail);
      const startedAt = Date.now(); // MAIL FROM is on its way
      const settled = await settle({ unit, mail, result }, i + 1);
      await this.#slotStarted(slot, startedAt);
      if (!settled) return;
    }
    await drain(units.length);
  }

  // ---- composing and sending ------------------------------------------------------

  async #mailFor(unit: Unit, actx: AccountContext): Promise<PreparedMail> {
    // a plain loop: arrays from .map came in two shapes, and V8 threw the SMTP layer's optimized code away over it
    const to: string[] = [];
    for (const it of unit.items) to.push(it.address);
    const envelope = { from: actx.account.address, to };
    if (!unit.bulkId) {
      const raw = await fromStore(this.#ctx.repos.deliveries.raw(unit.deliveryId));
      if (!raw) throw new MailError('COMMAND_FAILED', 'the stored mail is missing', { kind: 'permanent' });
      return { message: raw, envelope };
    }
    // cached: no await (each is a turn of the event loop per mail)
    const bulk = this.#bulks.get(unit.bulkId) ?? (await fromStore(this.#bulk(unit.bulkId)));
    const item = unit.items[0]!;
    const fields = item.fieldsJson ? (JSON.parse(item.fieldsJson) as Record<string, string>) : {};
    const charset = item.charset as MailCharset;
    const composer = this.#composers.get(composerKey(bulk, charset, actx))?.ready ?? (await this.#composer(bulk, charset, actx));
    // the Message-ID written when it was queued (bulk mail queued by an earlier version has none: made here, the same way)
    const composed = composer.compose(item.address, fields, item.deliveryId, undefined, item.messageId ?? undefined);
    const mail = composed instanceof Promise ? await composed : composed;
    const info = { subject: mail.subject, messageId: mail.messageId, charsetFallback: mail.charsetFallback?.characters ?? null, onRow: item.messageId !== null };
    if (mail.parts) {
      // made of compose-bulk's segments, whose lines all end in CRLF; stored as a recipe of them
      const chunks = bulkMailChunks(mail.parts);
      return { message: chunks, envelope, crlf: true, info: { ...info, size: messageSize(chunks), parts: mail.parts } };
    }
    return { message: mail.raw, envelope, info: { ...info, size: mail.raw.length, raw: mail.raw } };
  }

  /** Queue the unit's results for their commit; a promise only when the caller must wait (backpressure, an account to clear). */
  #recordResult(unit: Unit, result: SmtpSendResult, info: RecipientResult['mail'], actx: AccountContext): Promise<void> | undefined {
    const byAddress = new Map<string, SmtpRecipientResult>();
    for (const r of result.accepted) byAddress.set(r.address.toLowerCase(), r);
    for (const r of result.rejected) byAddress.set(r.address.toLowerCase(), r);
    const now = new Date();
    const out: RecipientResult[] = [];
    for (const it of unit.items) {
      const r: SmtpRecipientResult =
        byAddress.get(it.address.toLowerCase()) ??
        (result.sent ? { address: it.address, outcome: 'sent', code: result.code, reply: result.reply } : { address: it.address, outcome: 'temporary', reply: 'no reply for this recipient' });
      const decision = decideDelivery(r, { attempts: it.attempts + 1, queuedAt: it.createdAt, now });
      out.push(toResult(it, decision, decision.status === 'sent' ? info : undefined));
    }
    this.#logResults(unit, out);
    const queued = this.#committer.push(out);
    if (!(result.sent && actx.flagged)) return queued;
    actx.flagged = false;
    return this.#clearAuthFailure(actx, now, queued);
  }

  /** A mail went out: the account's authentication failure is over. */
  async #clearAuthFailure(actx: AccountContext, now: Date, queued: Promise<void> | undefined): Promise<void> {
    await queued;
    try {
      await this.#ctx.repos.deliveries.clearAuthFailure(actx.account.id, now);
    } catch (err) {
      actx.flagged = true; // cleared after the next mail sent
      this.#log.warn({ event: 'send.auth.clear_failed', accountId: actx.account.id, err }, 'could not clear the account’s login failure');
    }
  }

  /** The whole unit ended with one error (no per-recipient replies). */
  async #finish(unit: Unit, error: Error): Promise<DeliveryDecision[]> {
    const now = new Date();
    // recipients the server refused at RCPT TO before the message failed keep their own reply
    const refused = new Map(((error as FailedAfterRecipients).rejected ?? []).map((r) => [r.address.toLowerCase(), r]));
    const decisions = unit.items.map((it) => decideDelivery(refused.get(it.address.toLowerCase()) ?? error, { attempts: it.attempts + 1, queuedAt: it.createdAt, now }));
    const out = unit.items.map((it, i) => toResult(it, decisions[i]!));
    this.#logResults(unit, out);
    await this.#committer.push(out);
    return decisions;
  }

  async #finishAll(units: Unit[], error: MailError): Promise<void> {
    for (const u of units) await this.#finish(u, error);
  }

  /**
   * Connecting, TLS or login failed: every mail of this account in the batch would meet the
   * same. The refused login fails the mail at hand, flags the account and pauses its bulk
   * deliveries; the other mails go back to the queue. Any other failure is recorded for
   * every mail of the batch (deferred or failed as outcome.ts decides).
   */
  async #sessionFailed(err: unknown, units: Unit[], actx: AccountContext, pool: Map<string, PooledSession>): Promise<void> {
    pool.get(actx.account.id)?.session.close();
    pool.delete(actx.account.id);
    this.#accounts.delete(actx.account.id);
    let error = isMailError(err) ? err : new MailError('CONNECTION_CLOSED', String((err as Error)?.message ?? err), { kind: 'transient' });
    const [first, ...rest] = units;
    if (!first) return;
    const token = (actx.options as SmtpSendOptions).auth?.accessToken;
    if (token && error.kind === 'auth') {
      // XOAUTH2 refused: refresh the token once; a dead grant makes these mails wait for
      // re-authorization (outcome.ts) instead of failing as a refused login
      try {
        await this.#tokens.accessToken(actx.account.id, { refused: token });
      } catch (refreshErr) {
        if (isMailError(refreshErr) && refreshErr.code.startsWith('OAUTH_')) error = refreshErr;
      }
      if (error.code.startsWith('OAUTH_')) {
        for (const u of units) await this.#finish(u, error);
        return;
      }
    }
    if (isSettingsFailure(error)) {
      // waiting will not mend it (TLS, another protocol's port, STARTTLS not offered…): the
      // account's bulk deliveries pause with the error and their mail goes back to the queue
      // unattempted, for when the settings are fixed and the delivery resumed; a single mail
      // fails now, its error shown where it was sent from
      const bulk = units.filter((u) => u.bulkId !== null);
      if (bulk.length > 0) {
        await this.#pauseBulks(actx, 'server_failed', error);
        await this.#release(bulk.flatMap((u) => u.items));
      }
      for (const u of units) if (u.bulkId === null) await this.#finish(u, error);
      return;
    }
    const decisions = await this.#finish(first, error);
    if (decisions.some((d) => d.authFailure)) {
      await this.#release(rest.flatMap((u) => u.items));
      await this.#onAuthFailure(actx, error);
      return;
    }
    for (const u of rest) await this.#finish(u, error);
  }

  async #onAuthFailure(actx: AccountContext, error: MailError): Promise<void> {
    // the failed mail is on record before anyone can see the bulk delivery paused
    await this.#committer.flush();
    try {
      await this.#ctx.repos.deliveries.flagAuthFailure(actx.account.id, error.code, error.response ?? error.message, new Date());
    } catch (err) {
      // the next refused login flags it
      this.#log.error({ event: 'send.auth.flag_failed', accountId: actx.account.id, err }, 'could not flag the account’s refused login');
      return;
    }
    await this.#pauseBulks(actx, 'auth_failed', error);
  }

  /** Pause the account's running bulk deliveries, keeping the error that paused them. */
  async #pauseBulks(actx: AccountContext, reason: 'auth_failed' | 'server_failed', error: MailError): Promise<void> {
    const paused = await this.#ctx.repos.deliveries.pauseBulksOfAccount(actx.account.id, reason, new Date(), { code: error.code, message: error.message });
    this.#bulkStatus.set(paused, 'paused');
    this.#log.warn(
      { event: reason === 'auth_failed' ? 'send.auth.failed' : 'send.server.failed', accountId: actx.account.id, code: error.code, response: error.response, pausedBulkDeliveries: paused },
      reason === 'auth_failed' ? 'the SMTP server refused the account’s login; its bulk deliveries are paused' : 'the SMTP server’s settings do not work; the account’s bulk deliveries are paused',
    );
  }

  /** Hand recipients back unsent (no attempt counted), due again now or at `dueAt`. */
  async #release(items: ClaimedRecipient[], dueAt?: string): Promise<void> {
    await this.#committer.push(items.map((it) => ({ id: it.id, deliveryId: it.deliveryId, bulkId: it.bulkId, status: 'queued', attempted: false, nextAttemptAt: dueAt })));
  }

  #logResults(unit: Unit, results: RecipientResult[]): void {
    for (const r of results) {
      if (r.status === 'sent' && !unit.log.debugEnabled) continue;
      const fields = { event: `send.${r.status}`, deliveryId: r.deliveryId, bulkId: unit.bulkId, code: r.code, errorCode: r.errorCode };
      if (r.status === 'sent') unit.log.debug(fields, 'sent');
      else unit.log.info({ ...fields, reply: r.reply, nextAttemptAt: r.nextAttemptAt }, r.errorMessage ?? r.status);
    }
  }

  // ---- the per-minute limit -------------------------------------------------------

  /** A slot of the server's per-minute limit for one mail (its id), or null when none is free soon. */
  async #takeSlot(serverId: string, limit: number): Promise<string | null> {
    for (;;) {
      if (this.#stopping) return null;
      const until = this.#throttledUntil.get(serverId);
      if (until !== undefined && until > Date.now()) return null;
      let d: SlotDecision;
      try {
        d = await this.#ctx.repos.deliveries.acquireSlot(serverId, limit, this.#spanMs, this.holder);
      } catch (err) {
        // no slot without the ledger: this server's bulk mail goes back to the queue for now
        this.#log.warn({ event: 'send.slot.failed', serverId, err }, 'could not take a slot of the per-minute limit');
        this.#throttledUntil.set(serverId, Date.now() + MAX_SLOT_WAIT_MS);
        return null;
      }
      if (d.ok) return d.id;
      const wait = d.retryAt - Date.now();
      if (wait > MAX_SLOT_WAIT_MS) {
        this.#throttledUntil.set(serverId, d.retryAt);
        this.#log.debug({ event: 'send.throttled', serverId, until: new Date(d.retryAt).toISOString() }, 'per-minute limit reached');
        return null;
      }
      await this.#sleep(Math.max(1, wait), false);
    }
  }

  /** The slot counts from its mail's MAIL FROM (deliveries.slotStarted); if that cannot be written, from when it was taken. */
  async #slotStarted(slot: string, at: number): Promise<void> {
    try {
      await this.#ctx.repos.deliveries.slotStarted(slot, at);
    } catch (err) {
      this.#log.warn({ event: 'send.slot.stamp_failed', err }, 'could not record when a rate-limited mail started');
    }
  }

  // ---- caches ---------------------------------------------------------------------

  /** The account's context, read at most every ACCOUNT_CACHE_MS; sessions that need it at the same moment share one read. */
  #accountContext(accountId: string): Promise<AccountContext | undefined> | AccountContext {
    const cached = this.#accounts.get(accountId);
    if (cached && Date.now() - cached.at < ACCOUNT_CACHE_MS) return cached;
    return shared(this.#loads.accounts, accountId, (id) => this.#loadAccountContext(id));
  }

  async #loadAccountContext(accountId: string): Promise<AccountContext | undefined> {
    const service = new MailAccountService(this.#ctx);
    const row = await this.#ctx.repos.accounts.getRow(accountId);
    if (!row) return undefined;
    const account = await service.get(accountId);
    const server = await serverForAccount(this.#ctx, account.serverId);
    if (!server) return undefined;
    let options: SmtpSendOptions | MailError;
    let tokenExpiresAt: string | null = null;
    try {
      // presets: a fresh XOAUTH2 access token (refreshed once across workers when due)
      const login = await mailLogin(this.#ctx, accountId, server, this.#tokens);
      tokenExpiresAt = login.accessTokenExpiresAt;
      options = smtpOptionsFor(server, account, login, { ...this.#extras, logger: this.#log.child({ accountId }) });
    } catch (err) {
      // a secret that does not open is this installation's key, not the mail: the mail waits
      // (the caller hands it back for later) instead of failing for good
      if (isSecretKeyMismatch(err)) throw err;
      options = isMailError(err) ? err : new MailError('COMMAND_FAILED', String(err), { kind: 'config' });
    }
    const flag = await this.#ctx.repos.deliveries.accountSendFlag(accountId);
    // a new access token means a new session: a pooled one would reconnect with the old token
    const version = `${server.updatedAt}|${account.updatedAt}|${tokenExpiresAt ?? ''}`;
    const actx: AccountContext = { account, server, options, version, flagged: flag.flagged, at: Date.now() };
    this.#accounts.set(accountId, actx);
    return actx;
  }

  #session(pool: Map<string, PooledSession>, actx: AccountContext): SmtpSession {
    const key = actx.account.id;
    const pooled = pool.get(key);
    if (pooled && pooled.version === actx.version) return pooled.session;
    pooled?.session.close();
    const session = new SmtpSession(actx.options as SmtpSendOptions);
    pool.set(key, { session, version: actx.version, lastUsed: Date.now() });
    return session;
  }

  async #closeIdle(pool: Map<string, PooledSession>): Promise<void> {
    const now = Date.now();
    for (const [key, p] of pool) {
      if (now - p.lastUsed < SESSION_IDLE_MS) continue;
      pool.delete(key);
      await p.session.quit();
    }
  }

  /** The bulk delivery from the database (its only caller took it from #bulks when there). */
  #bulk(id: string): Promise<BulkDeliveryTable> {
    return shared(this.#loads.bulks, id, (key) => this.#loadBulk(key));
  }

  async #loadBulk(id: string): Promise<BulkDeliveryTable> {
    const b = await this.#ctx.repos.deliveries.getBulk(id);
    if (!b) throw new MailError('COMMAND_FAILED', `bulk delivery ${id} is gone`, { kind: 'permanent' });
    if (this.#bulks.size > 1000) this.#bulks.clear();
    this.#bulks.set(id, b);
    return b;
  }

  #composer(bulk: BulkDeliveryTable, charset: MailCharset, actx: AccountContext): Promise<CompiledBulkMail> {
    const key = composerKey(bulk, charset, actx);
    let c = this.#composers.get(key);
    if (!c) {
      const entry: { compiling: Promise<CompiledBulkMail>; ready?: CompiledBulkMail } = {
        compiling: compileBulkMail({ subject: bulk.subject_template, text: bulk.text_template, html: bulk.html_template, charset, replyTo: bulk.reply_to }, actx.account, unsubscribeLinks(this.#ctx)),
      };
      entry.compiling.then(
        (ready) => (entry.ready = ready),
        () => this.#composers.get(key) === entry && this.#composers.delete(key),
      );
      if (this.#composers.size > 100) this.#composers.clear();
      this.#composers.set(key, entry);
      c = entry;
    }
    return c.compiling;
  }

  // ---- leases and sleeping --------------------------------------------------------

  async #renewLeases(): Promise<void> {
    const at = Date.now();
    try {
      await this.#ctx.repos.deliveries.renewLeases(this.holder, new Date(at), this.#leaseMs);
      // renewed: whatever was still held when the renewal ended (a lease that had run out
      // before may be another worker's by then, and was not renewed for this one)
      const done = Date.now();
      const lapse = done - this.#leaseMs;
      this.#held.since = done < this.#held.until ? Math.min(this.#held.since, lapse) : lapse;
      this.#held.until = at + this.#leaseMs;
    } catch (err) {
      this.#log.warn({ event: 'send.lease.renew_failed', err }, 'could not renew leases');
    }
  }

  /** By when a unit's mail must start (SmtpSession's startBy): the end of its shortest lease, less the margin. */
  #startBy(items: ClaimedRecipient[]): number {
    let by = Number.POSITIVE_INFINITY;
    for (const it of items) {
      const own = it.claimedAt + this.#leaseMs;
      by = Math.min(by, it.claimedAt >= this.#held.since ? Math.max(own, this.#held.until) : own);
    }
    return by - this.#leaseMargin;
  }

  /** A mail that never went out (SendCancelledError) goes back to the queue; when its lease ran out, another worker may have it already. */
  async #notSent(err: SendCancelledError, items: ClaimedRecipient[]): Promise<void> {
    if (err.late) this.#log.warn({ event: 'send.lease.lapsed', recipients: items.length, deliveryId: items[0]?.deliveryId }, 'not sent: its lease ran out first (the worker stood still or could not renew)');
    await this.#release(items);
  }

  /** Sleep `ms`; `wakeable`: new work ends it early. Stopping always does. */
  #sleep(ms: number, wakeable: boolean): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const wake = (): void => {
        if (wakeable || this.#stopping) done();
      };
      const timer = setTimeout(done, ms);
      this.#sleepers.add(wake);
    });
  }

  #wakeAll(): void {
    for (const wake of [...this.#sleepers]) wake();
  }
}

/** Single sends: the due recipients of one delivery go in one transaction. Bulk: one mail each. */
function toUnits(items: ClaimedRecipient[], log: BatchLog): Unit[] {
  const units: Unit[] = [];
  const singles = new Map<string, Unit>();
  for (const it of items) {
    if (it.bulkId === null) {
      const u = singles.get(it.deliveryId);
      if (u) {
        u.items.push(it);
        continue;
      }
    }
    const unit: Unit = { items: [it], bulkId: it.bulkId, deliveryId: it.deliveryId, serverId: it.serverId, perMinuteLimit: it.perMinuteLimit, log };
    if (it.bulkId === null) singles.set(it.deliveryId, unit);
    units.push(unit);
  }
  return units;
}

function toResult(it: ClaimedRecipient, d: DeliveryDecision, mail?: RecipientResult['mail']): RecipientResult {
  return {
    id: it.id,
    deliveryId: it.deliveryId,
    bulkId: it.bulkId,
    status: d.status,
    attempted: true,
    nextAttemptAt: d.nextAttemptAt,
    code: d.code,
    reply: d.reply,
    errorCode: d.errorCode,
    errorMessage: d.errorMessage,
    mail,
  };
}

/** A compiled bulk mail is per bulk delivery, charset and version of the account (its From). */
function composerKey(bulk: BulkDeliveryTable, charset: MailCharset, actx: AccountContext): string {
  return `${bulk.id}|${charset}|${actx.version}`;
}

/** A read of the mail to send (its stored bytes, its bulk delivery) failed: the database, not the mail. */
class StoreReadError extends Error {
  constructor(override readonly cause: unknown) {
    super(`the mail could not be read: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

/** The read, its failures other than a MailError (a bulk delivery that is gone) as StoreReadError. */
async function fromStore<T>(read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (err) {
    throw isMailError(err) ? err : new StoreReadError(err);
  }
}

/** For a promise whose failure is handled where it is awaited later. */
function ignore(): undefined {
  return undefined;
}

const SESSION_COMMANDS = new Set(['CONNECT', 'CONN', 'GREETING', 'STARTTLS', 'EHLO', 'HELO']);

/** A failure of the connection or login that fails a mail at once but is not the credentials: the server's or account's settings (outcome.ts). */
function isSettingsFailure(error: MailError): boolean {
  const now = new Date();
  const d = decideDelivery(error, { attempts: 1, queuedAt: now.toISOString(), now });
  return d.status === 'failed' && !d.authFailure;
}

/** A failure of the connection itself (not of one mail): the next mail on it would fail the same way. */
function isSessionFailure(err: unknown): boolean {
  if (!isMailError(err)) return false;
  const command = err.command ?? '';
  return SESSION_COMMANDS.has(command) || command.startsWith('AUTH') || err.kind === 'tls' || err.kind === 'config' || err.kind === 'auth';
}
