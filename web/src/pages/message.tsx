// One received mail: decoded headers, the text body, the HTML body sanitized in a
// sandboxed frame with remote content blocked, the attachment list and the raw
// source to download (GET /messages/:id/raw).
import { useMemo, useState } from 'react';
import { useParams } from 'react-router';
import { api } from '../api/client.ts';
import type { DecodedMessage, MailAccount, MessageSummary } from '../api/types.ts';
import { ErrorBanner, Notice } from '../components/form.tsx';
import { ClipIcon } from '../components/icons.tsx';
import { Page } from '../components/layout.tsx';
import { useLoad } from '../components/use-load.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { sanitizeMailHtml } from '../mail-html.ts';
import { mailbox, sender } from './mail.tsx';

type Message = MessageSummary & { decoded: DecodedMessage };

function addresses(list: { name: string; address: string }[]): string {
  return list.map(mailbox).join(', ');
}

export function MessagePage() {
  const { id = '' } = useParams();
  const { t, dateTime, size } = useI18n();
  const { data, error } = useLoad(async () => {
    const message = await api<Message>('GET', `/api/v1/messages/${encodeURIComponent(id)}`);
    const account = await api<MailAccount>('GET', `/api/v1/mail-accounts/${encodeURIComponent(message.accountId)}`).catch(() => undefined);
    return { message, account };
  }, [id]);
  const m = data?.message;
  const d = m?.decoded;
  const safe = useMemo(() => (d?.html ? sanitizeMailHtml(d.html) : undefined), [d?.html]);
  const [view, setView] = useState<'html' | 'text' | undefined>();
  const shown = view ?? (safe ? 'html' : 'text');
  const subject = d?.subject ?? m?.subject ?? '';

  const crumbs = [
    { label: t('mail.title'), to: '/mail' },
    ...(data?.account ? [{ label: data.account.displayName, to: `/mail?account=${data.account.id}` }] : []),
    { label: subject || t('mail.noSubject') },
  ];
  return (
    <Page crumbs={crumbs} title={m ? subject || t('mail.noSubject') : t('mail.title')}>
      <ErrorBanner error={error} />
      {m && d ? (
        <article className="message">
          <table className="message-headers" data-testid="message-headers">
            <tbody>
              <tr>
                <th scope="row">{t('message.from')}</th>
                <td>{sender(d.from ? d : m)}</td>
              </tr>
              <tr>
                <th scope="row">{t('message.to')}</th>
                <td>{addresses(d.to.length ? d.to : m.to)}</td>
              </tr>
              {d.cc.length ? (
                <tr>
                  <th scope="row">{t('message.cc')}</th>
                  <td>{addresses(d.cc)}</td>
                </tr>
              ) : null}
              <tr>
                <th scope="row">{t('message.date')}</th>
                <td>{dateTime(d.date ?? m.date)}</td>
              </tr>
              <tr>
                <th scope="row">{t('message.receivedAt')}</th>
                <td>{dateTime(m.receivedAt)}</td>
              </tr>
              <tr>
                <th scope="row">{t('message.size')}</th>
                <td>{size(m.size)}</td>
              </tr>
              {d.messageId ? (
                <tr>
                  <th scope="row">{t('message.messageId')}</th>
                  <td>{d.messageId}</td>
                </tr>
              ) : null}
            </tbody>
          </table>
          <p>
            <a href={`/api/v1/messages/${encodeURIComponent(m.id)}/raw`} download={`${m.id}.eml`} data-testid="raw-link">
              {t('message.raw')}
            </a>
          </p>
          {d.error ? <Notice kind="warning">{t('message.parseError', { error: d.error })}</Notice> : null}
          {d.attachments.length ? (
            <section aria-labelledby="attachments">
              <h2 id="attachments">{t('message.attachments')}</h2>
              <ul className="attachments" data-testid="attachments">
                {d.attachments.map((a, i) => (
                  <li key={i}>
                    <ClipIcon />{' '}
                    <a href={`/api/v1/messages/${encodeURIComponent(m.id)}/attachments/${i}`} download={a.filename ?? undefined} data-testid="attachment-link">
                      {a.filename ?? `(${a.contentType})`}
                    </a>{' '}
                    <span className="hint">({a.contentType}, {size(a.size)})</span>
                  </li>
                ))}
              </ul>
            </section>
          ) : null}
          {safe && d.text ? (
            <div className="body-tabs" role="group">
              <button type="button" aria-pressed={shown === 'html'} onClick={() => setView('html')}>
                {t('message.showHtml')}
              </button>
              <button type="button" aria-pressed={shown === 'text'} onClick={() => setView('text')}>
                {t('message.showText')}
              </button>
            </div>
          ) : null}
          {shown === 'html' && safe ? (
            <>
              {safe.blocked ? <p className="hint" data-testid="remote-blocked">{t('message.remoteBlocked')}</p> : null}
              <iframe className="html-body" title={subject || t('mail.noSubject')} sandbox="allow-popups allow-popups-to-escape-sandbox" srcDoc={safe.doc} referrerPolicy="no-referrer" data-testid="html-body" />
            </>
          ) : d.text ? (
            <pre className="text-body" data-testid="text-body">
              {d.text}
            </pre>
          ) : (
            <p className="empty">{t('message.noBody')}</p>
          )}
        </article>
      ) : null}
    </Page>
  );
}
