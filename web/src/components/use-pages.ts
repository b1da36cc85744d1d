// A list read through the API's cursor a page at a time, for さらに表示 under it (the audit
// log, the suppression list): the items so far, whether there are more, loadMore, and
// refresh (back to the first page, after a change).
import { useCallback, useState } from 'react';
import { api, ApiError, qs } from '../api/client.ts';
import type { Page as ApiPage } from '../api/types.ts';
import { useLoad } from './use-load.ts';

export interface MorePages<T> {
  /** the first page has arrived */
  loaded: boolean;
  items: T[];
  hasMore: boolean;
  loadingMore: boolean;
  error: ApiError | undefined;
  loadMore(): Promise<void>;
  refresh(): void;
}

export function useMorePages<T>(path: string, limit: number): MorePages<T> {
  const { data: first, error, reload } = useLoad(() => api<ApiPage<T>>('GET', path + qs({ limit })), [path, limit]);
  const [more, setMore] = useState<{ items: T[]; cursor: string | null } | undefined>();
  const [moreError, setMoreError] = useState<ApiError | undefined>();
  const [loadingMore, setLoadingMore] = useState(false);
  const next = more ? more.cursor : first?.nextCursor;

  async function loadMore() {
    if (!next) return;
    setLoadingMore(true);
    try {
      const page = await api<ApiPage<T>>('GET', path + qs({ limit, cursor: next }));
      setMore((m) => ({ items: [...(m?.items ?? []), ...page.items], cursor: page.nextCursor }));
      setMoreError(undefined);
    } catch (e) {
      setMoreError(e instanceof ApiError ? e : new ApiError(0, 'ERROR', String(e)));
    } finally {
      setLoadingMore(false);
    }
  }

  const refresh = useCallback(() => {
    setMore(undefined);
    reload();
  }, [reload]);

  return { loaded: first !== undefined, items: [...(first?.items ?? []), ...(more?.items ?? [])], hasMore: !!next, loadingMore, error: error ?? moreError, loadMore, refresh };
}
