// The stall monitor, run by `yubin serve` and `yubin worker` on a small timer: finds the
// accounts that stalled (stall-rules.ts) or recovered, and tells the administrators once.
//
// Several monitors (every front end and worker) may run at once; the database decides:
//   - a stall is recorded with INSERT … ON CONFLICT DO NOTHING (one row per account);
//   - its notification is queued through the single-send path (DeliveryService) in the
//     same transaction as a conditional UPDATE that claims it (notified_at IS NULL), so
//     exactly one mail is queued, and the send worker retries it like any other mail;
//   - recovery deletes the row conditionally (same `since`); whoever deletes it queues
//     the recovery mail, and only when a stall mail had gone out.
// Without notification settings, stalls wait unannounced and are announced once the
// settings are made (while they last).
import type { Logger } from 'pino';
import { t } from '../i18n/index.ts';
import type { AppContext } from '../services/context.ts';
import { DeliveryService, type DeliveryGuard } from '../send/delivery-service.ts';
import type { AccountStallTable, MailAccountTable } from '../store/schema.ts';
import { getNotificationSettings, type NotificationSettings } from './notification-settings.ts';
import { stallOf, type Stall } from './stall-rules.ts';

/** How often the monitor looks (YUBIN_STALL_CHECK_SECONDS). */
export const STALL_CHECK_INTERVAL = 60_000;
/** The audit log's actor for notification mails. */
export const MONITOR_ACTOR = 'system:stall-monitor';

export interface StallMonitor {
  /** one pass now; resolves when its mails are queued */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

export interface StallMonitorOptions {
  intervalMs?: number;
  now?: () => Date;
  logger?: Logger;
}

type AccountRow = Pick<
  MailAccountTable,
  'id' | 'address' | 'display_name' | 'enabled' | 'receive_interval_minutes' | 'last_success_at' | 'last_run_at' | 'consecutive_failures' | 'created_at' | 'last_error_code' | 'last_error_message'
>;

export function startStallMonitor(ctx: AppContext, opts: StallMonitorOptions = {}): StallMonitor {
  const log = (opts.logger ?? ctx.log).child({ component: 'stall-monitor' });
  const now = opts.now ?? (() => new Date());
  let running: Promise<void> | undefined;
  const failures = new NotifyFailures(log);
  const tick = async () => {
    // one pass at a time in this process; other processes are kept apart by the database
    while (running) await running;
    running = checkStalls(ctx, now(), log, failures).finally(() => (running = undefined));
    return running;
  };
  const timer = setInterval(() => void tick().catch((err) => log.error({ err }, 'stall.check_failed')), opts.intervalMs ?? (ctx.config.stallCheckSeconds ? ctx.config.stallCheckSeconds * 1000 : STALL_CHECK_INTERVAL));
  timer.unref();
  return {
    tick,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * A stall notification that could not be queued is tried again on every pass; its error is
 * logged once (and again when it changes), not on every pass, until it goes out.
 */
class NotifyFailures {
  readonly #last = new Map<string, string>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  failed(accountId: string, err: unknown): void {
    const text = err instanceof Error ? `${(err as { code?: string }).code ?? ''} ${err.message}` : String(err);
    const fields = { event: 'stall.notify_failed', accountId, err };
    if (this.#last.get(accountId) === text) return this.#log.debug(fields, 'could not queue the stall notification (again)');
    this.#last.set(accountId, text);
    this.#log.error(fields, 'could not queue the stall notification');
  }

  done(accountId: string): void {
    this.#last.delete(accountId);
  }
}

async function checkStalls(ctx: AppContext, now: Date, log: Logger, failures: NotifyFailures): Promise<void> {
  const accounts: AccountRow[] = await ctx.db.kysely
    .selectFrom('mail_accounts')
    .select(['id', 'address', 'display_name', 'enabled', 'receive_interval_minutes', 'last_success_at', 'last_run_at', 'consecutive_failures', 'created_at', 'last_error_code', 'last_error_message'])
    .execute();
  const stalls = new Map((await ctx.db.kysely.selectFrom('account_stalls').selectAll().execute()).map((s) => [s.account_id, s]));
  const settings = await getNotificationSettings(ctx);
  for (const account of accounts) {
    const stall = stallOf(account, now);
    let row = stalls.get(account.id);
    if (stall && !row) row = await recordStall(ctx, account, stall, log);
    else if (!stall && row) {
      await recover(ctx, account, row, settings, log);
      continue;
    }
    if (row && row.notified_at === null && settings.accountId) await notify(ctx, account, row, settings, now, log, failures);
  }
}

async function recordStall(ctx: AppContext, account: AccountRow, stall: Stall, log: Logger): Promise<AccountStallTable | undefined> {
  const r = await ctx.db.kysely
    .insertInto('account_stalls')
    .values({ account_id: account.id, since: stall.since, reason: stall.reason, notified_delivery_id: null, notified_at: null })
    .onConflict((oc) => oc.column('account_id').doNothing())
    .executeTakeFirst();
  if (Number(r.numInsertedOrUpdatedRows ?? 0) > 0) log.warn({ event: 'account.stalled', accountId: account.id, ...stall }, 'account stalled');
  return ctx.db.kysely.selectFrom('account_stalls').selectAll().where('account_id', '=', account.id).executeTakeFirst();
}

async function notify(ctx: AppContext, account: AccountRow, row: AccountStallTable, settings: NotificationSettings, now: Date, log: Logger, failures: NotifyFailures): Promise<void> {
  const reason = (lang: 'ja' | 'en') => t(lang, `stall.reason.${row.reason}`);
  const params = (lang: 'ja' | 'en') => ({
    name: account.display_name,
    address: account.address,
    reason: reason(lang),
    since: row.since,
    lastSuccess: account.last_success_at ?? '-',
    lastError: account.last_error_code ? `${account.last_error_code} ${account.last_error_message ?? ''}`.trim() : '-',
  });
  try {
    const delivery = await queueMail(ctx, settings, 'stall.mail', params, async (trx, deliveryId) => {
      const r = await trx
        .updateTable('account_stalls')
        .set({ notified_at: now.toISOString(), notified_delivery_id: deliveryId })
        .where('account_id', '=', account.id)
        .where('notified_at', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    });
    failures.done(account.id);
    if (delivery) log.warn({ event: 'stall.notified', accountId: account.id, deliveryId: delivery.id, to: settings.recipients }, 'stall notification queued');
  } catch (err) {
    // a notification account that cannot send (deleted, too large…): tried again next pass
    failures.failed(account.id, err);
  }
}

async function recover(ctx: AppContext, account: AccountRow, row: AccountStallTable, settings: NotificationSettings, log: Logger): Promise<void> {
  const release: DeliveryGuard = async (trx) => {
    const r = await trx.deleteFrom('account_stalls').where('account_id', '=', account.id).where('since', '=', row.since).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  };
  // a disabled account is not stalled, but it has not recovered either: no mail then
  if (row.notified_at !== null && settings.accountId && Number(account.enabled)) {
    try {
      const params = () => ({ name: account.display_name, address: account.address, since: row.since });
      const delivery = await queueMail(ctx, settings, 'stall.mail.recovered', params, release);
      if (delivery) log.info({ event: 'account.recovered', accountId: account.id, deliveryId: delivery.id }, 'account recovered');
      return;
    } catch (err) {
      // not tried again: the stall is released below all the same
      log.error({ event: 'stall.notify_failed', accountId: account.id, err }, 'could not queue the recovery notification');
    }
  }
  if (await ctx.db.transaction((trx) => release(trx, ''))) log.info({ event: 'account.recovered', accountId: account.id }, 'account recovered');
}

/** One mail to the administrators, Japanese first and English below, through the single-send path. */
function queueMail(
  ctx: AppContext,
  settings: NotificationSettings,
  key: 'stall.mail' | 'stall.mail.recovered',
  params: (lang: 'ja' | 'en') => Record<string, unknown>,
  guard: DeliveryGuard,
) {
  const body = {
    accountId: settings.accountId,
    to: settings.recipients,
    subject: t('ja', `${key}.subject`, params('ja')),
    text: `${t('ja', `${key}.body`, params('ja'))}\n\n----\n\n${t('en', `${key}.body`, params('en'))}\n`,
  };
  return new DeliveryService(ctx).create(MONITOR_ACTOR, body, { guard });
}
