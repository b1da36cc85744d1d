// OAuth 2.0 of a mail account on Gmail or Exchange Online: the status badge (接続済み /
// 未接続 / 再認証が必要) for the account list, and the account page's section with the
// reason and the button that starts the authorization at the provider (a plain link: the
// server answers with a redirect to Google or Microsoft, which comes back to Yubin's
// callback and then to this page with ?oauth=connected or ?oauth=error&problem=…, which the
// page shows once and takes out of the address).
import { useEffect, useState } from 'react';
import { useSearchParams } from 'react-router';
import type { MailAccount, MailServer } from '../api/types.ts';
import { Notice } from '../components/form.tsx';
import { useI18n } from '../i18n/i18n.tsx';

type OAuthStatus = MailAccount['oauth']['status'];
const KIND: Record<OAuthStatus, string> = { connected: 'ok', not_connected: 'muted', reauthorize: 'error' };

export function OAuthBadge({ account, server }: { account: MailAccount; server: MailServer | undefined }) {
  const { t } = useI18n();
  if (!server?.preset) return null;
  const status = account.oauth.status;
  return (
    <span className={`status status-${KIND[status]} oauth-badge`} data-oauth={status}>
      {t(`oauth.status.${status}`)}
    </span>
  );
}

/** The provider's reason for re-authorization, in the reader's language. */
function useReason(account: MailAccount): string | null {
  const { msg } = useI18n();
  if (account.oauth.status !== 'reauthorize') return null;
  return msg(`oauth.error.${account.oauth.errorCode ?? 'invalid_grant'}`);
}

const CALLBACK_PARAMS = ['oauth', 'problem', 'detail'];

/**
 * What came back from the provider (the callback's redirect to this page). Read once, then
 * taken out of the address (replacing the history entry), so that a reload or a bookmark does
 * not announce it again.
 */
function useCallbackResult(): { ok: boolean; text: string } | null {
  const [params, setParams] = useSearchParams();
  const [callback] = useState(() => ({ outcome: params.get('oauth'), problem: params.get('problem'), detail: params.get('detail') }));
  useEffect(() => {
    if (!CALLBACK_PARAMS.some((name) => params.has(name))) return;
    const rest = new URLSearchParams(params);
    for (const name of CALLBACK_PARAMS) rest.delete(name);
    setParams(rest, { replace: true });
  }, [params, setParams]);
  const { t, msg } = useI18n();
  const outcome = callback.outcome;
  if (outcome === 'connected') return { ok: true, text: t('oauth.connected') };
  if (outcome !== 'error') return null;
  const problem = callback.problem ?? 'state';
  const detail = callback.detail ?? '';
  const text =
    problem === 'start'
      ? detail // why connecting could not start, already in the UI's language (the server's message)
      : problem === 'state'
        ? msg('oauth.stateInvalid')
        : problem === 'session'
          ? msg('oauth.sessionMismatch')
          : problem === 'access_denied'
            ? t('oauth.accessDenied')
            : ['invalid_grant', 'consent_required', 'admin_consent_required', 'interaction_required', 'invalid_client'].includes(problem)
              ? `${msg(`oauth.error.${problem}`)}${detail ? ` (${detail})` : ''}`
              : msg('oauth.denied', { error: detail || problem });
  return { ok: false, text };
}

export function OAuthSection({ account, server }: { account: MailAccount; server: MailServer | undefined }) {
  const { t } = useI18n();
  const reason = useReason(account);
  const result = useCallbackResult();
  if (!server?.preset) return null;
  const status = account.oauth.status;
  const start = `/api/v1/mail-accounts/${encodeURIComponent(account.id)}/oauth/start`;
  return (
    <section aria-labelledby="oauth" data-testid="oauth-section">
      <h2 id="oauth">{t('oauth.title')}</h2>
      {result ? <Notice kind={result.ok ? 'success' : 'warning'}>{result.text}</Notice> : null}
      <p>
        <OAuthBadge account={account} server={server} />
      </p>
      {reason ? (
        <p className="status-note error-text" data-testid="oauth-reason">
          {reason}
          {account.oauth.errorDescription ? <span className="details"> ({account.oauth.errorDescription})</span> : null}
        </p>
      ) : null}
      {status === 'not_connected' ? <p className="hint">{t('oauth.connectLead')}</p> : null}
      <p className="buttons">
        <a className={status === 'connected' ? 'button-link' : 'button-link primary'} href={start} data-testid="oauth-start">
          {status === 'reauthorize' ? t('oauth.reauthorize') : status === 'connected' ? t('oauth.reconnect') : t(`oauth.connect.${server.preset}`)}
        </a>
      </p>
    </section>
  );
}
