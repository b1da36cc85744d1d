// システム設定 › 全般 › メールサーバー: Gmail and Exchange Online on top (変更する
// only), then その他のメールサーバー with 追加する / 順番変更 and 変更する / 削除する on
// each row. Each row shows protocol, hosts and ports at a glance.
import { Link } from 'react-router';
import { api } from '../api/client.ts';
import type { MailServer } from '../api/types.ts';
import { ErrorBanner } from '../components/form.tsx';
import { Page, SERVERS, useSettingsCrumbs } from '../components/layout.tsx';
import { useLoad } from '../components/use-load.ts';
import { useI18n } from '../i18n/i18n.tsx';

export function ServerSummary({ server, side }: { server: MailServer; side: 'incoming' | 'outgoing' }) {
  const { t } = useI18n();
  if (side === 'incoming') {
    const s = server.incoming;
    return (
      <span className="endpoint">
        <span className="proto">{s.protocol === 'pop3' ? 'POP3' : 'IMAP4'}</span> {s.host}:{s.port} <span className="enc">{t(`servers.encShort.${s.encryption}`)}</span>
        {s.apop ? <span className="tag">APOP</span> : null}
      </span>
    );
  }
  const s = server.outgoing;
  return (
    <span className="endpoint">
      <span className="proto">SMTP</span> {s.host}:{s.port} <span className="enc">{t(`servers.encShort.${s.encryption}`)}</span>{' '}
      <span className="tag">{s.auth.mechanism ? t('servers.smtpAuth', { mechanism: s.auth.mechanism }) : t('servers.noSmtpAuth')}</span>
    </span>
  );
}

export function MailServersPage() {
  const { t } = useI18n();
  const crumbs = useSettingsCrumbs();
  const { data, error } = useLoad(() => api<{ items: MailServer[] }>('GET', '/api/v1/mail-servers'), []);
  const presets = data?.items.filter((s) => s.preset) ?? [];
  const others = data?.items.filter((s) => !s.preset) ?? [];

  const table = (rows: MailServer[], preset: boolean, testId: string) => (
    <table className="list" data-testid={testId}>
      <thead>
        <tr>
          <th scope="col">{t('servers.col.name')}</th>
          <th scope="col">{t('servers.col.incoming')}</th>
          <th scope="col">{t('servers.col.outgoing')}</th>
          <th scope="col" className="actions-col">
            {t('servers.col.actions')}
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((s) => (
          <tr key={s.id} data-server-id={s.id}>
            <th scope="row">{s.name}</th>
            <td>
              <ServerSummary server={s} side="incoming" />
            </td>
            <td>
              <ServerSummary server={s} side="outgoing" />
            </td>
            <td className="actions">
              <Link to={`${SERVERS}/${s.id}/edit`}>{t('common.change')}</Link>
              {preset ? null : <Link to={`${SERVERS}/${s.id}/delete`}>{t('common.delete')}</Link>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );

  return (
    <Page crumbs={[...crumbs, { label: t('settings.mailServers') }]} title={t('settings.mailServers')}>
      <ErrorBanner error={error} />
      {data ? (
        <>
          <p className="lead">{t('servers.lead')}</p>
          <section aria-labelledby="presets">
            <h2 id="presets">{t('servers.presets')}</h2>
            {table(presets, true, 'preset-servers')}
          </section>
          <section aria-labelledby="others">
            <h2 id="others">{t('servers.others')}</h2>
            <div className="toolbar">
              <Link className="button-link" to={`${SERVERS}/new`}>
                {t('common.add')}
              </Link>
              {others.length > 1 ? <Link to={`${SERVERS}/order`}>{t('servers.reorder')}</Link> : <span className="disabled-link">{t('servers.reorder')}</span>}
            </div>
            {others.length ? table(others, false, 'other-servers') : <p className="empty">{t('servers.empty')}</p>}
          </section>
        </>
      ) : error ? null : (
        <p>{t('common.loading')}</p>
      )}
    </Page>
  );
}
