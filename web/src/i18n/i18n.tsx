// Language for the whole UI: Japanese by default, English one click away. The
// choice is remembered per user (in this browser) and sent to the API as
// Accept-Language, so API messages come back in the same language.
// Form field labels and API messages come from the shared catalogue (src/i18n);
// only UI-only labels live in ./ja.ts and ./en.ts.
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { fieldLabel, t as catalogueT, type Lang } from '@yubin/i18n/index.ts';
import { api, clientState } from '../api/client.ts';
import { en } from './en.ts';
import { ja } from './ja.ts';

export type { Lang };
export type UiKey = keyof typeof ja;
const UI: Record<Lang, Record<UiKey, string>> = { ja, en };

const LAST_KEY = 'yubin.lang';
const userKey = (username: string) => `yubin.lang.user.${username}`;

function read(key: string): Lang | null {
  try {
    const v = localStorage.getItem(key);
    return v === 'ja' || v === 'en' ? v : null;
  } catch {
    return null;
  }
}
function write(key: string, lang: Lang): void {
  try {
    localStorage.setItem(key, lang);
  } catch {
    // private mode: the choice lasts for this page only
  }
}

export interface I18n {
  lang: Lang;
  /** Switch the language (and remember it for the signed-in user). */
  setLang(lang: Lang): void;
  /** Apply the signed-in user's remembered language (the server's, else this browser's), if any. */
  adoptUserLang(username: string | null, serverLang?: Lang | null): void;
  /** A UI label; {name} placeholders are filled from params. */
  t(key: UiKey, params?: Record<string, string | number>): string;
  /** A form field's label from the shared catalogue, by API path (e.g. "incoming.port"). */
  field(path: string): string;
  /** A message from the shared catalogue (e.g. "error.backlog"). */
  msg(key: string, params?: Record<string, unknown>): string;
  /** Locale-aware date/time, number and size formatting. */
  dateTime(iso: string | null | undefined): string;
  size(bytes: number): string;
}

const Ctx = createContext<I18n | null>(null);

function fill(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

function applyLang(lang: Lang): void {
  clientState.lang = lang;
  document.documentElement.lang = lang;
}

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(() => {
    const initial = read(LAST_KEY) ?? 'ja';
    applyLang(initial);
    return initial;
  });
  const [user, setUser] = useState<string | null>(null);

  const change = useCallback((next: Lang) => {
    applyLang(next);
    setLangState(next);
  }, []);

  const setLang = useCallback(
    (next: Lang) => {
      write(LAST_KEY, next);
      if (user) {
        write(userKey(user), next);
        // remembered for this administrator on the server too (every browser)
        api('PUT', '/api/auth/language', { language: next }).catch(() => undefined);
      }
      change(next);
    },
    [user, change],
  );

  const adoptUserLang = useCallback(
    (username: string | null, serverLang?: Lang | null) => {
      setUser(username);
      if (!username) return;
      const remembered = serverLang ?? read(userKey(username));
      if (remembered) {
        write(LAST_KEY, remembered);
        change(remembered);
      }
    },
    [change],
  );

  const value = useMemo<I18n>(() => {
    const locale = lang === 'ja' ? 'ja-JP' : 'en-US';
    const dtf = new Intl.DateTimeFormat(locale, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    const nf = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
    return {
      lang,
      setLang,
      adoptUserLang,
      t: (key, params = {}) => fill(UI[lang][key] ?? key, params),
      field: (path) => fieldLabel(lang, path),
      msg: (key, params = {}) => catalogueT(lang, key, params),
      dateTime: (iso) => {
        if (!iso) return '';
        const d = new Date(iso);
        return Number.isNaN(d.getTime()) ? iso : dtf.format(d);
      },
      size: (bytes) => {
        if (bytes < 1024) return `${nf.format(bytes)} B`;
        if (bytes < 1024 * 1024) return `${nf.format(bytes / 1024)} KB`;
        if (bytes < 1024 * 1024 * 1024) return `${nf.format(bytes / 1024 / 1024)} MB`;
        return `${nf.format(bytes / 1024 / 1024 / 1024)} GB`;
      },
    };
  }, [lang, setLang, adoptUserLang]);

  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useI18n(): I18n {
  const v = useContext(Ctx);
  if (!v) throw new Error('useI18n outside I18nProvider');
  return v;
}
