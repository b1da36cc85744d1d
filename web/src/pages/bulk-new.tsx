// 一斉配信 › 新しい一斉配信: the recipients CSV (read in the browser: its first rows, the
// rows that will be skipped and why), the subject and body templates with {{column}} merge
// fields, the mail to one recipient as it will be sent, and 配信を開始する (POST
// /bulk-deliveries with the file's bytes, so the server reads exactly what was previewed),
// which opens the progress page. The API's field errors (a merge field that is not a
// column, a CSV row it cannot read) show next to their fields. Whether the mails carry an
// unsubscribe link (YUBIN_UNSUBSCRIBE_URL) is said above the templates, and {{unsubscribe_url}}
// is offered as a merge field when they do. Below, the recent bulk deliveries.
import { useEffect, useMemo, useState, type ChangeEvent, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { isBlankSubject, subjectLine } from '@yubin/mail/subject.ts';
import { renderTemplate } from '@yubin/mail/template.ts';
import type { BulkDelivery, SkippedRow } from '@yubin/send/schemas.ts';
import { api, ApiError, qs } from '../api/client.ts';
import type { MailAccount, Page as ApiPage } from '../api/types.ts';
import { ErrorBanner, Form, Notice, Row, useFieldId } from '../components/form.tsx';
import { Page } from '../components/layout.tsx';
import { useLoad } from '../components/use-load.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { sanitizeMailHtml } from '../mail-html.ts';
import { bytesToBase64, decodeCsvBytes, detectAddressColumn, parseCsvText, planRecipients, type CsvEncoding, type CsvTable } from './bulk-csv.ts';
import { BULK, BulkStatusLabel, loadSender, minutesFor, SkippedTable } from './bulk-progress.tsx';
import { SUPPRESSIONS } from './bulk-suppressions.tsx';

/** Rows of the CSV shown as they are. */
export const PREVIEW_ROWS = 5;
/** How many recent bulk deliveries are shown. */
const RECENT_SHOWN = 10;

interface CsvFile {
  name: string;
  bytes: Uint8Array;
  encoding: CsvEncoding;
  table: CsvTable;
}

type Charset = 'utf-8' | 'iso-2022-jp';

/** GET /api/v1/settings/unsubscribe-links */
interface UnsubscribeLinks {
  enabled: boolean;
  baseUrl: string | null;
  field: string;
}

const SHOWN = ['accountId', 'subject', 'replyTo', 'text', 'html', 'charset', 'recipientsCsv', 'recipientsCsvBase64', 'addressColumn'];
const ENCODING_NAMES: Record<CsvEncoding, string> = { 'utf-8': 'UTF-8', 'utf-16le': 'UTF-16LE', 'utf-16be': 'UTF-16BE', shift_jis: 'Shift_JIS' };

export function BulkNewPage() {
  const { t, field, msg } = useI18n();
  const navigate = useNavigate();
  const ids = {
    account: useFieldId('accountId'),
    csv: useFieldId('recipientsCsv'),
    addressColumn: useFieldId('addressColumn'),
    subject: useFieldId('subject'),
    replyTo: useFieldId('replyTo'),
    text: useFieldId('text'),
    html: useFieldId('html'),
    preview: useFieldId('preview'),
  };
  const { data: accounts, error: accountsError } = useLoad(() => api<{ items: MailAccount[] }>('GET', '/api/v1/mail-accounts').then((r) => r.items), []);
  const { data: links } = useLoad(() => api<UnsubscribeLinks>('GET', '/api/v1/settings/unsubscribe-links'), []);
  const [accountId, setAccountId] = useState('');
  const [csv, setCsv] = useState<CsvFile | undefined>();
  const [reading, setReading] = useState(false);
  const [addressColumn, setAddressColumn] = useState('');
  const [subject, setSubject] = useState('');
  const [replyTo, setReplyTo] = useState('');
  const [text, setText] = useState('');
  const [html, setHtml] = useState('');
  const [charset, setCharset] = useState<Charset>('utf-8');
  const [previewRow, setPreviewRow] = useState<number | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!accountId && accounts?.[0]) setAccountId(accounts[0].id);
  }, [accounts, accountId]);
  const { data: sender } = useLoad(() => (accountId ? loadSender(accountId) : Promise.resolve(undefined)), [accountId]);

  const columns = useMemo(() => (csv ? csv.table.header.filter((h) => h !== '') : []), [csv]);
  const plan = useMemo(() => (csv ? planRecipients(csv.table, csv.table.header.indexOf(addressColumn)) : undefined), [csv, addressColumn]);
  const recipient = plan?.recipients.find((r) => r.row === previewRow) ?? plan?.recipients[0];

  async function chooseFile(e: ChangeEvent<HTMLInputElement>) {
    const file = e.target.files?.[0];
    setPreviewRow(undefined);
    if (!file) {
      setCsv(undefined);
      return;
    }
    setReading(true);
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const { text: decoded, encoding } = decodeCsvBytes(bytes);
      const table = parseCsvText(decoded);
      setCsv({ name: file.name, bytes, encoding, table });
      setAddressColumn(table.header[detectAddressColumn(table.header)] ?? '');
    } finally {
      setReading(false);
    }
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const body: Record<string, unknown> = { accountId, subject, text: text || null, html: html || null, charset };
      if (replyTo.trim()) body.replyTo = replyTo;
      if (csv) {
        body.recipientsCsvBase64 = bytesToBase64(csv.bytes);
        if (addressColumn) body.addressColumn = addressColumn;
      }
      const created = await api<{ id: string; total: number; skipped: SkippedRow[] }>('POST', '/api/v1/bulk-deliveries', body);
      navigate(`${BULK}/${created.id}`);
    } catch (e2) {
      setError(e2 instanceof ApiError ? e2 : new ApiError(0, 'ERROR', String(e2)));
      setBusy(false);
    }
  }

  // every message for a path (the CSV can have many), one per line
  const err = (...paths: string[]) => {
    const list = error?.fields.filter((f) => paths.includes(f.path)).map((f) => f.message) ?? [];
    return list.length ? list.join('\n') : undefined;
  };
  const invalid = (...paths: string[]) => (err(...paths) ? { 'aria-invalid': true as const } : {});
  const limit = sender?.server?.outgoing.perMinuteLimit;

  return (
    <Page crumbs={[{ label: t('bulk.title'), to: BULK }, { label: t('bulk.newTitle') }]} title={t('bulk.newTitle')} actions={<Link to={SUPPRESSIONS}>{t('suppressions.link')}</Link>}>
      <p className="lead">{t('bulk.lead')}</p>
      <ErrorBanner error={accountsError} />
      {accounts && accounts.length === 0 ? <Notice>{t('bulk.noAccounts')}</Notice> : null}
      <Form error={error} className="bulk-form" onSubmit={submit} noValidate>
        <ErrorBanner error={error} shownPaths={SHOWN} otherLabel={t('serverForm.otherErrors')} />

        <h2>{t('bulk.section.recipients')}</h2>
        <Row path="accountId" label={field('accountId')} htmlFor={ids.account} error={err('accountId')} required>
          <select id={ids.account} value={accountId} onChange={(e) => setAccountId(e.target.value)} {...invalid('accountId')}>
            {accounts?.map((a) => (
              <option key={a.id} value={a.id}>
                {a.displayName} &lt;{a.address}&gt;
              </option>
            ))}
          </select>
        </Row>
        <Row path="recipientsCsv" label={field('recipientsCsv')} htmlFor={ids.csv} error={err('recipientsCsv', 'recipientsCsvBase64')} required help={t('bulk.csvHelp')}>
          <input id={ids.csv} type="file" accept=".csv,.txt,text/csv" onChange={chooseFile} {...invalid('recipientsCsv', 'recipientsCsvBase64')} />
          {reading ? <p className="hint">{t('bulk.csvReading')}</p> : null}
        </Row>
        {csv ? (
          <Row path="addressColumn" label={field('addressColumn')} htmlFor={ids.addressColumn} error={err('addressColumn')} required help={t('bulk.addressHelp')}>
            <select id={ids.addressColumn} value={addressColumn} onChange={(e) => setAddressColumn(e.target.value)} {...invalid('addressColumn')}>
              {addressColumn === '' ? <option value="">{t('bulk.addressAuto')}</option> : null}
              {columns.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </Row>
        ) : null}
        {csv && plan ? (
          <div className="bulk-csv" data-testid="csv-preview">
            <p className="bulk-csv-summary" data-testid="csv-summary">
              {t('bulk.csvSummary', {
                file: csv.name,
                encoding: ENCODING_NAMES[csv.encoding],
                rows: csv.table.rows.length,
                count: plan.recipients.length,
                skipped: plan.skipped.length,
              })}
            </p>
            {csv.table.errors.length ? (
              <Notice kind="warning">
                <p>{t('bulk.csvErrors')}</p>
                <ul data-testid="csv-errors">
                  {csv.table.errors.map((x, i) => (
                    <li key={i}>{msg(`bulk.csv.${x.problem}`, { row: x.row, line: x.line, expected: x.expected, actual: x.actual, column: x.column })}</li>
                  ))}
                </ul>
              </Notice>
            ) : null}
            {csv.table.header.length ? (
              <>
                <h3>{t('bulk.firstRows', { count: Math.min(PREVIEW_ROWS, csv.table.rows.length) })}</h3>
                <div className="bulk-table-wrap">
                  <table className="list bulk-first-rows" data-testid="first-rows">
                    <thead>
                      <tr>
                        <th scope="col" className="num">
                          {t('bulk.col.row')}
                        </th>
                        {csv.table.header.map((h, i) => (
                          <th key={i} scope="col" className={h !== '' && h === addressColumn ? 'address-col' : undefined}>
                            {h}
                          </th>
                        ))}
                      </tr>
                    </thead>
                    <tbody>
                      {csv.table.rows.slice(0, PREVIEW_ROWS).map((r) => (
                        <tr key={r.row} data-row={r.row}>
                          <td className="num">{r.row}</td>
                          {r.values.map((v, i) => (
                            <td key={i}>{v}</td>
                          ))}
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </>
            ) : null}
            <h3>{t('bulk.skippedTitle')}</h3>
            <p className="hint">{t('bulk.skippedLead')}</p>
            <SkippedTable rows={plan.skipped.map((s) => ({ ...s, message: msg(`bulk.skip.${s.reason}`, { firstRow: s.firstRow }) }))} testId="expected-skipped" />
          </div>
        ) : null}

        <h2>{t('bulk.section.mail')}</h2>
        <div className="bulk-fields hint" data-testid="merge-fields">
          {columns.length ? (
            <>
              {t('bulk.fieldsHelp')}{' '}
              {columns.map((c) => (
                <code key={c} className="merge-field">{`{{${c}}}`}</code>
              ))}
            </>
          ) : (
            t('bulk.fieldsNone')
          )}
          {links?.enabled ? (
            <>
              {' '}
              <code className="merge-field" data-testid="merge-field-unsubscribe">{`{{${links.field}}}`}</code>
            </>
          ) : null}
        </div>
        {links ? (
          <p className="hint" data-testid="unsubscribe-note">
            {links.enabled ? t('bulk.unsubscribeOn', { field: `{{${links.field}}}` }) : t('bulk.unsubscribeOff')}
          </p>
        ) : null}
        <Row path="subject" label={field('subject')} htmlFor={ids.subject} error={err('subject')} required>
          <input id={ids.subject} className="bulk-subject" value={subject} onChange={(e) => setSubject(e.target.value)} {...invalid('subject')} />
        </Row>
        <Row path="replyTo" label={field('replyTo')} htmlFor={ids.replyTo} error={err('replyTo')} help={t('bulk.replyToHelp')}>
          <input id={ids.replyTo} type="email" autoComplete="off" value={replyTo} onChange={(e) => setReplyTo(e.target.value)} {...invalid('replyTo')} />
        </Row>
        <Row path="text" label={field('text')} htmlFor={ids.text} error={err('text')}>
          <textarea id={ids.text} rows={10} value={text} onChange={(e) => setText(e.target.value)} {...invalid('text')} />
        </Row>
        <Row path="html" label={field('html')} htmlFor={ids.html} error={err('html')} help={t('bulk.htmlHelp')}>
          <textarea id={ids.html} rows={6} value={html} onChange={(e) => setHtml(e.target.value)} {...invalid('html')} />
        </Row>
        <Row path="charset" label={field('charset')} error={err('charset')}>
          <div className="inline-choices" role="radiogroup" aria-label={field('charset')}>
            <label>
              <input type="radio" name="charset" checked={charset === 'utf-8'} onChange={() => setCharset('utf-8')} /> {t('bulk.charset.utf8')}
            </label>
            <label>
              <input type="radio" name="charset" checked={charset === 'iso-2022-jp'} onChange={() => setCharset('iso-2022-jp')} /> {t('bulk.charset.iso2022jp')}
            </label>
          </div>
        </Row>

        <h2>{t('bulk.section.preview')}</h2>
        {plan && recipient ? (
          <MailPreview
            selectId={ids.preview}
            recipients={plan.recipients}
            recipient={recipient}
            onPick={setPreviewRow}
            from={sender?.account ? (sender.account.fromName ? `${sender.account.fromName} <${sender.account.address}>` : sender.account.address) : ''}
            subject={subject}
            replyTo={replyTo.trim()}
            text={text}
            html={html}
            links={links}
          />
        ) : (
          <p className="hint">{t('bulk.previewNeedsCsv')}</p>
        )}

        <h2>{t('bulk.section.start')}</h2>
        {plan ? (
          <div className="bulk-start-summary" data-testid="start-summary">
            <p>{t('bulk.startSummary', { count: plan.recipients.length })}</p>
            {limit !== undefined ? (
              <p>{limit === null ? t('bulk.rateUnlimited') : t('bulk.rateLimited', { limit, minutes: minutesFor(plan.recipients.length, limit) })}</p>
            ) : null}
          </div>
        ) : null}
        <div className="buttons">
          <button type="submit" className="primary" disabled={busy || reading || !accounts?.length}>
            {busy ? t('bulk.starting') : t('bulk.start')}
          </button>
        </div>
      </Form>

      <RecentBulkDeliveries accounts={accounts} />
    </Page>
  );
}

function MailPreview(props: {
  selectId: string;
  recipients: { row: number; address: string; fields: Record<string, string> }[];
  recipient: { row: number; address: string; fields: Record<string, string> };
  onPick(row: number): void;
  from: string;
  subject: string;
  replyTo: string;
  text: string;
  html: string;
  links: UnsubscribeLinks | undefined;
}) {
  const { t, field } = useI18n();
  const { links } = props;
  // each recipient's link ends in a token made by the server: shown as an ellipsis
  const link = links?.enabled ? `${links.baseUrl}/…` : undefined;
  const r = link && links ? { ...props.recipient, fields: { ...props.recipient.fields, [links.field]: link } } : props.recipient;
  const subject = renderTemplate(props.subject, r.fields);
  // the subject as it will be sent (one line; blank means none)
  const subjectText = subjectLine(subject.text);
  const text = renderTemplate(props.text, r.fields);
  const html = props.html ? renderTemplate(props.html, r.fields, { escapeHtml: true }) : undefined;
  const missing = [...new Set([...subject.missing, ...text.missing, ...(html?.missing ?? [])])];
  const safe = useMemo(() => (html ? sanitizeMailHtml(html.text) : undefined), [html?.text]);
  return (
    <div className="bulk-preview" data-testid="mail-preview" data-row={r.row}>
      <p className="hint">{t('bulk.previewLead')}</p>
      <div className="toolbar">
        <label htmlFor={props.selectId}>{t('bulk.previewRecipient')}</label>
        <select id={props.selectId} value={r.row} onChange={(e) => props.onPick(Number(e.target.value))}>
          {props.recipients.slice(0, 1000).map((x) => (
            <option key={x.row} value={x.row}>
              {t('bulk.previewRowOption', { row: x.row, address: x.address })}
            </option>
          ))}
        </select>
      </div>
      {missing.length ? (
        <p className="warning-text" data-testid="preview-missing">
          {t('bulk.previewMissing', { fields: missing.map((f) => `{{${f}}}`).join(' ') })}
        </p>
      ) : null}
      <table className="message-headers">
        <tbody>
          <tr>
            <th scope="row">{t('message.from')}</th>
            <td>{props.from}</td>
          </tr>
          <tr>
            <th scope="row">{t('message.to')}</th>
            <td data-testid="preview-to">{r.address}</td>
          </tr>
          {props.replyTo ? (
            <tr>
              <th scope="row">{field('replyTo')}</th>
              <td data-testid="preview-reply-to">{props.replyTo}</td>
            </tr>
          ) : null}
          {link ? (
            <tr>
              <th scope="row">List-Unsubscribe</th>
              <td data-testid="preview-unsubscribe">{`<${link}>`}</td>
            </tr>
          ) : null}
          <tr>
            <th scope="row">{field('subject')}</th>
            <td data-testid="preview-subject">{isBlankSubject(subjectText) ? t('mail.noSubject') : subjectText}</td>
          </tr>
        </tbody>
      </table>
      {props.text || !html ? (
        <pre className="text-body" data-testid="preview-text">
          {text.text || t('message.noBody')}
        </pre>
      ) : null}
      {safe ? (
        <>
          <h3>{t('bulk.previewHtml')}</h3>
          <iframe
            className="html-body bulk-html-preview"
            title={t('bulk.previewHtml')}
            sandbox=""
            srcDoc={safe.doc}
            referrerPolicy="no-referrer"
            data-testid="preview-html"
          />
        </>
      ) : null}
    </div>
  );
}

/** The latest bulk deliveries, newest first, with their progress. */
async function loadRecent(): Promise<BulkDelivery[]> {
  return (await api<ApiPage<BulkDelivery>>('GET', '/api/v1/bulk-deliveries' + qs({ limit: RECENT_SHOWN }))).items;
}

function RecentBulkDeliveries({ accounts }: { accounts: MailAccount[] | undefined }) {
  const { t, field, dateTime } = useI18n();
  const { data, error } = useLoad(loadRecent, []);
  const addressOf = (id: string) => accounts?.find((a) => a.id === id)?.address ?? '';
  return (
    <section aria-labelledby="bulk-recent">
      <h2 id="bulk-recent">{t('bulk.recent')}</h2>
      {error ? null : data?.length ? (
        <>
          <p className="hint">{t('bulk.recentLead')}</p>
          <table className="list" data-testid="recent">
            <thead>
              <tr>
                <th scope="col">{t('bulk.col.createdAt')}</th>
                <th scope="col">{field('subject')}</th>
                <th scope="col">{t('bulk.col.account')}</th>
                <th scope="col">{t('bulk.col.status')}</th>
                <th scope="col" className="num">
                  {t('bulk.col.progress')}
                </th>
              </tr>
            </thead>
            <tbody>
              {data.map((b) => (
                <tr key={b.id} data-bulk-id={b.id}>
                  <td className="date">{dateTime(b.createdAt)}</td>
                  <td>
                    <Link to={`${BULK}/${b.id}`}>{b.subject || t('mail.noSubject')}</Link>
                  </td>
                  <td>{addressOf(b.accountId)}</td>
                  <td>
                    <BulkStatusLabel status={b.status} />
                  </td>
                  <td className="num">{`${b.sent} / ${b.total}`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : data ? (
        <p className="empty">{t('bulk.recentNone')}</p>
      ) : null}
    </section>
  );
}
