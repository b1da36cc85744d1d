// Runs inside `yubin serve` and `yubin worker`: every enabled account is received
// every `receiveIntervalMinutes`. Each process claims due accounts, oldest first, only
// as many as it has free slots (`concurrency`): several workers on one database split
// the due accounts between them (src/store/due-accounts.ts) instead of racing for the
// same ones, and none takes more than it can run. A run also takes the account's lease,
// so a manual "receive now" never overlaps it. Claims and leases are renewed while a run
// lasts and expire after the lease TTL when their worker dies: then another worker
// carries on. A run that takes too long is stopped (a slow server does not hold a slot);
// an account that keeps failing backs off (backoff.ts). stop() asks the runs in flight to
// finish the mail in hand, commit and release, and hands their accounts back at once.
import type { AppContext } from '../services/context.ts';
import { claimDueAccounts, extendClaims, setNextRun, type ClaimedAccount } from '../store/due-accounts.ts';
import { nextRunDelay } from './backoff.ts';
import { receiveNow, processHolder, receiveLeaseName, RECEIVE_LEASE_TTL } from './receive-service.ts';
import type { ReceiveOptions } from './receive-run.ts';

/** How often the scheduler looks for due accounts (a finished run looks at once). */
export const SCHEDULER_POLL_INTERVAL = 5_000;
/** Receive runs in flight per process. */
export const SCHEDULER_CONCURRENCY = 4;
/** Longest receive run of one account before it is stopped. */
export const RECEIVE_RUN_TIMEOUT = 10 * 60_000;

/** A run that failed before it could record its end is due again after this (ms). */
export const UNRECORDED_RUN_RETRY = 30_000;

export interface SchedulerOptions {
  holder?: string;
  pollIntervalMs?: number | undefined;
  concurrency?: number | undefined;
  /** claims and receive leases of a dead worker expire after this long */
  leaseTtlMs?: number | undefined;
  runTimeoutMs?: number | undefined;
  receive?: ReceiveOptions;
}

export interface Scheduler {
  /** stop taking new runs; the runs in flight finish their mail in hand and hand back their accounts */
  stop(): Promise<void>;
  /** claim due accounts now (tests) */
  tick(): Promise<void>;
  /** until no run is in flight (tests) */
  idle(): Promise<void>;
}

export function startReceiveScheduler(ctx: AppContext, opts: SchedulerOptions = {}): Scheduler {
  const cfg = ctx.config.worker ?? {};
  const holder = opts.holder ?? processHolder;
  const concurrency = opts.concurrency ?? cfg.concurrency ?? SCHEDULER_CONCURRENCY;
  const leaseTtlMs = opts.leaseTtlMs ?? cfg.leaseTtlMs ?? RECEIVE_LEASE_TTL;
  const runTimeoutMs = opts.runTimeoutMs ?? cfg.runTimeoutMs ?? RECEIVE_RUN_TIMEOUT;
  const pollIntervalMs = opts.pollIntervalMs ?? cfg.pollIntervalMs ?? SCHEDULER_POLL_INTERVAL;
  const inFlight = new Map<string, Promise<void>>();
  const shutdown = new AbortController();
  let stopped = false;
  let ticking: Promise<void> | undefined;
  let again = false;

  const runOne = async (account: ClaimedAccount) => {
    const startedAt = Date.now();
    try {
      // the lease is the run's own (the worker's name + a run id): it never lets a second
      // run of this worker in, whatever reset the account's due time meanwhile
      const runHolder = `${holder}/${Math.random().toString(36).slice(2, 8)}`;
      const summary = await receiveNow(ctx, account.id, { ...opts.receive, holder: runHolder, leaseTtlMs, timeoutMs: runTimeoutMs, signal: shutdown.signal });
      if (summary.hasMore) {
        // capped, or stopped by a shutdown: due again now, for this worker or another
        await setNextRun(ctx.db, account.id, new Date());
        return;
      }
    } catch (err) {
      if ((err as { code?: string }).code === 'RECEIVE_BUSY') {
        // someone else is receiving it (a manual run, or a dead worker's lease not yet
        // expired): look again when that lease runs out
        const lease = await ctx.repos.leases.holderOf(receiveLeaseName(account.id));
        await setNextRun(ctx.db, account.id, new Date(lease ? Date.parse(lease.expiresAt) : Date.now() + pollIntervalMs));
        return;
      }
      ctx.log.error({ err, accountId: account.id }, 'receive.scheduler.run_failed');
    }
    const row = await ctx.repos.accounts.getRow(account.id);
    const delay = nextRunDelay(account.receiveIntervalMinutes, Number(row?.consecutive_failures ?? 0));
    // a run that could not even record how it ended (our database went away under it, not the
    // mail server) is due again soon, as a dead worker's account is, not a whole interval later
    const recorded = row?.last_run_at != null && Date.parse(row.last_run_at) >= startedAt;
    await setNextRun(ctx.db, account.id, new Date(startedAt + (recorded ? delay : Math.min(delay, UNRECORDED_RUN_RETRY))));
  };

  const claimAndStart = async () => {
    const free = concurrency - inFlight.size;
    if (stopped || free < 1) return;
    const claimed = await claimDueAccounts(ctx.db, { now: new Date(), claimMs: leaseTtlMs, limit: free, running: [...inFlight.keys()] });
    for (const a of claimed) {
      const p = runOne(a)
        .catch((err) => ctx.log.error({ err, accountId: a.id }, 'receive.scheduler.error'))
        .finally(() => {
          inFlight.delete(a.id);
          if (!stopped) tick(); // a free slot: take the next due account now
        });
      inFlight.set(a.id, p);
    }
  };

  // one claim at a time per process; a request during a claim runs once it is done
  const tick = (): Promise<void> => {
    if (ticking) {
      again = true;
      return ticking;
    }
    ticking = (async () => {
      do {
        again = false;
        await claimAndStart().catch((err) => ctx.log.error({ err }, 'receive.scheduler.tick_failed'));
      } while (again && !stopped);
    })().finally(() => (ticking = undefined));
    return ticking;
  };

  const poll = setInterval(() => void tick(), pollIntervalMs);
  poll.unref();
  // the claims of runs in flight (their leases are renewed by receiveNow)
  const heartbeat = setInterval(() => {
    extendClaims(ctx.db, [...inFlight.keys()], new Date(Date.now() + leaseTtlMs)).catch((err) => ctx.log.warn({ err }, 'receive.scheduler.heartbeat_failed'));
  }, Math.max(50, Math.floor(leaseTtlMs / 5)));
  heartbeat.unref();

  return {
    tick,
    async idle() {
      while (ticking || inFlight.size) {
        await ticking;
        await Promise.allSettled([...inFlight.values()]);
      }
    },
    async stop() {
      stopped = true;
      clearInterval(poll);
      clearInterval(heartbeat);
      shutdown.abort();
      await ticking;
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}
