// The signed-in administrator: GET /api/auth/session on load, sign-in, first-run
// setup and sign-out. Keeps the CSRF token where the API client reads it.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, clientHooks, clientState } from './api/client.ts';
import type { SessionInfo } from './api/types.ts';
import { useI18n } from './i18n/i18n.tsx';

export interface Session {
  /** null until the first GET /api/auth/session answered */
  info: SessionInfo | null;
  signIn(username: string, password: string): Promise<void>;
  setup(token: string, username: string, password: string): Promise<void>;
  signOut(): Promise<void>;
}

const Ctx = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const { adoptUserLang } = useI18n();
  const [info, setInfo] = useState<SessionInfo | null>(null);

  const accept = useCallback(
    (next: SessionInfo) => {
      clientState.csrfToken = next.csrfToken;
      setInfo(next);
      adoptUserLang(next.signedIn ? next.username : null, next.language ?? null);
    },
    [adoptUserLang],
  );

  const load = useCallback(async () => {
    const next = await api<SessionInfo>('GET', '/api/auth/session');
    accept(next);
    return next;
  }, [accept]);

  useEffect(() => {
    clientHooks.onUnauthenticated = () => setInfo((cur) => (cur ? { ...cur, signedIn: false, username: null, csrfToken: null } : cur));
    clientHooks.refreshCsrf = async () => (await load()).csrfToken;
    load().catch(() => setInfo({ signedIn: false, username: null, csrfToken: null, needsSetup: false }));
  }, [load]);

  const value = useMemo<Session>(
    () => ({
      info,
      signIn: async (username, password) => accept(await api<SessionInfo>('POST', '/api/auth/sign-in', { username, password })),
      setup: async (token, username, password) => accept(await api<SessionInfo>('POST', '/api/auth/setup', { token, username, password })),
      signOut: async () => {
        await api('POST', '/api/auth/sign-out');
        await load();
      },
    }),
    [info, accept, load],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useSession(): Session {
  const v = useContext(Ctx);
  if (!v) throw new Error('useSession outside SessionProvider');
  return v;
}
