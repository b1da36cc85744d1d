// システム設定 › 全般 › メールアカウント: every account with its mail server, its last
// receive and its status (error, oversize notices, the backlog warning), 追加する and
// 変更する / 削除する on each row.
import { Link } from 'react-router';
import { api } from '../api/client.ts';
import type { MailAccount, MailServer, ReceiveStatus } from '../api/types.ts';
import { ErrorBanner, Notice } from '../components/form.tsx';
import { ACCOUNTS, Page, SERVERS, useSettingsCrumbs } from '../components/layout.tsx';
import { useLoad } from '../components/use-load.ts';
import { useI18n, type I18n } from '../i18n/i18n.tsx';
import { OAuthBadge } from './oauth-connection.tsx';

export interface AccountsData {
  accounts: MailAccount[];
  servers: MailServer[];
  statuses: Record<string, ReceiveStatus | undefined>;
}

export async function loadAccounts(withStatus: boolean): Promise<AccountsData> {
  const [accounts, servers] = await Promise.all([
    api<{ items: MailAccount[] }>('GET', '/api/v1/mail-accounts'),
    api<{ items: MailServer[] }>('GET', '/api/v1/mail-servers'),
  ]);
  const statuses: AccountsData['statuses'] = {};
  if (withStatus) {
    await Promise.all(
      accounts.items.map(async (a) => {
        statuses[a.id] = await api<ReceiveStatus>('GET', `/api/v1/mail-accounts/${encodeURIComponent(a.id)}/status`).catch(() => undefined);
      }),
    );
  }
  return { accounts: accounts.items, servers: servers.items, statuses };
}

/**
 * An OAuth 2.0 receive error in the UI's own words: a grant the provider refused (with the
 * provider's description) or that was never made. The API keeps these in English.
 */
function oauthReason(msg: I18n['msg'], code: string, account: MailAccount | undefined): string | null {
  if (code === 'OAUTH_NOT_CONNECTED') return msg('oauth.notConnected');
  if (code === 'OAUTH_REAUTHORIZE' && account) {
    const description = account.oauth.errorDescription;
    return `${msg(`oauth.error.${account.oauth.errorCode ?? 'invalid_grant'}`)}${description ? ` (${description})` : ''}`;
  }
  return null;
}

/** One error of a receive run (今すぐ受信) in the reader's language; any but OAuth's as the API words it. */
export function receiveErrorText(msg: I18n['msg'], e: { code: string; message: string }, account: MailAccount | undefined): string {
  const reason = oauthReason(msg, e.code, account);
  return reason ? msg('receive.failed', { reason }) : e.message;
}

/**
 * The last receive error in the reader's language: OAuth's in the UI's own words; any other
 * error as the API words it in the request's language (its own text in parentheses when it
 * is a server's reply).
 */
function useLastError(status: ReceiveStatus, account: MailAccount | undefined): string | null {
  const { msg } = useI18n();
  const e = status.lastError;
  if (!e) return null;
  return oauthReason(msg, e.code, account) ?? e.message;
}

/** 正常 / エラー / 未受信 / 停止中 / 受信中, with the error, notices and backlog warning under it; 受信停止 (stalled) beside. */
export function AccountStatus({ status, account }: { status: ReceiveStatus | undefined; account?: MailAccount | undefined }) {
  if (!status) return null;
  return <StatusOf status={status} account={account} />;
}

function StatusOf({ status, account }: { status: ReceiveStatus; account: MailAccount | undefined }) {
  const { t, msg, dateTime } = useI18n();
  const lastError = useLastError(status, account);
  let label: string;
  let kind: string;
  if (status.running) [label, kind] = [t('accounts.status.running'), 'muted'];
  else if (!status.enabled) [label, kind] = [t('accounts.status.disabled'), 'muted'];
  else if (status.lastError) [label, kind] = [t('accounts.status.error'), 'error'];
  else if (!status.lastRunAt) [label, kind] = [t('accounts.status.never'), 'muted'];
  else [label, kind] = [t('accounts.status.ok'), 'ok'];
  return (
    <div className="account-status" data-status={kind}>
      <span className={`status status-${kind}`}>{label}</span>
      {status.stalled ? (
        <>
          {' '}
          <span className="badge badge-stalled" data-testid="stalled">
            {t('accounts.status.stalled')}
          </span>
          <p className="status-note error-text">{t('accounts.stalledNote', { reason: msg(`stall.reason.${status.stalled.reason}`), since: dateTime(status.stalled.since) })}</p>
        </>
      ) : null}
      {lastError ? <p className="status-note error-text">{lastError}</p> : null}
      {status.notices.length ? <p className="status-note warn">{t('accounts.notices', { count: status.notices.length })}</p> : null}
      {status.warnings.map((w) => (
        <p key={w.code} className="status-note warn" data-warning={w.code}>
          {msg('error.backlog', { count: w.count })}
        </p>
      ))}
    </div>
  );
}

export function MailAccountsPage() {
  const { t, field, dateTime, lang } = useI18n();
  const crumbs = useSettingsCrumbs();
  // read again in the other language when it is switched: the API words the last errors
  const { data, error } = useLoad(() => loadAccounts(true), [lang]);
  const serverName = (id: string) => data?.servers.find((s) => s.id === id)?.name ?? id;
  const hasOthers = !!data?.servers.length;

  return (
    <Page crumbs={[...crumbs, { label: t('settings.mailAccounts') }]} title={t('accounts.title')}>
      <ErrorBanner error={error} />
      {data ? (
        <>
          <div className="toolbar">
            <Link className="button-link" to={`${ACCOUNTS}/new`}>
              {t('common.add')}
            </Link>
          </div>
          {!hasOthers ? (
            <Notice>
              <Link to={SERVERS}>{t('accounts.needServer')}</Link>
            </Notice>
          ) : null}
          {data.accounts.length ? (
            <table className="list" data-testid="accounts">
              <thead>
                <tr>
                  <th scope="col">{t('accounts.col.name')}</th>
                  <th scope="col">{field('address')}</th>
                  <th scope="col">{field('serverId')}</th>
                  <th scope="col">{t('accounts.col.lastReceive')}</th>
                  <th scope="col">{t('accounts.col.status')}</th>
                  <th scope="col" className="actions-col">
                    {t('servers.col.actions')}
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.accounts.map((a) => {
                  const st = data.statuses[a.id];
                  return (
                    <tr key={a.id} data-account-id={a.id}>
                      <th scope="row">
                        <Link to={`${ACCOUNTS}/${a.id}`}>{a.displayName}</Link>
                      </th>
                      <td>{a.address}</td>
                      <td>{serverName(a.serverId)}</td>
                      <td className="last-receive">{dateTime(st?.lastRunAt)}</td>
                      <td>
                        <OAuthBadge account={a} server={data.servers.find((s) => s.id === a.serverId)} />
                        <AccountStatus status={st} account={a} />
                      </td>
                      <td className="actions">
                        <Link to={`${ACCOUNTS}/${a.id}/edit`}>{t('common.change')}</Link>
                        <Link to={`${ACCOUNTS}/${a.id}/delete`}>{t('common.delete')}</Link>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          ) : (
            <p className="empty">{t('accounts.empty')}</p>
          )}
        </>
      ) : error ? null : (
        <p>{t('common.loading')}</p>
      )}
    </Page>
  );
}
