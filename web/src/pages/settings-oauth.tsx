// システム設定 › 全般 › OAuth 2.0: the OAuth client Yubin is registered as with Google and
// Microsoft (client ID, client secret — write-only —, the Microsoft tenant), the redirect
// URI to register there, and the endpoints (the providers' own by default).
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client.ts';
import type { OAuthProvider } from '../api/types.ts';
import { ErrorBanner, Form, Notice, Row, useFieldId } from '../components/form.tsx';
import { Page, useSettingsCrumbs } from '../components/layout.tsx';
import { useLoad } from '../components/use-load.ts';
import { useI18n } from '../i18n/i18n.tsx';

const ENDPOINTS = ['authorization', 'token', 'issuer', 'discovery', 'revocation', 'introspection'] as const;
const SHOWN = ['clientId', 'clientSecret', 'tenant', ...ENDPOINTS.map((e) => `endpoints.${e}`)];

export function SettingsOAuthPage() {
  const { t } = useI18n();
  const crumbs = useSettingsCrumbs();
  const { data, error, reload } = useLoad(() => api<{ items: OAuthProvider[]; redirectUri: string }>('GET', '/api/v1/oauth-providers'), []);
  return (
    <Page crumbs={[...crumbs, { label: t('settings.oauth') }]} title={t('settings.oauth')}>
      <ErrorBanner error={error} />
      <p className="hint">{t('oauthSettings.lead')}</p>
      {data ? (
        <>
          <dl className="facts">
            <dt>{t('oauthSettings.redirectUri')}</dt>
            <dd>
              <code data-testid="redirect-uri">{data.redirectUri}</code>
            </dd>
          </dl>
          {data.items.map((p) => (
            <ProviderForm key={p.preset} provider={p} onSaved={reload} />
          ))}
        </>
      ) : null}
    </Page>
  );
}

function ProviderForm({ provider, onSaved }: { provider: OAuthProvider; onSaved: () => void }) {
  const { t, field } = useI18n();
  const [clientId, setClientId] = useState(provider.clientId);
  const [secret, setSecret] = useState('');
  const [tenant, setTenant] = useState(provider.tenant ?? '');
  const [endpoints, setEndpoints] = useState<Record<string, string>>(Object.fromEntries(ENDPOINTS.map((e) => [e, provider.endpointOverrides[e] ?? ''])));
  const [error, setError] = useState<ApiError | undefined>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const ids = { clientId: useFieldId(`${provider.preset}-clientId`), secret: useFieldId(`${provider.preset}-secret`), tenant: useFieldId(`${provider.preset}-tenant`) };
  const err = (path: string) => error?.field(path);
  // an endpoint's error must not stay hidden in the folded endpoints
  const endpointsBox = useRef<HTMLDetailsElement>(null);
  useEffect(() => {
    if (endpointsBox.current && error?.fields.some((f) => f.path.startsWith('endpoints.'))) endpointsBox.current.open = true;
  }, [error]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setSaved(false);
    try {
      const body: Record<string, unknown> = {
        clientId,
        endpoints: Object.fromEntries(ENDPOINTS.map((n) => [n, endpoints[n]?.trim() ? endpoints[n] : null])),
      };
      if (secret !== '') body.clientSecret = secret;
      if (provider.preset === 'exchange_online') body.tenant = tenant;
      await api<OAuthProvider>('PUT', `/api/v1/oauth-providers/${provider.preset}`, body);
      setError(undefined);
      setSecret('');
      setSaved(true);
      onSaved();
    } catch (e2) {
      setError(e2 instanceof ApiError ? e2 : new ApiError(0, 'ERROR', String(e2)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="settings-section" aria-labelledby={`oauth-${provider.preset}`} data-testid={`oauth-provider-${provider.preset}`}>
      <h2 id={`oauth-${provider.preset}`}>
        {provider.name}{' '}
        <span className={`status status-${provider.configured ? 'ok' : 'muted'}`}>{provider.configured ? t('oauthSettings.configured') : t('oauthSettings.notConfigured')}</span>
      </h2>
      <Form error={error} onSubmit={submit} noValidate>
        <ErrorBanner error={error} shownPaths={SHOWN} otherLabel={t('serverForm.otherErrors')} />
        {saved ? <Notice kind="success">{t('oauthSettings.saved')}</Notice> : null}
        <Row path="clientId" label={field('clientId')} htmlFor={ids.clientId} error={err('clientId')} required>
          <input id={ids.clientId} autoComplete="off" value={clientId} onChange={(e) => setClientId(e.target.value)} aria-invalid={err('clientId') ? true : undefined} />
        </Row>
        <Row path="clientSecret" label={field('clientSecret')} htmlFor={ids.secret} error={err('clientSecret')} help={provider.hasClientSecret ? t('oauthSettings.secretKeep') : t('oauthSettings.secretHelp')}>
          <input id={ids.secret} type="password" autoComplete="new-password" value={secret} onChange={(e) => setSecret(e.target.value)} aria-invalid={err('clientSecret') ? true : undefined} />
        </Row>
        {provider.preset === 'exchange_online' ? (
          <Row path="tenant" label={field('tenant')} htmlFor={ids.tenant} error={err('tenant')} help={t('oauthSettings.tenantHelp')}>
            <input id={ids.tenant} autoComplete="off" value={tenant} onChange={(e) => setTenant(e.target.value)} aria-invalid={err('tenant') ? true : undefined} />
          </Row>
        ) : null}
        <dl className="facts">
          <dt>{t('oauthSettings.scopes')}</dt>
          <dd>
            <code>{provider.scopes.join(' ')}</code>
          </dd>
        </dl>
        <details ref={endpointsBox}>
          <summary>{t('oauthSettings.endpoints')}</summary>
          {ENDPOINTS.map((n) => (
            <Row key={n} path={`endpoints.${n}`} label={field(`endpoints.${n}`)} htmlFor={`${provider.preset}-ep-${n}`} error={err(`endpoints.${n}`)}>
              <input
                id={`${provider.preset}-ep-${n}`}
                autoComplete="off"
                placeholder={provider.endpoints[n] ?? ''}
                value={endpoints[n] ?? ''}
                onChange={(e) => setEndpoints((x) => ({ ...x, [n]: e.target.value }))}
              />
            </Row>
          ))}
        </details>
        <div className="buttons">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? t('common.working') : t('oauthSettings.save')}
          </button>
        </div>
      </Form>
    </section>
  );
}
