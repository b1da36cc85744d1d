// The shell: header (received mail, bulk delivery, language switch, the gear menu with
// [システム設定]), breadcrumbs, and the system settings frame with its left pane.
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Link, NavLink, Outlet, useNavigate } from 'react-router';
import { useI18n, type Lang } from '../i18n/i18n.tsx';
import { useSession } from '../session.tsx';

export function Header() {
  const { t } = useI18n();
  const { info } = useSession();
  return (
    <header className="app-header">
      <Link to="/" className="brand">
        <span className="brand-mark" aria-hidden="true">〒</span> {t('app.name')}
      </Link>
      {info?.signedIn ? (
        <nav className="app-nav">
          <NavLink to="/mail">{t('header.nav.mail')}</NavLink>
          <NavLink to="/bulk">{t('header.nav.bulk')}</NavLink>
        </nav>
      ) : null}
      <div className="spacer" />
      <LanguageSwitch />
      {info?.signedIn ? (
        <>
          <span className="user">{t('header.signedInAs', { username: info.username ?? '' })}</span>
          <GearMenu />
        </>
      ) : null}
    </header>
  );
}

const LANG_NAMES: Record<Lang, string> = { ja: '日本語', en: 'English' };

export function LanguageSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <div className="lang-switch" role="group" aria-label={t('header.language')}>
      {(['ja', 'en'] as const).map((l) => (
        <button key={l} type="button" lang={l} aria-pressed={lang === l} className={lang === l ? 'active' : ''} onClick={() => setLang(l)}>
          {LANG_NAMES[l]}
        </button>
      ))}
    </div>
  );
}

function GearMenu() {
  const { t } = useI18n();
  const { signOut } = useSession();
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => {
      if (box.current && !box.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setOpen(false);
    };
    document.addEventListener('mousedown', onDown);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('mousedown', onDown);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);

  return (
    <div className="gear" ref={box}>
      <button type="button" className="gear-button" aria-label={t('header.gear')} title={t('header.gear')} aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
        <GearIcon />
      </button>
      {open ? (
        <ul className="menu" role="menu">
          <li role="none">
            <Link role="menuitem" to="/settings" onClick={() => setOpen(false)}>
              {t('header.menu.systemSettings')}
            </Link>
          </li>
          <li role="none">
            <button
              role="menuitem"
              type="button"
              onClick={async () => {
                setOpen(false);
                await signOut();
                navigate('/signin');
              }}
            >
              {t('header.menu.signOut')}
            </button>
          </li>
        </ul>
      ) : null}
    </div>
  );
}

function GearIcon() {
  return (
    <svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <path
        fill="currentColor"
        d="M19.14 12.94a7.4 7.4 0 0 0 .05-.94 7.4 7.4 0 0 0-.05-.94l2.03-1.58a.5.5 0 0 0 .12-.64l-1.92-3.32a.5.5 0 0 0-.6-.22l-2.39.96a7 7 0 0 0-1.63-.94l-.36-2.54a.5.5 0 0 0-.5-.42h-3.84a.5.5 0 0 0-.49.42l-.36 2.54a7.3 7.3 0 0 0-1.63.94l-2.39-.96a.5.5 0 0 0-.6.22L2.66 8.84a.5.5 0 0 0 .12.64l2.03 1.58a7.6 7.6 0 0 0 0 1.88l-2.03 1.58a.5.5 0 0 0-.12.64l1.92 3.32a.5.5 0 0 0 .6.22l2.39-.96c.5.38 1.05.7 1.63.94l.36 2.54a.5.5 0 0 0 .49.42h3.84a.5.5 0 0 0 .5-.42l.36-2.54a7 7 0 0 0 1.63-.94l2.39.96a.5.5 0 0 0 .6-.22l1.92-3.32a.5.5 0 0 0-.12-.64zM12 15.6a3.6 3.6 0 1 1 0-7.2 3.6 3.6 0 0 1 0 7.2z"
      />
    </svg>
  );
}

export interface Crumb {
  label: string;
  to?: string;
}

export function Breadcrumbs({ items }: { items: Crumb[] }) {
  const { t } = useI18n();
  return (
    <nav className="breadcrumbs" aria-label={t('breadcrumbs')}>
      <ol>
        {items.map((c, i) => (
          <li key={i}>
            {c.to && i < items.length - 1 ? <Link to={c.to}>{c.label}</Link> : <span aria-current={i === items.length - 1 ? 'page' : undefined}>{c.label}</span>}
          </li>
        ))}
      </ol>
    </nav>
  );
}

export const SETTINGS = '/settings/general';
export const SERVERS = `${SETTINGS}/mail-servers`;
export const ACCOUNTS = `${SETTINGS}/mail-accounts`;
export const AUDIT = `${SETTINGS}/audit-log`;
export const OAUTH = `${SETTINGS}/oauth`;

/** システム設定 › 全般 › …: the first crumbs of every settings page. */
export function useSettingsCrumbs(): Crumb[] {
  const { t } = useI18n();
  return [
    { label: t('settings.title'), to: '/settings' },
    { label: t('settings.general'), to: SETTINGS },
  ];
}

/** The システム設定 frame: a left pane of categories (全般) and the page beside it. */
export function SettingsLayout() {
  const { t } = useI18n();
  return (
    <div className="settings">
      <aside className="left-pane">
        <h2>{t('settings.title')}</h2>
        <nav aria-label={t('settings.title')}>
          <ul>
            <li>
              <NavLink to={SETTINGS}>{t('settings.general')}</NavLink>
            </li>
          </ul>
        </nav>
      </aside>
      <div className="settings-main">
        <Outlet />
      </div>
    </div>
  );
}

/** A page inside the shell: breadcrumbs, a heading, then the content. */
export function Page({ crumbs, title, actions, children }: { crumbs: Crumb[]; title: string; actions?: ReactNode; children: ReactNode }) {
  useEffect(() => {
    document.title = `${title} - Yubin`;
  }, [title]);
  return (
    <section className="page">
      <Breadcrumbs items={crumbs} />
      <div className="page-head">
        <h1>{title}</h1>
        {actions ? <div className="page-actions">{actions}</div> : null}
      </div>
      {children}
    </section>
  );
}
