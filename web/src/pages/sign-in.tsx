// Sign-in (POST /api/auth/sign-in), and the first-run setup page at
// /setup?token=… (POST /api/auth/setup) that `yubin serve` prints.
import { useEffect, useState, type FormEvent } from 'react';
import { Navigate, useNavigate, useSearchParams } from 'react-router';
import { ApiError } from '../api/client.ts';
import { ErrorBanner, Form, Notice, Row, useFieldId } from '../components/form.tsx';
import { useI18n } from '../i18n/i18n.tsx';
import { useSession } from '../session.tsx';

function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

export function SignInPage() {
  const { t, field } = useI18n();
  const { info, signIn } = useSession();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const userId = useFieldId('username');
  const passId = useFieldId('password');

  useEffect(() => {
    document.title = `${t('signIn.title')} - Yubin`;
  }, [t]);

  if (info?.signedIn) return <Navigate to={safeNext(params.get('next'))} replace />;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    try {
      await signIn(username, password);
      navigate(safeNext(params.get('next')), { replace: true });
    } catch (err) {
      setError(err instanceof ApiError ? err : undefined);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="auth-page">
      <h1>{t('signIn.title')}</h1>
      {info?.needsSetup ? <Notice kind="warning">{t('signIn.needsSetup')}</Notice> : null}
      <ErrorBanner error={error} shownPaths={['username', 'password']} />
      <Form error={error} onSubmit={submit} noValidate>
        <Row path="username" label={field('username')} htmlFor={userId} error={error?.field('username')}>
          <input id={userId} name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
        </Row>
        <Row path="password" label={field('password')} htmlFor={passId} error={error?.field('password')}>
          <input id={passId} name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </Row>
        <div className="buttons">
          <button type="submit" className="primary" disabled={busy}>
            {t('signIn.submit')}
          </button>
        </div>
      </Form>
    </section>
  );
}

export function SetupPage() {
  const { t, field } = useI18n();
  const { info, setup } = useSession();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const token = params.get('token') ?? '';
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const userId = useFieldId('username');
  const passId = useFieldId('password');

  useEffect(() => {
    document.title = `${t('setup.title')} - Yubin`;
  }, [t]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    try {
      await setup(token, username, password);
      navigate('/settings', { replace: true });
    } catch (err) {
      setError(err instanceof ApiError ? err : undefined);
    } finally {
      setBusy(false);
    }
  }

  const done = info && !info.needsSetup && !info.signedIn;
  return (
    <section className="auth-page">
      <h1>{t('setup.title')}</h1>
      {done ? <Notice kind="warning">{t('setup.alreadyDone')}</Notice> : <p>{t('setup.lead')}</p>}
      {!token ? <Notice kind="warning">{t('setup.noToken')}</Notice> : null}
      <ErrorBanner error={error} shownPaths={['username', 'password']} />
      <Form error={error} onSubmit={submit} noValidate>
        <Row path="username" label={field('username')} htmlFor={userId} error={error?.field('username')}>
          <input id={userId} name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
        </Row>
        <Row path="password" label={field('password')} htmlFor={passId} error={error?.field('password')} help={t('setup.passwordHint')}>
          <input id={passId} name="password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </Row>
        <div className="buttons">
          <button type="submit" className="primary" disabled={busy || !token}>
            {t('setup.submit')}
          </button>
        </div>
      </Form>
    </section>
  );
}
