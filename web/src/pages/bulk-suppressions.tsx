// 一斉配信 › 配信停止リスト: the addresses every bulk delivery skips (GET /suppressions, 100 a
// page with さらに表示), who put each there and why — an administrator, the CLI, or a
// recipient through an unsubscribe link — with 追加する (POST /suppressions: one address a
// line; a bad one is refused next to the field, nothing added) and 削除 with はい / いいえ
// in the row (DELETE /suppressions/:address). Single sends are not affected.
import { useState, type FormEvent } from 'react';
import type { Suppression } from '@yubin/send/schemas.ts';
import { UNSUBSCRIBE_REASONS } from '@yubin/send/unsubscribe-reasons.ts';
import { api, ApiError } from '../api/client.ts';
import { ErrorBanner, Form, Notice, Row, useFieldId } from '../components/form.tsx';
import { Page } from '../components/layout.tsx';
import { MoreButton } from '../components/pager.tsx';
import { useMorePages } from '../components/use-pages.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { actorLabel } from './audit-log.tsx';
import { BULK } from './bulk-progress.tsx';
import { addressLines } from './bulk-suppressions-input.ts';

export const SUPPRESSIONS = `${BULK}/suppressions`;
const PAGE_SIZE = 100;

export function BulkSuppressionsPage() {
  const { t, dateTime } = useI18n();
  // what an unsubscribe link stored, in the UI's language; an administrator's own words as written
  const reasonLabel = (reason: string | null) =>
    reason === UNSUBSCRIBE_REASONS.oneClick ? t('suppressions.reasonOneClick') : reason === UNSUBSCRIBE_REASONS.page ? t('suppressions.reasonLink') : (reason ?? '');
  const ids = { addresses: useFieldId('addresses'), reason: useFieldId('reason') };
  const list = useMorePages<Suppression>('/api/v1/suppressions', PAGE_SIZE);
  const [addresses, setAddresses] = useState('');
  const [reason, setReason] = useState('');
  const [error, setError] = useState<ApiError | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState<string | undefined>();
  const [removeError, setRemoveError] = useState<ApiError | undefined>();

  async function add(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      const r = await api<{ added: number; alreadyListed: number }>('POST', '/api/v1/suppressions', { addresses: addressLines(addresses), reason: reason.trim() || null });
      // addresses already on the list are kept as they were
      setDone(r.alreadyListed ? t('suppressions.addedSome', { count: r.added, already: r.alreadyListed }) : t('suppressions.added', { count: r.added }));
      setAddresses('');
      setReason('');
      list.refresh();
    } catch (e2) {
      setError(e2 instanceof ApiError ? e2 : new ApiError(0, 'ERROR', String(e2)));
    } finally {
      setBusy(false);
    }
  }

  async function remove(address: string) {
    setBusy(true);
    setDone(undefined);
    setRemoveError(undefined);
    try {
      await api('DELETE', `/api/v1/suppressions/${encodeURIComponent(address)}`);
      setDone(t('suppressions.removed', { address }));
      setConfirming(undefined);
      list.refresh();
    } catch (e) {
      setRemoveError(e instanceof ApiError ? e : new ApiError(0, 'ERROR', String(e)));
    } finally {
      setBusy(false);
    }
  }

  // the addresses' errors (addresses.N) all show at the field, one per line
  const addressErrors = error?.fields.filter((f) => f.path === 'addresses' || f.path.startsWith('addresses.')).map((f) => f.message) ?? [];

  return (
    <Page crumbs={[{ label: t('bulk.title'), to: BULK }, { label: t('suppressions.title') }]} title={t('suppressions.title')}>
      <p className="lead">{t('suppressions.lead')}</p>
      <ErrorBanner error={list.error ?? removeError} />
      {done ? <Notice kind="success">{done}</Notice> : null}

      <h2>{t('suppressions.addTitle')}</h2>
      <Form error={error} onSubmit={add} noValidate data-testid="suppression-add">
        <ErrorBanner error={error} shownPaths={['addresses', 'reason', ...(error?.fields.map((f) => f.path).filter((p) => p.startsWith('addresses.')) ?? [])]} />
        <Row path="addresses" label={t('suppressions.addresses')} htmlFor={ids.addresses} error={addressErrors.length ? addressErrors.join('\n') : undefined} help={t('suppressions.addressesHelp')} required>
          <textarea id={ids.addresses} rows={4} value={addresses} onChange={(e) => setAddresses(e.target.value)} {...(addressErrors.length ? { 'aria-invalid': true as const } : {})} />
        </Row>
        <Row path="reason" label={t('suppressions.reason')} htmlFor={ids.reason} error={error?.field('reason')}>
          <input id={ids.reason} value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} />
        </Row>
        <div className="buttons">
          <button type="submit" className="primary" disabled={busy}>
            {t('suppressions.add')}
          </button>
        </div>
      </Form>

      <h2>{t('suppressions.listTitle')}</h2>
      {list.loaded ? (
        list.items.length ? (
          <table className="list" data-testid="suppressions">
            <thead>
              <tr>
                <th scope="col">{t('suppressions.col.address')}</th>
                <th scope="col">{t('suppressions.reason')}</th>
                <th scope="col">{t('suppressions.col.by')}</th>
                <th scope="col">{t('suppressions.col.at')}</th>
                <th scope="col">{t('suppressions.col.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((s) => (
                <tr key={s.address} data-address={s.address}>
                  <td>{s.address}</td>
                  <td>{reasonLabel(s.reason)}</td>
                  <td>{actorLabel(t, s.createdBy)}</td>
                  <td className="date">{dateTime(s.createdAt)}</td>
                  <td className="row-actions">
                    {confirming === s.address ? (
                      <span role="group" aria-label={t('suppressions.confirmRemove', { address: s.address })}>
                        {t('suppressions.confirmRemove', { address: s.address })}{' '}
                        <button type="button" className="danger" onClick={() => remove(s.address)} disabled={busy}>
                          {t('common.yes')}
                        </button>{' '}
                        <button type="button" onClick={() => setConfirming(undefined)} disabled={busy}>
                          {t('common.no')}
                        </button>
                      </span>
                    ) : (
                      <button type="button" onClick={() => setConfirming(s.address)} aria-label={t('suppressions.removeLabel', { address: s.address })}>
                        {t('suppressions.remove')}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="empty">{t('suppressions.empty')}</p>
        )
      ) : null}
      <MoreButton list={list} />
    </Page>
  );
}
