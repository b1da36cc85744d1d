// システム設定 › 全般 › 通知: which mail account sends the stall notifications and to whom
// (GET/PUT /api/v1/settings/notifications). Recipients are one address per line; the API's
// field errors (recipients.N, accountId) show next to their field.
import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client.ts';
import type { MailAccount } from '../api/types.ts';
import { ErrorBanner, Form, Notice, Row, useFieldId } from '../components/form.tsx';
import { Page, SETTINGS, useSettingsCrumbs } from '../components/layout.tsx';
import { useLoad } from '../components/use-load.ts';
import { useI18n } from '../i18n/i18n.tsx';

interface NotificationSettings {
  accountId: string | null;
  recipients: string[];
}

export const NOTIFICATIONS = `${SETTINGS}/notifications`;

export function NotificationSettingsPage() {
  const { t, field } = useI18n();
  const crumbs = useSettingsCrumbs();
  const { data, error: loadError } = useLoad(async () => {
    const [settings, accounts] = await Promise.all([
      api<NotificationSettings>('GET', '/api/v1/settings/notifications'),
      api<{ items: MailAccount[] }>('GET', '/api/v1/mail-accounts'),
    ]);
    return { settings, accounts: accounts.items };
  }, []);
  const [accountId, setAccountId] = useState('');
  const [recipients, setRecipients] = useState('');
  const [error, setError] = useState<ApiError | undefined>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const ids = { account: useFieldId('accountId'), recipients: useFieldId('recipients') };

  useEffect(() => {
    if (!data) return;
    setAccountId(data.settings.accountId ?? '');
    setRecipients(data.settings.recipients.join('\n'));
  }, [data]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setSaved(false);
    setError(undefined);
    const list = recipients
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter(Boolean);
    try {
      const next = await api<NotificationSettings>('PUT', '/api/v1/settings/notifications', { accountId: accountId || null, recipients: list });
      setRecipients(next.recipients.join('\n'));
      setSaved(true);
    } catch (e2) {
      setError(e2 instanceof ApiError ? e2 : new ApiError(0, 'ERROR', String(e2)));
    } finally {
      setBusy(false);
    }
  }

  const recipientErrors = error?.fields.filter((f) => f.path === 'recipients' || f.path.startsWith('recipients.')).map((f) => f.message) ?? [];
  return (
    <Page crumbs={[...crumbs, { label: t('settings.notifications') }]} title={t('settings.notifications')}>
      <p className="lead">{t('notifications.lead')}</p>
      <ErrorBanner error={loadError} />
      {data ? (
        <Form error={error} onSubmit={submit} noValidate data-testid="notification-settings">
          <ErrorBanner error={error} shownPaths={['accountId', 'recipients', ...(error?.fields.map((f) => f.path).filter((p) => p.startsWith('recipients.')) ?? [])]} />
          {saved ? <Notice kind="success">{t('notifications.saved')}</Notice> : null}
          <Row path="accountId" label={t('notifications.account')} htmlFor={ids.account} error={error?.field('accountId')} help={t('notifications.accountHelp')}>
            <select id={ids.account} value={accountId} onChange={(e) => setAccountId(e.target.value)} {...(error?.field('accountId') ? { 'aria-invalid': true as const } : {})}>
              <option value="">{t('notifications.off')}</option>
              {data.accounts.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.displayName} &lt;{a.address}&gt;
                </option>
              ))}
            </select>
          </Row>
          <Row path="recipients" label={field('recipients')} htmlFor={ids.recipients} error={recipientErrors.length ? recipientErrors.join('\n') : undefined} help={t('notifications.recipientsHelp')}>
            <textarea id={ids.recipients} rows={4} value={recipients} onChange={(e) => setRecipients(e.target.value)} {...(recipientErrors.length ? { 'aria-invalid': true as const } : {})} />
          </Row>
          <div className="buttons">
            <button type="submit" className="primary" disabled={busy}>
              {busy ? t('common.working') : t('common.save')}
            </button>
          </div>
        </Form>
      ) : loadError ? null : (
        <p>{t('common.loading')}</p>
      )}
    </Page>
  );
}
