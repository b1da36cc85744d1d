// システム設定 › 全般: the 基本設定 section (メールサーバー, メールアカウント, OAuth 2.0), the
// 通知 section (受信停止の通知) and the ログ section (監査ログ).
import { Link } from 'react-router';
import { ACCOUNTS, AUDIT, OAUTH, Page, SERVERS, useSettingsCrumbs } from '../components/layout.tsx';
import { useI18n } from '../i18n/i18n.tsx';
import { NOTIFICATIONS } from './settings-notifications.tsx';

export function SettingsGeneralPage() {
  const { t } = useI18n();
  const crumbs = useSettingsCrumbs();
  return (
    <Page crumbs={crumbs} title={t('settings.general')}>
      <section className="settings-section" aria-labelledby="basic">
        <h2 id="basic">{t('settings.section.basic')}</h2>
        <dl className="settings-links">
          <dt>
            <Link to={SERVERS}>{t('settings.mailServers')}</Link>
          </dt>
          <dd>{t('settings.mailServers.desc')}</dd>
          <dt>
            <Link to={ACCOUNTS}>{t('settings.mailAccounts')}</Link>
          </dt>
          <dd>{t('settings.mailAccounts.desc')}</dd>
          <dt>
            <Link to={OAUTH}>{t('settings.oauth')}</Link>
          </dt>
          <dd>{t('settings.oauth.desc')}</dd>
        </dl>
      </section>
      <section className="settings-section" aria-labelledby="notifications">
        <h2 id="notifications">{t('settings.section.notifications')}</h2>
        <dl className="settings-links">
          <dt>
            <Link to={NOTIFICATIONS}>{t('settings.notifications')}</Link>
          </dt>
          <dd>{t('settings.notifications.desc')}</dd>
        </dl>
      </section>
      <section className="settings-section" aria-labelledby="logs">
        <h2 id="logs">{t('settings.section.logs')}</h2>
        <dl className="settings-links">
          <dt>
            <Link to={AUDIT}>{t('settings.auditLog')}</Link>
          </dt>
          <dd>{t('settings.auditLog.desc')}</dd>
        </dl>
      </section>
    </Page>
  );
}
