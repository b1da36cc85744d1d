// 削除する for a mail account: the confirmation (はい / いいえ).
import { useState } from 'react';
import { useNavigate, useParams } from 'react-router';
import { api, ApiError } from '../api/client.ts';
import type { MailAccount, ReceiveStatus } from '../api/types.ts';
import { ErrorBanner } from '../components/form.tsx';
import { ACCOUNTS, Page, useSettingsCrumbs } from '../components/layout.tsx';
import { useLoad } from '../components/use-load.ts';
import { useI18n } from '../i18n/i18n.tsx';

export function MailAccountDeletePage() {
  const { id = '' } = useParams();
  const { t } = useI18n();
  const crumbs = useSettingsCrumbs();
  const navigate = useNavigate();
  const { data: account, error: loadError } = useLoad(() => api<MailAccount>('GET', `/api/v1/mail-accounts/${encodeURIComponent(id)}`), [id]);
  // what goes with it: the received mail in the shared store is deleted too
  const { data: status } = useLoad(() => api<ReceiveStatus>('GET', `/api/v1/mail-accounts/${encodeURIComponent(id)}/status`), [id]);
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);

  async function yes() {
    setBusy(true);
    try {
      await api('DELETE', `/api/v1/mail-accounts/${encodeURIComponent(id)}`);
      navigate(ACCOUNTS);
    } catch (e) {
      setError(e instanceof ApiError ? e : undefined);
      setBusy(false);
    }
  }

  return (
    <Page crumbs={[...crumbs, { label: t('settings.mailAccounts'), to: ACCOUNTS }, { label: t('common.delete') }]} title={t('accountDelete.title')}>
      <ErrorBanner error={loadError ?? error} />
      {account ? (
        <div className="confirm">
          <p className="confirm-question">{t('accountDelete.confirm', { name: `${account.displayName} <${account.address}>` })}</p>
          {status ? (
            <p className="status-note error-text" data-testid="delete-consequences">
              {t('accountDelete.consequences', { count: status.messagesStored.toLocaleString() })}
            </p>
          ) : null}
          <div className="buttons">
            <button type="button" className="danger" onClick={yes} disabled={busy}>
              {t('common.yes')}
            </button>
            <button type="button" onClick={() => navigate(ACCOUNTS)}>
              {t('common.no')}
            </button>
          </div>
        </div>
      ) : null}
    </Page>
  );
}
