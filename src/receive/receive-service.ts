// Receiving as the API, the CLI and the scheduler see it: one run under the
// account's lease (never two runs of one account at once, across processes), and
// the account's receive status.
import { hostname } from 'node:os';
import { AppError, MessageRef } from '../domain/errors.ts';
import type { Lang } from '../i18n/index.ts';
import { testAccountConnection, type ConnectionTestCredentials, type ConnectionTestResult } from './connection-test.ts';
import { isOAuthError, mailLogin, oauthFailureMessage, serverForAccount } from '../oauth/mail-login.ts';
import { isMailError } from '../protocols/mail-error.ts';
import type { StallReason } from '../ops/stall-rules.ts';
import type { AppContext } from '../services/context.ts';
import { MailAccountService } from '../services/mail-accounts.ts';
import { uuidv7 } from '../store/ids.ts';
import { recordReceiveRun } from '../store/receive-run-stats.ts';
import { inBackoff } from './backoff.ts';
import { localizeReceiveErrors, type LocalizedReceiveError } from './error-text.ts';
import { BACKLOG_WARNING_THRESHOLD, receiveAccount, summaryError, type ReceiveOptions, type ReceiveSummary } from './receive-run.ts';

/** A receive lease outlives a crashed holder by this much; a live holder renews it every fifth of it. */
export const RECEIVE_LEASE_TTL = 5 * 60_000;

export const processHolder = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;

export function receiveLeaseName(accountId: string): string {
  return `receive:${accountId}`;
}

/**
 * One run now. A protocol failure (server down, wrong password…) is not an
 * exception here: it comes back in `errors`, as the account status shows it.
 */
export async function receiveNow(
  ctx: AppContext,
  accountId: string,
  opts: ReceiveOptions & { holder?: string | undefined; leaseTtlMs?: number | undefined } = {},
): Promise<ReceiveSummary> {
  await new MailAccountService(ctx).get(accountId); // 404 before anything else
  // a holder of its own by default: a manual run never shares the scheduler's lease
  const holder = opts.holder ?? `${processHolder}:${Math.random().toString(36).slice(2, 8)}`;
  const lease = receiveLeaseName(accountId);
  const ttl = opts.leaseTtlMs ?? ctx.config.worker?.leaseTtlMs ?? RECEIVE_LEASE_TTL;
  if (!(await ctx.repos.leases.acquire(lease, holder, ttl))) {
    throw new AppError('RECEIVE_BUSY', 'error.receiveBusy');
  }
  // a lease found taken by another holder (this process stalled past the TTL) stops the
  // run before anything more is stored or deleted: the other holder carries on
  // So does a lease that could not be renewed (database unreachable) and may run out before
  // the next try: another worker may take the account then, and two runs must never delete
  // side by side (the other one would log our deletions as not done).
  // the lease's lines carry the run's id, like the run's own
  const runId = opts.runId ?? uuidv7();
  const log = opts.logger ?? ctx.log;
  const lost = new AbortController();
  const renewEvery = Math.max(50, Math.floor(ttl / 5));
  let heldUntil = Date.now() + ttl;
  const heartbeat = setInterval(() => {
    const asked = Date.now();
    ctx.repos.leases
      .renew(lease, holder, ttl)
      .then((held) => {
        if (held) heldUntil = asked + ttl;
        else {
          log.warn({ accountId, runId }, 'receive.lease.lost');
          lost.abort();
        }
      })
      .catch((err) => {
        log.warn({ err, accountId, runId }, 'receive.lease.renew_failed');
        if (Date.now() + renewEvery >= heldUntil) lost.abort();
      });
  }, renewEvery);
  heartbeat.unref();
  const started = performance.now();
  let outcome: 'ok' | 'failed' = 'failed';
  try {
    // before deleting, the lease is renewed and its answer awaited: a process that stalled past
    // the TTL learns here, not from a heartbeat that may not have run yet, that it was taken over
    const leaseHeld = async (): Promise<boolean> => {
      const asked = Date.now();
      const held = await ctx.repos.leases.renew(lease, holder, ttl).catch((err: unknown) => {
        log.warn({ err, accountId, runId }, 'receive.lease.renew_failed');
        return false;
      });
      if (held) heldUntil = asked + ttl;
      else {
        log.warn({ accountId, runId }, 'receive.lease.lost');
        lost.abort();
      }
      return held;
    };
    const summary = await receiveAccount(ctx, ctx.repos.messages, accountId, { ...opts, runId, leaseHeld, signal: opts.signal ? AbortSignal.any([opts.signal, lost.signal]) : lost.signal });
    outcome = 'ok';
    return summary;
  } catch (err) {
    if (!isMailError(err)) throw err;
    return {
      received: 0,
      skippedOversize: 0,
      deletedFromServer: 0,
      remainingOnServer: 0,
      duplicates: 0,
      hasMore: false,
      errors: [summaryError(err)],
    };
  } finally {
    clearInterval(heartbeat);
    // for /metrics; a database that does not answer costs the histogram one run, not the run
    await recordReceiveRun(ctx.db, outcome, (performance.now() - started) / 1000).catch((err: unknown) => log.warn({ err, accountId, runId }, 'receive.run.histogram_failed'));
    await ctx.repos.leases.release(lease, holder);
  }
}

export interface ReceiveStatus {
  accountId: string;
  enabled: boolean;
  lastRunAt: string | null;
  lastSuccessAt: string | null;
  nextRunAt: string | null;
  /** `message` in the reader's language; `detail` the error's own text */
  lastError: LocalizedReceiveError | null;
  consecutiveFailures: number;
  /** set while the account waits longer than its interval because its server keeps failing (its reason: lastError) */
  backoffUntil: string | null;
  lastSummary: ReceiveSummary | null;
  running: boolean;
  messagesStored: number;
  /** mails on the server after the last run */
  onServer: number | null;
  /** of those, already stored by Yubin (left there by the policy) */
  storedOnServer: number | null;
  /** how many of the stored ones the next run's policy will delete */
  nextRunDeletes: number;
  notices: { uid: string; size: number; from: string | null; subject: string | null; firstSeenAt: string }[];
  warnings: { code: 'BACKLOG'; count: number }[];
  /** set by the stall monitor (src/ops/stall-monitor.ts); clears itself on recovery */
  stalled: { since: string; reason: StallReason } | null;
}

export async function receiveStatus(ctx: AppContext, accountId: string, now = new Date(), lang: Lang = 'ja'): Promise<ReceiveStatus> {
  const account = await new MailAccountService(ctx).get(accountId);
  const row = (await ctx.repos.accounts.getRow(accountId))!;
  const storedOnServer = row.stored_on_server_count === null ? null : Number(row.stored_on_server_count);
  let nextRunDeletes = 0;
  const policy = account.leaveOnServer;
  if (policy.mode !== 'forever') {
    let q = ctx.db.kysely
      .selectFrom('message_uids')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('account_id', '=', accountId)
      .where('deleted_at', 'is', null);
    if (policy.mode === 'days') q = q.where('first_seen_at', '<=', new Date(now.getTime() - (policy.days ?? 0) * 86_400_000).toISOString());
    nextRunDeletes = Math.min(Number((await q.executeTakeFirstOrThrow()).n), storedOnServer ?? Infinity);
  }
  const lease = await ctx.repos.leases.holderOf(receiveLeaseName(accountId));
  const lastSummary = row.last_summary ? (JSON.parse(row.last_summary) as ReceiveSummary) : null;
  const stall = await ctx.db.kysely.selectFrom('account_stalls').select(['since', 'reason']).where('account_id', '=', accountId).executeTakeFirst();
  return {
    accountId,
    enabled: account.enabled,
    lastRunAt: row.last_run_at,
    lastSuccessAt: row.last_success_at,
    nextRunAt: row.next_run_at,
    lastError: row.last_error_code
      ? localizeReceiveErrors(lang, [{ code: row.last_error_code, message: row.last_error_message ?? '', reason: lastSummary?.errors.find((e) => e.code === row.last_error_code)?.reason }])[0]!
      : null,
    consecutiveFailures: Number(row.consecutive_failures),
    backoffUntil: inBackoff(Number(row.consecutive_failures)) ? row.next_run_at : null,
    lastSummary: lastSummary ? localizeSummary(lang, lastSummary) : null,
    running: !!lease && lease.expiresAt > now.toISOString(),
    messagesStored: await ctx.repos.messages.count(accountId),
    onServer: row.on_server_count === null ? null : Number(row.on_server_count),
    storedOnServer,
    nextRunDeletes,
    notices: await ctx.repos.messages.notices(accountId),
    warnings:
      policy.mode === 'forever' && (storedOnServer ?? 0) >= BACKLOG_WARNING_THRESHOLD ? [{ code: 'BACKLOG', count: storedOnServer ?? 0 }] : [],
    stalled: stall ? { since: stall.since, reason: stall.reason as StallReason } : null,
  };
}

/** A run's summary for the API: its errors as sentences in `lang`, with their own text as `detail`. */
export function localizeSummary(lang: Lang, summary: ReceiveSummary): Omit<ReceiveSummary, 'errors'> & { errors: LocalizedReceiveError[] } {
  return { ...summary, errors: localizeReceiveErrors(lang, summary.errors) };
}

/** The staged connection test of an account with its stored credentials. */
export async function runConnectionTest(ctx: AppContext, accountId: string, lang: Lang, opts: { ca?: Buffer | string } = {}): Promise<ConnectionTestResult> {
  const account = await new MailAccountService(ctx).get(accountId);
  const server = await serverForAccount(ctx, account.serverId);
  if (!server) throw new AppError('NOT_FOUND', 'error.notFound', { what: new MessageRef('what.mailServer') });
  let creds: ConnectionTestCredentials;
  try {
    creds = await mailLogin(ctx, accountId, server);
  } catch (err) {
    if (!isOAuthError(err)) throw err;
    // the test still checks DNS, TCP, TLS and the greeting; the login stage shows why it cannot log in
    creds = { username: account.username || account.address, password: null, smtpUsername: null, smtpPassword: null, oauthFailure: { code: err.code, message: await oauthFailureMessage(ctx, lang, accountId, err) } };
  }
  return testAccountConnection(server, creds, { lang, ...opts });
}
