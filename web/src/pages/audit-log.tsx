// システム設定 › 全般 › 監査ログ: who changed what and when, newest first (GET
// /audit-log with its cursor for さらに表示). Never shows a secret: the API keeps
// only field names.
import { useState } from 'react';
import { Link } from 'react-router';
import { api, ApiError, qs } from '../api/client.ts';
import type { AuditEntry, Page as ApiPage } from '../api/types.ts';
import { ErrorBanner } from '../components/form.tsx';
import { ACCOUNTS, OAUTH, Page, SERVERS, useSettingsCrumbs } from '../components/layout.tsx';
import { useLoad } from '../components/use-load.ts';
import { useI18n, type UiKey } from '../i18n/i18n.tsx';
import { ja } from '../i18n/ja.ts';

export const AUDIT_PAGE_SIZE = 100;

/** Who did it, as the audit log and the suppression list show it: an administrator's name, an API token, the CLI, a recipient. */
export function actorLabel(t: ReturnType<typeof useI18n>['t'], a: string): string {
  if (a.startsWith('admin:')) return a.slice('admin:'.length);
  if (a.startsWith('token:')) return t('audit.actor.token', { name: a.slice('token:'.length) });
  if (a === 'cli' || a === 'setup' || a === 'recipient') return t(`audit.actor.${a}`);
  return a;
}

export function AuditLogPage() {
  const { t, field, dateTime, lang } = useI18n();
  const crumbs = useSettingsCrumbs();
  const { data: first, error } = useLoad(() => api<ApiPage<AuditEntry>>('GET', '/api/v1/audit-log' + qs({ limit: AUDIT_PAGE_SIZE })), []);
  const [more, setMore] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [moreError, setMoreError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const next = cursor === undefined ? first?.nextCursor : cursor;
  const items = [...(first?.items ?? []), ...more];

  async function loadMore() {
    if (!next) return;
    setBusy(true);
    try {
      const page = await api<ApiPage<AuditEntry>>('GET', '/api/v1/audit-log' + qs({ limit: AUDIT_PAGE_SIZE, cursor: next }));
      setMore((m) => [...m, ...page.items]);
      setCursor(page.nextCursor);
    } catch (e) {
      setMoreError(e instanceof ApiError ? e : undefined);
    } finally {
      setBusy(false);
    }
  }

  const actor = (a: string) => actorLabel(t, a);
  const action = (a: string) => {
    const key = `audit.action.${a}`;
    return key in ja ? t(key as UiKey) : a;
  };
  const target = (e: AuditEntry) => {
    const name = e.targetName ?? e.targetId ?? '';
    if (!e.targetId || e.action.endsWith('.delete')) return name;
    if (e.targetType === 'mail_server') return <Link to={`${SERVERS}/${e.targetId}/edit`}>{name}</Link>;
    if (e.targetType === 'mail_account') return <Link to={`${ACCOUNTS}/${e.targetId}`}>{name}</Link>;
    if (e.targetType === 'oauth_provider') return <Link to={OAUTH}>{name}</Link>;
    return name;
  };

  return (
    <Page crumbs={[...crumbs, { label: t('settings.auditLog') }]} title={t('audit.title')}>
      <ErrorBanner error={error ?? moreError} />
      {first ? (
        items.length ? (
          <table className="list audit-table" data-testid="audit-log">
            <thead>
              <tr>
                <th scope="col">{t('audit.col.at')}</th>
                <th scope="col">{t('audit.col.actor')}</th>
                <th scope="col">{t('audit.col.action')}</th>
                <th scope="col">{t('audit.col.target')}</th>
                <th scope="col">{t('audit.col.fields')}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.id} data-action={e.action}>
                  <td className="date">{dateTime(e.at)}</td>
                  <td>{actor(e.actor)}</td>
                  <td>{action(e.action)}</td>
                  <td>{target(e)}</td>
                  <td className="audit-fields">{e.fields.map((f) => field(f)).join(lang === 'ja' ? '、' : ', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="empty">{t('audit.empty')}</p>
        )
      ) : null}
      {next ? (
        <div className="buttons">
          <button type="button" onClick={loadMore} disabled={busy}>
            {t('audit.more')}
          </button>
        </div>
      ) : null}
    </Page>
  );
}
