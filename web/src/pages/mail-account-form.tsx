// 追加する / 変更する for a mail account: its mail server and credentials, and the
// leave-on-server choice (削除する / N日後に削除 / 無期限) with the seed's warning.
// Passwords are write-only: blank on 変更する keeps the stored one.
import { useEffect, useState, type FormEvent } from 'react';
import { useNavigate, useParams } from 'react-router';
import { api, ApiError } from '../api/client.ts';
import type { MailAccount, MailAccountInput, MailServer } from '../api/types.ts';
import { ErrorBanner, Form, Notice, Row, useFieldId } from '../components/form.tsx';
import { ACCOUNTS, Page, useSettingsCrumbs } from '../components/layout.tsx';
import { useI18n } from '../i18n/i18n.tsx';

type LeaveMode = 'delete' | 'days' | 'forever';
interface AccountForm {
  displayName: string;
  address: string;
  fromName: string;
  serverId: string;
  username: string;
  password: string;
  smtpUsername: string;
  smtpPassword: string;
  leaveMode: LeaveMode;
  leaveDays: string;
  receiveIntervalMinutes: string;
  enabled: boolean;
}

const EMPTY: AccountForm = {
  displayName: '',
  address: '',
  fromName: '',
  serverId: '',
  username: '',
  password: '',
  smtpUsername: '',
  smtpPassword: '',
  leaveMode: 'delete',
  leaveDays: '14',
  receiveIntervalMinutes: '5',
  enabled: true,
};

function fromAccount(a: MailAccount): AccountForm {
  return {
    displayName: a.displayName,
    address: a.address,
    fromName: a.fromName,
    serverId: a.serverId,
    username: a.username,
    password: '',
    smtpUsername: a.smtpUsername ?? '',
    smtpPassword: '',
    leaveMode: a.leaveOnServer.mode,
    leaveDays: String(a.leaveOnServer.days ?? 14),
    receiveIntervalMinutes: String(a.receiveIntervalMinutes),
    enabled: a.enabled,
  };
}

function num(raw: string): number | string {
  const v = raw.trim();
  return /^-?\d+$/.test(v) ? Number(v) : raw;
}

/** Whether the server's SMTP authentication needs the account's own SMTP credentials. */
function needsSmtpCredentials(server: MailServer | undefined): boolean {
  return !!server && server.outgoing.auth.mechanism !== null && !server.outgoing.auth.useAccountCredentials;
}

function toBody(f: AccountForm, server: MailServer | undefined, change: boolean): Record<string, unknown> {
  const smtp = needsSmtpCredentials(server);
  const body: Record<string, unknown> = {
    displayName: f.displayName,
    serverId: f.serverId,
    address: f.address,
    fromName: f.fromName,
    username: f.username,
    leaveOnServer: f.leaveMode === 'days' ? { mode: 'days', days: num(f.leaveDays) } : { mode: f.leaveMode },
    receiveIntervalMinutes: num(f.receiveIntervalMinutes),
    enabled: f.enabled,
    smtpUsername: smtp ? f.smtpUsername : null,
  };
  // presets sign in with OAuth 2.0: no password; Gmail not even a user name (the address is used)
  if (server?.preset === 'gmail') delete body.username;
  if (server?.preset) return body;
  if (!change || f.password !== '') body.password = f.password;
  if (!smtp) body.smtpPassword = null;
  else if (!change || f.smtpPassword !== '') body.smtpPassword = f.smtpPassword;
  return body;
}

const SHOWN = [
  'displayName',
  'address',
  'fromName',
  'serverId',
  'username',
  'password',
  'smtpUsername',
  'smtpPassword',
  'leaveOnServer',
  'leaveOnServer.mode',
  'leaveOnServer.days',
  'receiveIntervalMinutes',
  'enabled',
];

export function MailAccountFormPage() {
  const { id } = useParams();
  const { t, field } = useI18n();
  const crumbs = useSettingsCrumbs();
  const navigate = useNavigate();
  const [servers, setServers] = useState<MailServer[] | undefined>();
  const [form, setForm] = useState<AccountForm | undefined>(id ? undefined : EMPTY);
  const [original, setOriginal] = useState<MailAccount | undefined>();
  const [loadError, setLoadError] = useState<ApiError | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const ids = {
    displayName: useFieldId('displayName'),
    address: useFieldId('address'),
    fromName: useFieldId('fromName'),
    serverId: useFieldId('serverId'),
    username: useFieldId('username'),
    password: useFieldId('password'),
    smtpUsername: useFieldId('smtpUsername'),
    smtpPassword: useFieldId('smtpPassword'),
    days: useFieldId('days'),
    interval: useFieldId('interval'),
  };

  useEffect(() => {
    const fail = (e: unknown) => setLoadError(e instanceof ApiError ? e : undefined);
    api<{ items: MailServer[] }>('GET', '/api/v1/mail-servers').then((r) => setServers(r.items), fail);
    if (id)
      api<MailAccount>('GET', `/api/v1/mail-accounts/${encodeURIComponent(id)}`).then((a) => {
        setOriginal(a);
        setForm(fromAccount(a));
      }, fail);
  }, [id]);

  const server = servers?.find((s) => s.id === form?.serverId);
  // a connected (or to be re-authorized) OAuth grant is for this address at this provider:
  // the server drops it when either changes (letter case aside)
  const disconnects =
    !!original &&
    !!form &&
    original.oauth.status !== 'not_connected' &&
    (form.address.trim().toLowerCase() !== original.address.toLowerCase() || (server?.preset ?? null) !== (servers?.find((s) => s.id === original.serverId)?.preset ?? null));
  const title = id ? t('accountForm.changeTitle') : t('accountForm.addTitle');
  const err = (path: string) => error?.field(path);
  const invalid = (path: string) => (err(path) ? { 'aria-invalid': true as const } : {});
  const set = (patch: Partial<AccountForm>) => setForm((f) => (f ? { ...f, ...patch } : f));

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!form) return;
    setBusy(true);
    try {
      const saved = id
        ? await api<MailAccount>('PATCH', `/api/v1/mail-accounts/${encodeURIComponent(id)}`, toBody(form, server, true))
        : await api<MailAccount>('POST', '/api/v1/mail-accounts', toBody(form, server, false) as MailAccountInput);
      navigate(`${ACCOUNTS}/${saved.id}`);
    } catch (e2) {
      setError(e2 instanceof ApiError ? e2 : new ApiError(0, 'ERROR', String(e2)));
      setBusy(false);
      window.scrollTo({ top: 0 });
    }
  }

  return (
    <Page crumbs={[...crumbs, { label: t('settings.mailAccounts'), to: ACCOUNTS }, { label: id ? t('common.change') : t('common.add') }]} title={title}>
      <ErrorBanner error={loadError} />
      {form && servers ? (
        <Form error={error} onSubmit={submit} noValidate>
          <ErrorBanner error={error} shownPaths={SHOWN} otherLabel={t('serverForm.otherErrors')} />
          <Row path="displayName" label={field('displayName')} htmlFor={ids.displayName} error={err('displayName')} required>
            <input id={ids.displayName} value={form.displayName} onChange={(e) => set({ displayName: e.target.value })} {...invalid('displayName')} />
          </Row>
          <Row path="address" label={field('address')} htmlFor={ids.address} error={err('address')} required>
            <input id={ids.address} inputMode="email" autoComplete="off" value={form.address} onChange={(e) => set({ address: e.target.value })} {...invalid('address')} />
          </Row>
          {disconnects ? (
            <div data-testid="oauth-disconnects">
              <Notice kind="warning">{t('accountForm.oauthDisconnects')}</Notice>
            </div>
          ) : null}
          <Row path="fromName" label={field('fromName')} htmlFor={ids.fromName} error={err('fromName')}>
            <input id={ids.fromName} value={form.fromName} onChange={(e) => set({ fromName: e.target.value })} {...invalid('fromName')} />
          </Row>
          <Row path="serverId" label={field('serverId')} htmlFor={ids.serverId} error={err('serverId')} required>
            <select id={ids.serverId} value={form.serverId} onChange={(e) => set({ serverId: e.target.value })} {...invalid('serverId')}>
              <option value="">{t('accountForm.selectServer')}</option>
              {servers.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          </Row>
          {server?.preset ? <Notice>{t(server.preset === 'gmail' ? 'accountForm.oauthGmail' : 'accountForm.oauthExchange')}</Notice> : null}
          {server?.preset !== 'gmail' ? (
            <Row
              path="username"
              label={field('username')}
              htmlFor={ids.username}
              error={err('username')}
              required
              help={server?.preset === 'exchange_online' ? t('accountForm.exchangeUsername') : undefined}
            >
              <input id={ids.username} autoComplete="off" value={form.username} onChange={(e) => set({ username: e.target.value })} {...invalid('username')} />
            </Row>
          ) : null}
          {!server?.preset ? (
            <Row path="password" label={field('password')} htmlFor={ids.password} error={err('password')} required={!id} help={id ? t('accountForm.passwordKeep') : undefined}>
              <input id={ids.password} type="password" autoComplete="new-password" value={form.password} onChange={(e) => set({ password: e.target.value })} {...invalid('password')} />
            </Row>
          ) : null}
          {needsSmtpCredentials(server) ? (
            <>
              <Notice>{t('accountForm.smtpNote')}</Notice>
              <Row path="smtpUsername" label={field('smtpUsername')} htmlFor={ids.smtpUsername} error={err('smtpUsername')} required>
                <input id={ids.smtpUsername} autoComplete="off" value={form.smtpUsername} onChange={(e) => set({ smtpUsername: e.target.value })} {...invalid('smtpUsername')} />
              </Row>
              <Row path="smtpPassword" label={field('smtpPassword')} htmlFor={ids.smtpPassword} error={err('smtpPassword')} help={id ? t('accountForm.passwordKeep') : undefined}>
                <input id={ids.smtpPassword} type="password" autoComplete="new-password" value={form.smtpPassword} onChange={(e) => set({ smtpPassword: e.target.value })} {...invalid('smtpPassword')} />
              </Row>
            </>
          ) : null}
          <Row
            path="leaveOnServer.days"
            label={field('leaveOnServer')}
            error={err('leaveOnServer.days') ?? err('leaveOnServer.mode') ?? err('leaveOnServer')}
            help={
              <>
                <p className="warning-text" data-testid="leave-warning">
                  {t('accountForm.leaveWarning')}
                </p>
                {form.leaveMode === 'forever' ? <p className="warning-text">{t('accountForm.foreverWarning')}</p> : null}
              </>
            }
          >
            <p className="section-lead">{t('accountForm.leaveLead')}</p>
            <div className="radio-list" role="radiogroup" aria-label={field('leaveOnServer')}>
              <label>
                <input type="radio" name="leave" checked={form.leaveMode === 'delete'} onChange={() => set({ leaveMode: 'delete' })} /> {t('accountForm.leave.delete')}
              </label>
              <label>
                <input type="radio" name="leave" aria-label={t('accountForm.leave.daysRadio')} checked={form.leaveMode === 'days'} onChange={() => set({ leaveMode: 'days' })} />
                <input
                  id={ids.days}
                  className="number"
                  inputMode="numeric"
                  aria-label={field('leaveOnServer.days')}
                  value={form.leaveDays}
                  onChange={(e) => set({ leaveMode: 'days', leaveDays: e.target.value })}
                  {...invalid('leaveOnServer.days')}
                />
                {t('accountForm.leave.days')}
              </label>
              <label>
                <input type="radio" name="leave" checked={form.leaveMode === 'forever'} onChange={() => set({ leaveMode: 'forever' })} /> {t('accountForm.leave.forever')}
              </label>
            </div>
          </Row>
          <Row path="receiveIntervalMinutes" label={field('receiveIntervalMinutes')} htmlFor={ids.interval} error={err('receiveIntervalMinutes')}>
            <input id={ids.interval} className="number" inputMode="numeric" value={form.receiveIntervalMinutes} onChange={(e) => set({ receiveIntervalMinutes: e.target.value })} {...invalid('receiveIntervalMinutes')} />{' '}
            {t('accountForm.minutes')}
          </Row>
          <Row path="enabled" label={field('enabled')} error={err('enabled')}>
            <label className="check">
              <input type="checkbox" checked={form.enabled} onChange={(e) => set({ enabled: e.target.checked })} />
              {t('accountForm.enabledLabel')}
            </label>
          </Row>
          <div className="buttons">
            <button type="submit" className="primary" disabled={busy}>
              {id ? t('common.change') : t('common.add')}
            </button>
            <button type="button" onClick={() => navigate(id ? `${ACCOUNTS}/${id}` : ACCOUNTS)}>
              {t('common.cancel')}
            </button>
          </div>
        </Form>
      ) : loadError ? null : (
        <p>{t('common.loading')}</p>
      )}
    </Page>
  );
}
