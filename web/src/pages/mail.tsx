// 受信メール: the accounts in the left pane; for the chosen one, its mail newest
// first (from, subject, date, size, attachment mark) with search by subject or
// sender and paging (the API's cursors). The page is in the address (?cursor=…&page=N)
// and the cursors of the pages before it in the history entry's state, so that the
// browser's back button from a mail returns to the page it was opened from.
import { useEffect, useState, type FormEvent } from 'react';
import { Link, NavLink, useLocation, useSearchParams } from 'react-router';
import { api, qs } from '../api/client.ts';
import type { MailAccount, MessageSummary, Page as ApiPage } from '../api/types.ts';
import { ErrorBanner, Notice } from '../components/form.tsx';
import { ClipIcon } from '../components/icons.tsx';
import { Page } from '../components/layout.tsx';
import { Pager } from '../components/pager.tsx';
import { useLoad } from '../components/use-load.ts';
import { useI18n } from '../i18n/i18n.tsx';

export const PAGE_SIZE = 50;

export function sender(m: { from: { name: string; address: string } | null }): string {
  if (!m.from) return '';
  return mailbox(m.from);
}

/** "Name <address>", or just the one there is: a From of only an (encoded) name has no address. */
export function mailbox(a: { name: string; address: string }): string {
  return a.name && a.address ? `${a.name} <${a.address}>` : a.name || a.address;
}

export function MailPage() {
  const { t } = useI18n();
  const [params, setParams] = useSearchParams();
  const { data: accounts, error: accountsError } = useLoad(() => api<{ items: MailAccount[] }>('GET', '/api/v1/mail-accounts').then((r) => r.items), []);
  const accountId = params.get('account') ?? accounts?.[0]?.id ?? '';
  const q = params.get('q') ?? '';
  const account = accounts?.find((a) => a.id === accountId);

  return (
    <div className="mail">
      <aside className="left-pane">
        <h2>{t('mail.accounts')}</h2>
        <nav aria-label={t('mail.accounts')}>
          <ul>
            {accounts?.map((a) => (
              <li key={a.id}>
                <NavLink to={`/mail?account=${a.id}`} className={() => (a.id === accountId ? 'active' : '')}>
                  {a.displayName}
                  <span className="address">{a.address}</span>
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
      </aside>
      <div className="mail-main">
        <Page crumbs={[{ label: t('mail.title'), to: '/mail' }, ...(account ? [{ label: account.displayName }] : [])]} title={account ? `${account.displayName} <${account.address}>` : t('mail.title')}>
          <ErrorBanner error={accountsError} />
          {accounts && accounts.length === 0 ? <Notice>{t('mail.noAccounts')}</Notice> : null}
          {accountId ? (
            <MessageList
              key={`${accountId}|${q}`}
              accountId={accountId}
              q={q}
              onSearch={(next) => {
                const p = new URLSearchParams(params);
                p.set('account', accountId);
                if (next) p.set('q', next);
                else p.delete('q');
                // a new search starts on its first page
                p.delete('cursor');
                p.delete('page');
                setParams(p);
              }}
            />
          ) : null}
        </Page>
      </div>
    </div>
  );
}

/** The history entry's state of a page after the first: the cursors of the pages before it (page 0 has none). */
interface PagingState {
  cursors?: (string | null)[];
}

function MessageList({ accountId, q, onSearch }: { accountId: string; q: string; onSearch: (q: string) => void }) {
  const { t, dateTime, size } = useI18n();
  const [input, setInput] = useState(q);
  const [params, setParams] = useSearchParams();
  const location = useLocation();
  const cursor = params.get('cursor') ?? undefined;
  const pageNo = cursor ? Math.max(1, (Number(params.get('page')) || 2) - 1) : 0;
  const before = (location.state as PagingState | null)?.cursors ?? [];
  const loaded = useLoad(
    async () => ({ cursor, page: await api<ApiPage<MessageSummary>>('GET', '/api/v1/messages' + qs({ accountId, q: q || undefined, limit: PAGE_SIZE, cursor })) }),
    [accountId, q, cursor],
  );
  const data = loaded.data?.page;
  const error = loaded.error;
  // the rows shown are another page's while this one loads
  const turning = loaded.loading && loaded.data !== undefined && loaded.data.cursor !== cursor;

  useEffect(() => setInput(q), [q]);

  function search(e: FormEvent) {
    e.preventDefault();
    onSearch(input.trim());
  }
  function go(to: number, toCursor: string | null | undefined, cursors: (string | null)[]) {
    const p = new URLSearchParams(params);
    p.set('account', accountId);
    if (to > 0 && toCursor) {
      p.set('cursor', toCursor);
      p.set('page', String(to + 1));
    } else {
      p.delete('cursor');
      p.delete('page');
    }
    setParams(p, { state: to > 0 && toCursor ? ({ cursors } satisfies PagingState) : null });
  }
  function next() {
    if (!data?.nextCursor) return;
    go(pageNo + 1, data.nextCursor, [...before.slice(0, pageNo), cursor ?? null]);
  }
  function prev() {
    // opened from a bookmark, the pages before are not known: back to the first
    const to = before[pageNo - 1] || pageNo - 1 === 0 ? pageNo - 1 : 0;
    go(to, before[to], before.slice(0, to));
  }

  return (
    <>
      <form className="search" role="search" onSubmit={search}>
        <input type="search" aria-label={t('mail.search')} placeholder={t('mail.search')} value={input} onChange={(e) => setInput(e.target.value)} />
        <button type="submit">{t('mail.searchButton')}</button>
        {q ? (
          <button type="button" onClick={() => onSearch('')}>
            {t('mail.clearSearch')}
          </button>
        ) : null}
      </form>
      <ErrorBanner error={error} />
      {data ? (
        data.items.length ? (
          <table className={turning ? 'list stale' : 'list'} data-testid="messages" aria-busy={loaded.loading}>
            <thead>
              <tr>
                <th scope="col" className="clip-col">
                  <ClipIcon label={t('mail.col.attachment')} />
                </th>
                <th scope="col">{t('mail.col.from')}</th>
                <th scope="col">{t('mail.col.subject')}</th>
                <th scope="col">{t('mail.col.date')}</th>
                <th scope="col" className="num">
                  {t('mail.col.size')}
                </th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((m) => (
                <tr key={m.id} data-message-id={m.id}>
                  <td className="clip">{m.hasAttachments ? <ClipIcon label={t('mail.attachment')} /> : null}</td>
                  <td>{sender(m)}</td>
                  <td>
                    <Link to={`/mail/${m.id}`}>{m.subject || t('mail.noSubject')}</Link>
                  </td>
                  <td className="date">{dateTime(m.date ?? m.receivedAt)}</td>
                  <td className="num">{size(m.size)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="empty">{t('mail.empty')}</p>
        )
      ) : null}
      <Pager pageNo={pageNo} loading={turning} hasNext={!!data?.nextCursor} onPrev={prev} onNext={next} />
    </>
  );
}
