// システム設定 › 全般 › 監査ログ: who changed what and when, newest first (GET
// /audit-log with its cursor for さらに表示). Never shows a secret: the API keeps
// only field names.
import { Link } from 'react-router';
import type { AuditEntry } from '../api/types.ts';
import { ErrorBanner } from '../components/form.tsx';
import { ACCOUNTS, OAUTH, Page, SERVERS, useSettingsCrumbs } from '../components/layout.tsx';
import { MoreButton } from '../components/pager.tsx';
import { useMorePages } from '../components/use-pages.ts';
import { useI18n, type UiKey } from '../i18n/i18n.tsx';
import { ja } from '../i18n/ja.ts';
import { BULK } from './bulk-progress.tsx';

export const AUDIT_PAGE_SIZE = 100;

/** Who did it, as the audit log and the suppression list show it: an administrator's name, an API token, the CLI, a recipient. */
export function actorLabel(t: ReturnType<typeof useI18n>['t'], a: string): string {
  if (a.startsWith('admin:')) return a.slice('admin:'.length);
  if (a.startsWith('token:')) return t('audit.actor.token', { name: a.slice('token:'.length) });
  if (a === 'cli' || a === 'setup' || a === 'recipient') return t(`audit.actor.${a}`);
  // the CLI records the system user who ran it: cli:root
  if (a.startsWith('cli:')) return t('audit.actor.cliUser', { user: a.slice('cli:'.length) });
  return a;
}

export function AuditLogPage() {
  const { t, field, dateTime, lang } = useI18n();
  const crumbs = useSettingsCrumbs();
  const list = useMorePages<AuditEntry>('/api/v1/audit-log', AUDIT_PAGE_SIZE);
  const items = list.items;

  const actor = (a: string) => actorLabel(t, a);
  const action = (a: string) => {
    const key = `audit.action.${a}`;
    return key in ja ? t(key as UiKey) : a;
  };
  const target = (e: AuditEntry) => {
    // the suppression list's entries name how many addresses, in English ("2 addresses")
    const count = e.targetType === 'suppression' ? /^(\d+) addresses$/.exec(e.targetName ?? '')?.[1] : undefined;
    const name = count !== undefined ? t('audit.target.addresses', { count: Number(count) }) : (e.targetName ?? e.targetId ?? '');
    if (!e.targetId || e.action.endsWith('.delete')) return name;
    if (e.targetType === 'mail_server') return <Link to={`${SERVERS}/${e.targetId}/edit`}>{name}</Link>;
    if (e.targetType === 'mail_account') return <Link to={`${ACCOUNTS}/${e.targetId}`}>{name}</Link>;
    if (e.targetType === 'oauth_provider') return <Link to={OAUTH}>{name}</Link>;
    if (e.targetType === 'bulk_delivery') return <Link to={`${BULK}/${e.targetId}`}>{name}</Link>;
    return name;
  };

  return (
    <Page crumbs={[...crumbs, { label: t('settings.auditLog') }]} title={t('audit.title')}>
      <ErrorBanner error={list.error} />
      {list.loaded ? (
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
      <MoreButton list={list} />
    </Page>
  );
}
