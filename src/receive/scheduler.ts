// Runs inside `yubin serve` and `yubin worker`: every enabled account is received
// every `receiveIntervalMinutes`. Due accounts are found in the database and each
// run takes the account's lease, so several processes never receive one account
// at the same time. An account that keeps failing backs off (visible in status).
import type { AppContext } from '../services/context.ts';
import { receiveNow, processHolder } from './receive-service.ts';
import type { ReceiveOptions } from './receive-run.ts';

/** How often the scheduler looks for due accounts. */
export const SCHEDULER_POLL_INTERVAL = 5_000;
/** Receive runs in flight per process. */
export const SCHEDULER_CONCURRENCY = 4;
/** Longest wait after repeated failures. */
export const MAX_FAILURE_BACKOFF = 60 * 60_000;

export interface SchedulerOptions {
  holder?: string;
  pollIntervalMs?: number;
  concurrency?: number;
  receive?: ReceiveOptions;
}

export interface Scheduler {
  /** stop taking new runs and wait for the ones in flight */
  stop(): Promise<void>;
  /** look for due accounts now (tests) */
  tick(): Promise<void>;
}

export function startReceiveScheduler(ctx: AppContext, opts: SchedulerOptions = {}): Scheduler {
  const holder = opts.holder ?? processHolder;
  const concurrency = opts.concurrency ?? SCHEDULER_CONCURRENCY;
  const inFlight = new Map<string, Promise<void>>();
  let stopped = false;
  let ticking: Promise<void> | undefined;

  const runOne = async (accountId: string, intervalMinutes: number) => {
    const startedAt = Date.now();
    let failures = 0;
    try {
      const summary = await receiveNow(ctx, accountId, { ...opts.receive, holder });
      if (summary.errors.length) failures = 1;
      if (summary.hasMore) {
        // capped run: continue soon rather than after a whole interval
        await setNextRun(ctx, accountId, new Date(Date.now() + 1_000));
        return;
      }
    } catch (err) {
      if ((err as { code?: string }).code === 'RECEIVE_BUSY') return; // another process has it
      failures = 1;
      ctx.log.error({ err, accountId }, 'receive.scheduler.run_failed');
    }
    const row = await ctx.repos.accounts.getRow(accountId);
    const consecutive = Number(row?.consecutive_failures ?? 0);
    const base = intervalMinutes * 60_000;
    const wait = failures && consecutive > 1 ? Math.min(base * 2 ** Math.min(consecutive - 1, 10), Math.max(base, MAX_FAILURE_BACKOFF)) : base;
    await setNextRun(ctx, accountId, new Date(startedAt + wait));
  };

  const tick = async () => {
    if (stopped) return;
    const now = new Date().toISOString();
    const due = await ctx.db.kysely
      .selectFrom('mail_accounts')
      .select(['id', 'receive_interval_minutes'])
      .where('enabled', '=', 1)
      // an OAuth grant the provider refused waits for the administrator (no retry storm) …
      .where((eb) => eb.or([eb('oauth_status', 'is', null), eb('oauth_status', '!=', 'reauthorize')]))
      // … and so does an account on Gmail / Exchange Online that was never connected
      .where((eb) => eb.or([eb('oauth_token_enc', 'is not', null), eb('server_id', 'not in', eb.selectFrom('mail_servers').select('id').where('preset', 'is not', null))]))
      .where((eb) => eb.or([eb('next_run_at', 'is', null), eb('next_run_at', '<=', now)]))
      .orderBy('next_run_at')
      .limit(concurrency * 4)
      .execute();
    for (const a of due) {
      if (stopped || inFlight.size >= concurrency) break;
      if (inFlight.has(a.id)) continue;
      const p = runOne(a.id, Number(a.receive_interval_minutes))
        .catch((err) => ctx.log.error({ err, accountId: a.id }, 'receive.scheduler.error'))
        .finally(() => inFlight.delete(a.id));
      inFlight.set(a.id, p);
    }
  };

  const timer = setInterval(() => {
    if (!ticking) ticking = tick().catch((err) => ctx.log.error({ err }, 'receive.scheduler.tick_failed')).finally(() => (ticking = undefined));
  }, opts.pollIntervalMs ?? SCHEDULER_POLL_INTERVAL);
  timer.unref();

  return {
    tick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await ticking;
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}

async function setNextRun(ctx: AppContext, accountId: string, at: Date): Promise<void> {
  await ctx.db.kysely.updateTable('mail_accounts').set({ next_run_at: at.toISOString() }).where('id', '=', accountId).execute();
}
