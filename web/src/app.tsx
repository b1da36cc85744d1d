// Routes. Everything but /signin and /setup needs a signed-in administrator.
import { Navigate, Outlet, Route, Routes, useLocation } from 'react-router';
import { Header, SettingsLayout } from './components/layout.tsx';
import { useI18n } from './i18n/i18n.tsx';
import { AuditLogPage } from './pages/audit-log.tsx';
import { BulkNewPage } from './pages/bulk-new.tsx';
import { BulkProgressPage } from './pages/bulk-progress.tsx';
import { BulkSuppressionsPage } from './pages/bulk-suppressions.tsx';
import { MailAccountDeletePage } from './pages/mail-account-delete.tsx';
import { MailAccountDetailPage } from './pages/mail-account-detail.tsx';
import { MailAccountFormPage } from './pages/mail-account-form.tsx';
import { MailAccountsPage } from './pages/mail-accounts.tsx';
import { MailServerDeletePage } from './pages/mail-server-delete.tsx';
import { MailServerFormPage } from './pages/mail-server-form.tsx';
import { MailServerOrderPage } from './pages/mail-server-order.tsx';
import { MailServersPage } from './pages/mail-servers.tsx';
import { MailPage } from './pages/mail.tsx';
import { MessagePage } from './pages/message.tsx';
import { SettingsGeneralPage } from './pages/settings-general.tsx';
import { SettingsOAuthPage } from './pages/settings-oauth.tsx';
import { NotificationSettingsPage } from './pages/settings-notifications.tsx';
import { SetupPage, SignInPage } from './pages/sign-in.tsx';
import { useSession } from './session.tsx';

function RequireSignIn() {
  const { info } = useSession();
  const { t } = useI18n();
  const location = useLocation();
  if (!info) return <p className="loading">{t('common.loading')}</p>;
  if (!info.signedIn) return <Navigate to={`/signin?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return <Outlet />;
}

function NotFound() {
  const { t } = useI18n();
  return <p className="page">{t('common.notFound')}</p>;
}

export function App() {
  return (
    <>
      <Header />
      <main>
        <Routes>
          <Route path="/signin" element={<SignInPage />} />
          <Route path="/setup" element={<SetupPage />} />
          <Route element={<RequireSignIn />}>
            <Route index element={<Navigate to="/mail" replace />} />
            <Route path="mail" element={<MailPage />} />
            <Route path="mail/:id" element={<MessagePage />} />
            <Route path="bulk" element={<BulkNewPage />} />
            <Route path="bulk/suppressions" element={<BulkSuppressionsPage />} />
            <Route path="bulk/:id" element={<BulkProgressPage />} />
            <Route path="settings" element={<SettingsLayout />}>
              <Route index element={<Navigate to="general" replace />} />
              <Route path="general" element={<SettingsGeneralPage />} />
              <Route path="general/mail-servers" element={<MailServersPage />} />
              <Route path="general/mail-servers/new" element={<MailServerFormPage />} />
              <Route path="general/mail-servers/order" element={<MailServerOrderPage />} />
              <Route path="general/mail-servers/:id/edit" element={<MailServerFormPage />} />
              <Route path="general/mail-servers/:id/delete" element={<MailServerDeletePage />} />
              <Route path="general/mail-accounts" element={<MailAccountsPage />} />
              <Route path="general/mail-accounts/new" element={<MailAccountFormPage />} />
              <Route path="general/mail-accounts/:id" element={<MailAccountDetailPage />} />
              <Route path="general/mail-accounts/:id/edit" element={<MailAccountFormPage />} />
              <Route path="general/mail-accounts/:id/delete" element={<MailAccountDeletePage />} />
              <Route path="general/audit-log" element={<AuditLogPage />} />
              <Route path="general/oauth" element={<SettingsOAuthPage />} />
              <Route path="general/notifications" element={<NotificationSettingsPage />} />
            </Route>
            <Route path="*" element={<NotFound />} />
          </Route>
        </Routes>
      </main>
    </>
  );
}
