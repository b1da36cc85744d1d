// 前へ /「Nページ目」/ 次へ under a list read page by page through the API's cursors: while
// another page loads, the list still shows the page before, the label says so and the
// buttons wait (a second 次へ in between would have taken the old page's cursor again).
// And さらに表示 under a list that grows instead (useMorePages).
import { useI18n } from '../i18n/i18n.tsx';
import type { MorePages } from './use-pages.ts';

/** さらに表示 under a list read with useMorePages, while there is more. */
export function MoreButton({ list }: { list: Pick<MorePages<unknown>, 'hasMore' | 'loadingMore' | 'loadMore'> }) {
  const { t } = useI18n();
  if (!list.hasMore) return null;
  return (
    <div className="buttons">
      <button type="button" onClick={list.loadMore} disabled={list.loadingMore}>
        {t('audit.more')}
      </button>
    </div>
  );
}

export function Pager({ pageNo, loading, hasNext, onPrev, onNext }: { pageNo: number; loading: boolean; hasNext: boolean; onPrev: () => void; onNext: () => void }) {
  const { t } = useI18n();
  return (
    <div className="pager">
      <button type="button" onClick={onPrev} disabled={pageNo === 0 || loading}>
        {t('mail.prev')}
      </button>
      <span aria-live="polite">
        {t('mail.page', { page: pageNo + 1 })}
        {loading ? <span className="hint"> {t('common.loading')}</span> : null}
      </span>
      <button type="button" onClick={onNext} disabled={!hasNext || loading}>
        {t('mail.next')}
      </button>
    </div>
  );
}
