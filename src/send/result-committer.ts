// Group commit of send results: what became of each recipient is written in batches (one
// transaction per batch: COMMIT_BATCH results, or what came within COMMIT_DELAY_MS) rather
// than one transaction per mail, which is what lets a worker keep up with a fast server. A
// result is in memory only between the SMTP server's reply and its batch's commit; if the
// process dies there, the recipient is still 'sending' with a lease that runs out, and the
// next worker sends it again. Once a 'sent' is committed, the recipient is never sent again.
import type { Logger } from 'pino';
import { encodeSentMail, type DeliveryRepository, type RecipientResult } from '../store/deliveries.ts';

/** Results per transaction. */
export const COMMIT_BATCH = 512;
/** How long a result may wait for more to share its transaction. */
export const COMMIT_DELAY_MS = 50;
/** While results keep coming, finished bulk deliveries are looked for at most this often. */
export const FINISH_CHECK_MS = 1_000;
/** Senders wait (backpressure) while this many results are not committed yet. */
export const MAX_UNCOMMITTED = 2_000;
/** Pause before trying a failed commit again (the database restarting, a lock). */
export const COMMIT_RETRY_MS = 1_000;
/** While closing, a batch that cannot be committed is given up after this many tries (its recipients' leases run out and another worker sends them again). */
export const CLOSING_COMMIT_TRIES = 3;

export class ResultCommitter {
  #queue: RecipientResult[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #waiters: (() => void)[] = [];
  #closed = false;
  #closing = false;
  /** bulk deliveries with final results since the last look for finished ones */
  readonly #touched = new Set<string>();
  #finishTimer: NodeJS.Timeout | undefined;
  /** bases of stored bulk mail committed by this committer (bulk id | base id): not sent again */
  readonly #storedBases = new Set<string>();

  constructor(
    private readonly repo: DeliveryRepository,
    private readonly holder: string,
    private readonly log: Logger,
    private readonly clock: () => Date = () => new Date(),
    /** each batch once committed (or given up while closing): its recipients are no longer this worker's */
    private readonly onSettled?: (results: RecipientResult[]) => void,
  ) {}

  /** Queue results; a promise to wait for only when too many are waiting for their commit (backpressure), else nothing. */
  push(results: RecipientResult[]): Promise<void> | undefined {
    if (results.length === 0) return undefined;
    for (const r of results) this.#queue.push(r);
    if (this.#queue.length >= COMMIT_BATCH) this.#kick();
    else this.#timer ??= setTimeout(() => this.#kick(), COMMIT_DELAY_MS);
    return this.#queue.length >= MAX_UNCOMMITTED && !this.#closed ? this.#backpressure() : undefined;
  }

  async #backpressure(): Promise<void> {
    while (this.#queue.length >= MAX_UNCOMMITTED && !this.#closed) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Commit what is queued now rather than after COMMIT_DELAY_MS: nothing more is coming soon (the worker ran out of mail). */
  commitNow(): void {
    this.#kick();
  }

  /** Commit everything queued so far. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#flushing) {
      this.#kick();
      await this.#flushing;
    }
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.flush();
    clearTimeout(this.#finishTimer);
    this.#finishTimer = undefined;
    await this.#finishBulks();
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w();
  }

  // A bulk delivery is done when its last result is in. Rather than ask after every batch,
  // the bulk deliveries that got results are looked at once a second (the API derives
  // 'done' on its own meanwhile).
  #scheduleFinish(): void {
    if (this.#finishTimer || this.#touched.size === 0 || this.#closed) return;
    this.#finishTimer = setTimeout(() => {
      this.#finishTimer = undefined;
      void this.#finishBulks();
    }, FINISH_CHECK_MS);
    this.#finishTimer.unref();
  }

  async #finishBulks(): Promise<void> {
    const ids = [...this.#touched];
    this.#touched.clear();
    if (ids.length === 0) return;
    try {
      await this.repo.finishBulks(ids, this.clock());
    } catch (err) {
      this.log.warn({ event: 'send.finish.failed', err }, 'could not mark finished bulk deliveries');
      for (const id of ids) this.#touched.add(id);
      if (!this.#closing) this.#scheduleFinish();
    }
  }

  #kick(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#flushing || this.#queue.length === 0) return;
    this.#flushing = this.#run().finally(() => {
      this.#flushing = undefined;
      if (this.#queue.length > 0) this.#timer ??= setTimeout(() => this.#kick(), 0);
    });
  }

  async #run(): Promise<void> {
    const batch = this.#queue.splice(0, COMMIT_BATCH);
    // bulk mail built from segments goes as a recipe (a few hundred bytes), with its base
    // only until a commit has stored that base
    const bases = new Set<string>();
    for (const r of batch) {
      if (!r.mail?.parts || !r.bulkId) continue;
      const key = `${r.bulkId}|${r.mail.parts.base.id}`;
      const withBase = !this.#storedBases.has(key) && !bases.has(key);
      bases.add(key);
      r.mail = encodeSentMail(r.mail, withBase);
    }
    for (let tries = 1; ; tries++) {
      try {
        await this.repo.applyResults(this.holder, batch, this.clock());
        if (this.#storedBases.size > 1000) this.#storedBases.clear();
        for (const key of bases) this.#storedBases.add(key);
        for (const r of batch) if (r.bulkId && r.status !== 'queued') this.#touched.add(r.bulkId);
        this.#scheduleFinish();
        break;
      } catch (err) {
        if (this.#closing && tries >= CLOSING_COMMIT_TRIES) {
          this.log.error({ event: 'send.commit.abandoned', err, results: batch.length }, 'could not record send results while stopping; their recipients will be sent again');
          break;
        }
        this.log.error({ event: 'send.commit.failed', err, results: batch.length }, 'could not record send results; retrying');
        await new Promise((r) => setTimeout(r, COMMIT_RETRY_MS));
      }
    }
    this.onSettled?.(batch);
    if (this.#queue.length < MAX_UNCOMMITTED) for (const w of this.#waiters.splice(0)) w();
  }
}
