// The statuses of the bulk deliveries a send worker is sending (running, paused, cancelled…),
// read by its send path once per mail without an await. A timer reads them again every
// `intervalMs` (so a pause or cancel made through the API is seen within that time) and
// forgets those no mail asked for since; a status not known yet is read on the spot, once
// for every session that asks meanwhile. The refresh is off the send path on purpose: a
// stale entry's await there, taken for the first time after V8 had optimized the send loop,
// made V8 throw that code away.
import type { BulkStatus } from '../store/deliveries.ts';
import { shared } from './shared-load.ts';

export interface BulkStatusCacheOptions {
  /** How often the statuses asked for are read again. */
  intervalMs: number;
  /** A refresh that could not read (the entries are forgotten: the send path reads them itself, and meets the error there). */
  onRefreshError: (err: unknown) => void;
}

export class BulkStatusCache {
  /** null: the bulk delivery is gone */
  readonly #statuses = new Map<string, BulkStatus | null>();
  /** asked for since the last refresh */
  readonly #asked = new Set<string>();
  readonly #loads = new Map<string, Promise<BulkStatus | null>>();
  #timer: NodeJS.Timeout | undefined;
  /** a refresh is under way (a slow database: the next tick skips rather than overtakes it) */
  #refreshing = false;
  /** bumped by set(): a read that began before it is not applied */
  #epoch = 0;
  #closed = false;

  constructor(
    private readonly read: (ids: string[]) => Promise<Map<string, BulkStatus>>,
    private readonly opts: BulkStatusCacheOptions,
  ) {}

  /** The status read at most `intervalMs` ago (null: gone), or undefined when it is not known yet (then load it). */
  get(id: string): BulkStatus | null | undefined {
    this.#asked.add(id);
    return this.#statuses.get(id);
  }

  /** Read the status now, once for every caller meanwhile; from then on it is kept and refreshed while asked for. */
  load(id: string): Promise<BulkStatus | null> {
    this.#asked.add(id);
    return shared(this.#loads, id, async (key) => {
      const epoch = this.#epoch;
      const status = (await this.read([key])).get(key) ?? null;
      // a status set here meanwhile is newer than this read
      if (epoch === this.#epoch || !this.#statuses.has(key)) this.#statuses.set(key, status);
      if (!this.#timer && !this.#closed) {
        this.#timer = setInterval(() => void this.refresh(), this.opts.intervalMs);
        this.#timer.unref();
      }
      return this.#statuses.get(key) ?? null;
    });
  }

  /** What this worker itself made of them (it paused them after a refused login): newer than any read under way. */
  set(ids: readonly string[], status: BulkStatus): void {
    this.#epoch++;
    for (const id of ids) this.#statuses.set(id, status);
  }

  /** Read again the statuses asked for since the last refresh; forget the others (asked for again, they are loaded on the spot). The timer calls it. */
  async refresh(): Promise<void> {
    if (this.#refreshing) return;
    this.#refreshing = true;
    try {
      await this.#refresh();
    } finally {
      this.#refreshing = false;
    }
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #refresh(): Promise<void> {
    for (const id of this.#statuses.keys()) if (!this.#asked.has(id)) this.#statuses.delete(id);
    const ids = [...this.#asked];
    this.#asked.clear();
    if (ids.length === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const epoch = this.#epoch;
    let read: Map<string, BulkStatus>;
    try {
      read = await this.read(ids);
    } catch (err) {
      this.opts.onRefreshError(err);
      for (const id of ids) this.#statuses.delete(id);
      return;
    }
    // a status set here meanwhile is newer; the next refresh reads it again
    if (epoch !== this.#epoch) return;
    for (const id of ids) if (this.#statuses.has(id)) this.#statuses.set(id, read.get(id) ?? null);
  }
}
