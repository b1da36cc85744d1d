// 一斉配信 › one bulk delivery: live progress (GET /bulk-deliveries/:id every second while
// it runs) as a bar and counts — sent, failed, pending, cancelled, skipped — with the
// estimated finish under the mail server's per-minute limit; 一時停止する / 再開する /
// 配信を中止する; the skipped rows and why; and each recipient's status with a filter
// (GET …/recipients?status=, paged by its cursor).
import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { api, ApiError, qs } from '../api/client.ts';
import type { MailAccount, MailServer, Page as ApiPage } from '../api/types.ts';
import type { BulkDelivery, BulkRecipient, SkippedRow } from '@yubin/send/schemas.ts';
import { ErrorBanner, Notice } from '../components/form.tsx';
import { ACCOUNTS, Page, SERVERS } from '../components/layout.tsx';
import { Pager } from '../components/pager.tsx';
import { useLoad } from '../components/use-load.ts';
import { useI18n, type UiKey } from '../i18n/i18n.tsx';

export const BULK = '/bulk';
/** How often a running bulk delivery is read again; a paused one less often. */
export const POLL_MS = 1_000;
export const POLL_PAUSED_MS = 3_000;
export const RECIPIENTS_PAGE_SIZE = 100;

type RecipientStatus = BulkRecipient['status'];
const RECIPIENT_STATUSES: RecipientStatus[] = ['queued', 'sending', 'deferred', 'sent', 'failed', 'cancelled'];

/** Minutes to send `pending` mails at `limit` a minute (at least one while any is left). */
export function minutesFor(pending: number, limit: number): number {
  return pending > 0 ? Math.max(1, Math.ceil(pending / limit)) : 0;
}

export interface Sender {
  account: MailAccount | undefined;
  server: MailServer | undefined;
}

/** The sending account and its mail server (for the per-minute limit); either may be gone. */
export async function loadSender(accountId: string): Promise<Sender> {
  const account = await api<MailAccount>('GET', `/api/v1/mail-accounts/${encodeURIComponent(accountId)}`).catch(() => undefined);
  const server = account ? await api<MailServer>('GET', `/api/v1/mail-servers/${encodeURIComponent(account.serverId)}`).catch(() => undefined) : undefined;
  return { account, server };
}

export function BulkStatusLabel({ status }: { status: BulkDelivery['status'] }) {
  const { t } = useI18n();
  const kind = status === 'done' ? 'ok' : status === 'running' ? 'running' : 'muted';
  return (
    <span className={`status status-${kind}`} data-status={status}>
      {t(`bulk.status.${status}`)}
    </span>
  );
}

/** The rows that get no mail, with the reason the API (or the preview) gives. */
export function SkippedTable({ rows, testId }: { rows: Pick<SkippedRow, 'row' | 'address' | 'reason' | 'message'>[]; testId: string }) {
  const { t, field } = useI18n();
  if (!rows.length) return <p className="empty">{t('bulk.skippedNone')}</p>;
  return (
    <table className="list bulk-skipped" data-testid={testId}>
      <thead>
        <tr>
          <th scope="col" className="num">
            {t('bulk.col.row')}
          </th>
          <th scope="col">{field('address')}</th>
          <th scope="col">{t('bulk.col.reason')}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((s) => (
          <tr key={s.row} data-row={s.row} data-reason={s.reason}>
            <td className="num">{s.row}</td>
            <td>{s.address}</td>
            <td>{s.message}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function BulkProgressPage() {
  const { id = '' } = useParams();
  const { t, field, dateTime, lang } = useI18n();
  const enc = encodeURIComponent(id);
  const [bulk, setBulk] = useState<BulkDelivery | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const [actionError, setActionError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const [confirmCancel, setConfirmCancel] = useState(false);
  // bumped by every read of the progress, so the recipient list follows it
  const [tick, setTick] = useState(0);
  // bumped after an action, to start polling again
  const [generation, setGeneration] = useState(0);
  const { data: sender } = useLoad(() => (bulk ? loadSender(bulk.accountId) : Promise.resolve(undefined)), [bulk?.accountId]);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      try {
        const b = await api<BulkDelivery>('GET', `/api/v1/bulk-deliveries/${enc}`);
        if (stopped) return;
        setBulk(b);
        setError(undefined);
        setTick((n) => n + 1);
        // a cancelled one too while a mail that was in flight finishes; and a done one until its
        // finish time is written (the API says done as soon as nothing is pending, the worker
        // that sent the last mail writes the time a moment later)
        const finishing = (b.status === 'done' || b.status === 'cancelled') && !b.finishedAt;
        if (b.status === 'running' || b.status === 'paused' || b.pending > 0 || finishing) timer = setTimeout(read, b.status === 'paused' ? POLL_PAUSED_MS : POLL_MS);
      } catch (e) {
        if (stopped) return;
        const err = e instanceof ApiError ? e : new ApiError(0, 'ERROR', String(e));
        setError(err);
        // a network hiccup is retried; a delivery that does not exist is not
        if (err.status === 0 || err.status >= 500) timer = setTimeout(read, POLL_PAUSED_MS);
      }
    };
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
    // the skipped rows' reasons come in the UI's language
  }, [enc, generation, lang]);

  async function act(action: 'pause' | 'resume' | 'cancel') {
    setBusy(true);
    setActionError(undefined);
    try {
      setBulk(await api<BulkDelivery>('POST', `/api/v1/bulk-deliveries/${enc}/${action}`));
      setConfirmCancel(false);
    } catch (e) {
      setActionError(e instanceof ApiError ? e : new ApiError(0, 'ERROR', String(e)));
    } finally {
      setBusy(false);
      setGeneration((g) => g + 1);
    }
  }

  const active = bulk?.status === 'running' || bulk?.status === 'paused';
  const account = sender?.account;
  return (
    <Page crumbs={[{ label: t('bulk.title'), to: BULK }, { label: bulk?.subject || t('bulk.progressTitle') }]} title={t('bulk.progressTitle')} actions={<Link to={BULK}>{t('bulk.newLink')}</Link>}>
      <ErrorBanner error={bulk ? undefined : error} />
      {bulk ? (
        <>
          <dl className="facts" data-testid="bulk-facts">
            <dt>{field('subject')}</dt>
            <dd>{bulk.subject || t('mail.noSubject')}</dd>
            <dt>{t('bulk.col.account')}</dt>
            <dd>{account ? `${account.displayName} <${account.address}>` : bulk.accountId}</dd>
            {bulk.replyTo ? (
              <>
                <dt>{field('replyTo')}</dt>
                <dd data-testid="bulk-reply-to">{bulk.replyTo}</dd>
              </>
            ) : null}
            <dt>{t('bulk.col.status')}</dt>
            <dd>
              <BulkStatusLabel status={bulk.status} />
            </dd>
            <dt>{t('bulk.createdAt')}</dt>
            <dd>{dateTime(bulk.createdAt)}</dd>
            {bulk.finishedAt ? (
              <>
                <dt>{t('bulk.finishedAt')}</dt>
                <dd>{dateTime(bulk.finishedAt)}</dd>
              </>
            ) : null}
            {sender?.server ? (
              <>
                <dt>{t('bulk.rate')}</dt>
                <dd data-testid="rate-limit">{sender.server.outgoing.perMinuteLimit === null ? t('common.unlimited') : t('bulk.rateValue', { limit: sender.server.outgoing.perMinuteLimit })}</dd>
              </>
            ) : null}
          </dl>

          {bulk.pauseReason === 'auth_failed' || bulk.accountError ? (
            <Notice kind="warning">
              <p>{t('bulk.authPaused')}</p>
              {bulk.accountError ? <p>{bulk.accountError.message}</p> : null}
              <p>
                <Link to={`${ACCOUNTS}/${bulk.accountId}`}>{t('bulk.accountLink')}</Link>
              </p>
            </Notice>
          ) : null}
          {bulk.pauseReason === 'server_failed' ? (
            <Notice kind="warning">
              <p data-testid="server-paused">{t('bulk.serverPaused')}</p>
              {bulk.pauseError ? <p>{bulk.pauseError.message}</p> : null}
              {sender?.server ? (
                <p>
                  <Link to={`${SERVERS}/${sender.server.id}/edit`}>{t('bulk.serverLink')}</Link>
                </p>
              ) : null}
            </Notice>
          ) : null}

          <h2>{t('bulk.progress')}</h2>
          <Progress bulk={bulk} limit={sender?.server ? sender.server.outgoing.perMinuteLimit : undefined} />

          {active ? (
            <div className="buttons" data-testid="bulk-actions">
              {bulk.status === 'running' ? (
                <button type="button" onClick={() => act('pause')} disabled={busy}>
                  {t('bulk.pause')}
                </button>
              ) : (
                <button type="button" className="primary" onClick={() => act('resume')} disabled={busy}>
                  {t('bulk.resume')}
                </button>
              )}
              <button type="button" onClick={() => setConfirmCancel(true)} disabled={busy || confirmCancel}>
                {t('bulk.cancel')}
              </button>
            </div>
          ) : null}
          {active && confirmCancel ? (
            <div className="bulk-confirm" role="group" aria-label={t('bulk.cancel')}>
              <p className="confirm-question">{t('bulk.cancelConfirm', { pending: bulk.pending })}</p>
              <div className="buttons">
                <button type="button" className="danger" onClick={() => act('cancel')} disabled={busy}>
                  {t('common.yes')}
                </button>
                <button type="button" onClick={() => setConfirmCancel(false)} disabled={busy}>
                  {t('common.no')}
                </button>
              </div>
            </div>
          ) : null}
          <ErrorBanner error={actionError} />

          <h2>{t('bulk.skippedTitle')}</h2>
          <SkippedTable rows={bulk.skipped} testId="skipped" />

          <h2>{t('bulk.recipients')}</h2>
          <RecipientList id={id} tick={tick} />
        </>
      ) : error ? null : (
        <p>{t('common.loading')}</p>
      )}
    </Page>
  );
}

/** The bar (sent, failed, cancelled over the total), the counts and the estimated finish. */
function Progress({ bulk, limit }: { bulk: BulkDelivery; limit: number | null | undefined }) {
  const { t, dateTime } = useI18n();
  const { total, sent, failed, pending, cancelled } = bulk;
  const done = sent + failed + cancelled;
  const pct = (n: number) => `${total > 0 ? (n / total) * 100 : 0}%`;
  let estimate: string | null = null;
  // no finish time to estimate once cancelled (the mails in flight finish on their own)
  if (pending > 0 && limit !== undefined && (bulk.status === 'running' || bulk.status === 'paused')) {
    if (limit === null) estimate = t(bulk.status === 'paused' ? 'bulk.estimateUnlimitedPaused' : 'bulk.estimateUnlimited', { pending });
    else {
      const minutes = minutesFor(pending, limit);
      estimate =
        bulk.status === 'paused'
          ? t('bulk.estimatePaused', { pending, minutes, limit })
          : t('bulk.estimate', { time: dateTime(new Date(Date.now() + minutes * 60_000).toISOString()), pending, limit });
    }
  }
  const counts: [string, UiKey, number][] = [
    ['total', 'bulk.count.total', total],
    ['sent', 'bulk.count.sent', sent],
    ['failed', 'bulk.count.failed', failed],
    ['pending', 'bulk.count.pending', pending],
    ['cancelled', 'bulk.count.cancelled', cancelled],
    ['skipped', 'bulk.count.skipped', bulk.skipped.length],
  ];
  return (
    <div className="bulk-progress">
      <div
        className="bulk-bar"
        role="progressbar"
        aria-label={t('bulk.progress')}
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={done}
        aria-valuetext={t('bulk.progressValue', { done, total })}
        data-testid="progress-bar"
      >
        <span className="bulk-bar-sent" style={{ width: pct(sent) }} />
        <span className="bulk-bar-failed" style={{ width: pct(failed) }} />
        <span className="bulk-bar-cancelled" style={{ width: pct(cancelled) }} />
      </div>
      <p className="bulk-bar-text">{t('bulk.progressValue', { done, total })}</p>
      <dl className="bulk-counts">
        {counts.map(([key, label, n]) => (
          <div key={key} className={`bulk-count bulk-count-${key}`} data-testid={`count-${key}`} data-count={n}>
            <dt>{t(label)}</dt>
            <dd>{t('bulk.countValue', { count: n })}</dd>
          </div>
        ))}
      </dl>
      {estimate ? (
        <p className="bulk-estimate" data-testid="estimate">
          {estimate}
        </p>
      ) : null}
    </div>
  );
}

function RecipientList({ id, tick }: { id: string; tick: number }) {
  const { t, field, dateTime } = useI18n();
  const [status, setStatus] = useState<RecipientStatus | ''>('');
  // cursors[i] is the cursor of page i (page 0 has none)
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [pageNo, setPageNo] = useState(0);
  const cursor = cursors[pageNo];
  const loaded = useLoad(
    async () => ({
      cursor,
      page: await api<ApiPage<BulkRecipient>>('GET', `/api/v1/bulk-deliveries/${encodeURIComponent(id)}/recipients` + qs({ status: status || undefined, limit: RECIPIENTS_PAGE_SIZE, cursor })),
    }),
    [id, status, cursor, tick],
  );
  const data = loaded.data?.page;
  const error = loaded.error;
  // another page's rows while this one loads (not the refresh of this page while it sends)
  const turning = loaded.loading && loaded.data !== undefined && loaded.data.cursor !== cursor;

  function filter(next: RecipientStatus | '') {
    setStatus(next);
    setCursors([undefined]);
    setPageNo(0);
  }
  function next() {
    if (!data?.nextCursor) return;
    setCursors([...cursors.slice(0, pageNo + 1), data.nextCursor]);
    setPageNo(pageNo + 1);
  }

  return (
    <>
      <div className="toolbar">
        <label>
          {t('bulk.filter')}{' '}
          <select value={status} onChange={(e) => filter(e.target.value as RecipientStatus | '')}>
            <option value="">{t('bulk.filter.all')}</option>
            {RECIPIENT_STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`bulk.rstatus.${s}`)}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBanner error={error} />
      {data ? (
        data.items.length ? (
          <table className={turning ? 'list bulk-recipients stale' : 'list bulk-recipients'} data-testid="recipients" aria-busy={turning}>
            <thead>
              <tr>
                <th scope="col" className="num">
                  {t('bulk.col.row')}
                </th>
                <th scope="col">{field('address')}</th>
                <th scope="col">{t('bulk.col.status')}</th>
                <th scope="col" className="num">
                  {t('bulk.col.attempts')}
                </th>
                <th scope="col">{t('bulk.col.sentAt')}</th>
                <th scope="col">{t('bulk.col.reply')}</th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((r) => (
                <tr key={r.row} data-row={r.row} data-status={r.status}>
                  <td className="num">{r.row}</td>
                  <td>{r.address}</td>
                  <td>
                    <span className={`rstatus rstatus-${r.status}`}>{t(`bulk.rstatus.${r.status}`)}</span>
                  </td>
                  <td className="num">{r.attempts}</td>
                  <td className="date">{dateTime(r.sentAt)}</td>
                  <td className="bulk-reply">
                    {/* the reply text starts with its code */}
                    {r.reply || r.code !== null ? <span>{r.reply || String(r.code)}</span> : null}
                    {r.error && r.error.message !== r.reply ? <span className="error-text">{r.error.message}</span> : null}
                    {r.nextAttemptAt ? <span className="hint">{t('bulk.nextAttempt', { time: dateTime(r.nextAttemptAt) })}</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="empty">{t('bulk.recipientsEmpty')}</p>
        )
      ) : null}
      {pageNo > 0 || data?.nextCursor ? (
        <Pager pageNo={pageNo} loading={turning} hasNext={!!data?.nextCursor} onPrev={() => setPageNo(pageNo - 1)} onNext={next} />
      ) : null}
    </>
  );
}
