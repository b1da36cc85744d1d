// 削除する: the confirmation (はい / いいえ). A server that accounts still use is not
// deleted: the API answers 409 with those accounts, and they are listed here.
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, ApiError } from '../api/client.ts';
import type { MailServer } from '../api/types.ts';
import { ErrorBanner } from '../components/form.tsx';
import { ACCOUNTS, Page, SERVERS, useSettingsCrumbs } from '../components/layout.tsx';
import { useLoad } from '../components/use-load.ts';
import { useI18n } from '../i18n/i18n.tsx';

export function MailServerDeletePage() {
  const { id = '' } = useParams();
  const { t, msg } = useI18n();
  const crumbs = useSettingsCrumbs();
  const navigate = useNavigate();
  const { data: server, error: loadError } = useLoad(() => api<MailServer>('GET', `/api/v1/mail-servers/${encodeURIComponent(id)}`), [id]);
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const users = error?.code === 'SERVER_IN_USE' && Array.isArray(error.body.accounts) ? (error.body.accounts as { id: string; address: string }[]) : [];

  async function yes() {
    setBusy(true);
    try {
      await api('DELETE', `/api/v1/mail-servers/${encodeURIComponent(id)}`);
      navigate(SERVERS);
    } catch (e) {
      setError(e instanceof ApiError ? e : undefined);
      setBusy(false);
    }
  }

  const back = (
    <button type="button" onClick={() => navigate(SERVERS)}>
      {t('common.back')}
    </button>
  );
  return (
    <Page crumbs={[...crumbs, { label: t('settings.mailServers'), to: SERVERS }, { label: t('common.delete') }]} title={t('serverDelete.title')}>
      <ErrorBanner error={loadError} />
      {server ? (
        server.preset ? (
          <div className="preset-not-deletable">
            <div className="banner banner-error" role="alert">
              <p>{msg('error.presetDelete')}</p>
            </div>
            <div className="buttons">{back}</div>
          </div>
        ) : users.length ? (
          <div className="in-use" data-testid="server-in-use">
            {/* the API's message says the same as this paragraph: shown once */}
            <p role="alert">{t('serverDelete.inUse')}</p>
            <ul>
              {users.map((a) => (
                <li key={a.id}>
                  <Link to={`${ACCOUNTS}/${a.id}`}>{a.address}</Link>
                </li>
              ))}
            </ul>
            <div className="buttons">{back}</div>
          </div>
        ) : (
          <div className="confirm">
            <ErrorBanner error={error} />
            <p className="confirm-question">{t('serverDelete.confirm', { name: server.name })}</p>
            <div className="buttons">
              <button type="button" className="danger" onClick={yes} disabled={busy}>
                {t('common.yes')}
              </button>
              <button type="button" onClick={() => navigate(SERVERS)}>
                {t('common.no')}
              </button>
            </div>
          </div>
        )
      ) : null}
    </Page>
  );
}
