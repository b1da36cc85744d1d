// One mail account: its receiving status (last run, error, oversize notices, the
// backlog warning), 今すぐ受信 (POST …/receive) and the connection test
// (POST …/test) with each stage's result.
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { api, ApiError } from '../api/client.ts';
import type { ConnectionTestResult, MailAccount, MailServer, ReceiveStatus, ReceiveSummary, Stage } from '../api/types.ts';
import { ErrorBanner, Notice } from '../components/form.tsx';
import { ACCOUNTS, Page, SERVERS, useSettingsCrumbs } from '../components/layout.tsx';
import { useLoad } from '../components/use-load.ts';
import { useI18n, type UiKey } from '../i18n/i18n.tsx';
import { AccountStatus, receiveErrorText } from './mail-accounts.tsx';
import { OAuthSection } from './oauth-connection.tsx';

interface Detail {
  account: MailAccount;
  server: MailServer | undefined;
  status: ReceiveStatus;
}

export function MailAccountDetailPage() {
  const { id = '' } = useParams();
  const { t, field, dateTime, size, lang } = useI18n();
  const crumbs = useSettingsCrumbs();
  const enc = encodeURIComponent(id);
  const { data, error, reload } = useLoad(async (): Promise<Detail> => {
    const account = await api<MailAccount>('GET', `/api/v1/mail-accounts/${enc}`);
    const [server, status] = await Promise.all([
      api<MailServer>('GET', `/api/v1/mail-servers/${encodeURIComponent(account.serverId)}`).catch(() => undefined),
      api<ReceiveStatus>('GET', `/api/v1/mail-accounts/${enc}/status`),
    ]);
    return { account, server, status };
    // read again in the other language when it is switched: the API words the last error
  }, [id, lang]);
  const [receiving, setReceiving] = useState(false);
  const [summary, setSummary] = useState<ReceiveSummary | undefined>();
  const [testing, setTesting] = useState(false);
  const [result, setResult] = useState<ConnectionTestResult | undefined>();
  const [actionError, setActionError] = useState<ApiError | undefined>();

  async function receive() {
    setReceiving(true);
    setActionError(undefined);
    setSummary(undefined);
    try {
      setSummary(await api<ReceiveSummary>('POST', `/api/v1/mail-accounts/${enc}/receive`));
    } catch (e) {
      setActionError(e instanceof ApiError ? e : undefined);
    } finally {
      setReceiving(false);
      reload();
    }
  }

  async function test() {
    setTesting(true);
    setActionError(undefined);
    setResult(undefined);
    try {
      setResult(await api<ConnectionTestResult>('POST', `/api/v1/mail-accounts/${enc}/test`));
    } catch (e) {
      setActionError(e instanceof ApiError ? e : undefined);
    } finally {
      setTesting(false);
    }
  }

  const a = data?.account;
  const st = data?.status;
  return (
    <Page
      crumbs={[...crumbs, { label: t('settings.mailAccounts'), to: ACCOUNTS }, { label: a?.displayName ?? '' }]}
      title={a ? `${a.displayName} <${a.address}>` : t('account.title')}
      actions={
        a ? (
          <>
            <Link to={`${ACCOUNTS}/${a.id}/edit`}>{t('common.change')}</Link>
            <Link to={`${ACCOUNTS}/${a.id}/delete`}>{t('common.delete')}</Link>
          </>
        ) : null
      }
    >
      <ErrorBanner error={error} />
      {a && st ? (
        <>
          <dl className="facts">
            <dt>{field('serverId')}</dt>
            <dd>{data.server ? <Link to={`${SERVERS}/${data.server.id}/edit`}>{data.server.name}</Link> : a.serverId}</dd>
            <dt>{field('username')}</dt>
            {/* Gmail (OAuth 2.0) signs in as the address */}
            <dd>{a.username || (data.server?.preset ? a.address : '')}</dd>
            <dt>{field('leaveOnServer')}</dt>
            <dd>{a.leaveOnServer.mode === 'days' ? `${a.leaveOnServer.days}${t('accountForm.leave.days')}` : t(`accountForm.leave.${a.leaveOnServer.mode}`)}</dd>
          </dl>

          <OAuthSection account={a} server={data.server} />

          <h2>{t('account.status')}</h2>
          <AccountStatus status={st} account={a} />
          <dl className="facts" data-testid="receive-status">
            <dt>{t('account.lastRunAt')}</dt>
            <dd>{dateTime(st.lastRunAt) || '—'}</dd>
            <dt>{t('account.lastSuccessAt')}</dt>
            <dd>{dateTime(st.lastSuccessAt) || '—'}</dd>
            <dt>{t('account.nextRunAt')}</dt>
            <dd>{dateTime(st.nextRunAt) || '—'}</dd>
            <dt>{t('account.messagesStored')}</dt>
            <dd>
              <Link to={`/mail?account=${a.id}`}>{t('account.count', { count: st.messagesStored })}</Link>
            </dd>
            {st.onServer !== null ? (
              <>
                <dt>{t('account.onServer')}</dt>
                <dd>{t('account.count', { count: st.onServer })}</dd>
                <dt>{t('account.storedOnServer')}</dt>
                <dd>{t('account.count', { count: st.storedOnServer ?? 0 })}</dd>
              </>
            ) : null}
          </dl>
          {st.notices.length ? (
            <section aria-labelledby="notices">
              <h3 id="notices">{t('account.noticesTitle')}</h3>
              <p className="hint">{t('account.noticesLead')}</p>
              <table className="list" data-testid="notices">
                <thead>
                  <tr>
                    <th scope="col">{t('mail.col.from')}</th>
                    <th scope="col">{t('mail.col.subject')}</th>
                    <th scope="col">{t('account.noticeSize')}</th>
                    <th scope="col">{t('message.receivedAt')}</th>
                  </tr>
                </thead>
                <tbody>
                  {st.notices.map((n) => (
                    <tr key={n.uid}>
                      <td>{n.from ?? ''}</td>
                      <td>{n.subject ?? t('mail.noSubject')}</td>
                      <td className="num">{size(n.size)}</td>
                      <td>{dateTime(n.firstSeenAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          ) : null}

          <div className="buttons">
            <button type="button" className="primary" onClick={receive} disabled={receiving}>
              {receiving ? t('common.working') : t('accounts.receiveNow')}
            </button>
            <button type="button" onClick={test} disabled={testing}>
              {testing ? t('account.testRunning') : t('account.test')}
            </button>
            <Link to={`/mail?account=${a.id}`}>{t('account.viewMail')}</Link>
          </div>
          <ErrorBanner error={actionError} />
          {summary ? <ReceiveResult summary={summary} account={a} /> : null}
          {testing ? <p>{t('account.testRunning')}</p> : null}
          {result ? <TestResult result={result} /> : <p className="hint">{t('account.testLead')}</p>}
        </>
      ) : null}
    </Page>
  );
}

function ReceiveResult({ summary, account }: { summary: ReceiveSummary; account: MailAccount }) {
  const { t, msg } = useI18n();
  return (
    <Notice kind={summary.errors.length ? 'warning' : 'success'}>
      <p data-testid="receive-summary">
        {/* a run that failed before it counted anything: no "0 left on the server" (it is not known) */}
        {summary.errors.length && !summary.received && !summary.deletedFromServer
          ? t('accounts.receivedNone')
          : t('accounts.received', { received: summary.received, deleted: summary.deletedFromServer, remaining: summary.remainingOnServer })}
      </p>
      {summary.hasMore ? <p>{t('accounts.receivedMore')}</p> : null}
      {summary.errors.length ? (
        <>
          <p>{t('accounts.receiveErrors')}</p>
          <ul>
            {summary.errors.map((e, i) => (
              <li key={i}>{receiveErrorText(msg, e, account)}</li>
            ))}
          </ul>
        </>
      ) : null}
    </Notice>
  );
}

function TestResult({ result }: { result: ConnectionTestResult }) {
  const { t } = useI18n();
  return (
    <section aria-labelledby="test-result" data-testid="test-result" data-ok={result.ok}>
      <h2 id="test-result">{t('account.test')}</h2>
      <Notice kind={result.ok ? 'success' : 'warning'}>{result.ok ? t('account.testOk') : t('account.testFailed')}</Notice>
      <StageTable title={t('account.testIncoming')} stages={result.incoming} testId="test-incoming" />
      <StageTable title={t('account.testOutgoing')} stages={result.outgoing} testId="test-outgoing" />
    </section>
  );
}

function StageTable({ title, stages, testId }: { title: string; stages: Stage[]; testId: string }) {
  const { t } = useI18n();
  return (
    <>
      <h3>{title}</h3>
      {stages.length ? (
        <table className="list stage-table" data-testid={testId}>
          <tbody>
            {stages.map((s, i) => (
              <tr key={i} data-stage={s.stage} data-ok={s.ok}>
                <th scope="row">{t(`stage.${s.stage}` as UiKey)}</th>
                <td className={s.ok ? (s.warning ? 'stage-warning' : 'stage-ok') : 'stage-failed'}>{s.ok ? (s.warning ? t('account.testWarning') : t('stage.ok')) : t('stage.failed')}</td>
                <td>
                  {s.message}
                  {s.details && Object.keys(s.details).length ? <Details details={s.details} /> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="hint">{t('account.testNotRun')}</p>
      )}
    </>
  );
}

function Details({ details }: { details: Record<string, unknown> }) {
  return (
    <p className="details">
      {Object.entries(details)
        .map(([k, v]) => `${k}: ${plain(v)}`)
        .join(' / ')}
    </p>
  );
}

/**
 * A detail's value as a person reads it, not as JSON: a list joined with commas, an error by
 * its own text (e.g. "getaddrinfo ENOTFOUND pop.example.com"), a resolved address by itself.
 */
function plain(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return v.map(plain).join(', ');
  const o = v as Record<string, unknown>;
  for (const k of ['detail', 'message', 'address', 'text']) if (typeof o[k] === 'string' && o[k] !== '') return o[k] as string;
  return JSON.stringify(v);
}
