import { useCallback, useEffect, useRef, useState, type Dispatch, type SetStateAction } from 'react';
import { toApiError, type ApiError } from '../api/client';
import { useLive } from './live';

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/**
 * A fresh first page merged into what is loaded of a newest-first list, `orderOf` giving each item's place (its
 * created_at). The page is the whole list down to its last item, so loaded items in that range it lacks are gone
 * (deleted, or no longer matching); older items from later pages stay, and so does the cursor past them.
 */
export function mergeFirstPage<T extends { id: string }>(
  loaded: { items: T[]; nextCursor: string | null },
  first: Page<T>,
  orderOf: (item: T) => string,
): { items: T[]; nextCursor: string | null } {
  const last = first.items.at(-1);
  const fresh = new Set(first.items.map((item) => item.id));
  // Without a next page the fresh one is the whole list. Times have milliseconds only: a tie with the last stays.
  const older = last && first.next_cursor ? loaded.items.filter((item) => !fresh.has(item.id) && orderOf(item) <= orderOf(last)) : [];
  return { items: [...first.items, ...older], nextCursor: older.length > 0 ? loaded.nextCursor : first.next_cursor };
}

export interface CursorPages<T> {
  items: T[];
  /** For a page that changes the list itself (an upload added, a row deleted) without reading it again. */
  setItems: Dispatch<SetStateAction<T[]>>;
  hasMore: boolean;
  error: ApiError | null;
  loading: boolean;
  loadMore(): void;
}

/**
 * A list the API pages with a cursor: the first page now and again whenever `key` changes (null: nothing to read, as
 * without the scope), the next one on `loadMore()`. Each read supersedes the one before: a late answer of an earlier
 * read (for a key since changed) is dropped. With `liveOrder` (a newest-first list, each item's place in it), the
 * first page is also read again on every live tick and merged into what is loaded (mergeFirstPage).
 */
export function useCursorPages<T extends { id: string }>(
  key: string | null,
  fetchPage: (cursor: string | null) => Promise<Page<T>>,
  options: { liveOrder?: (item: T) => string } = {},
): CursorPages<T> {
  const { tick, markUpdated } = useLive();
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(false);
  const latest = useRef(0);
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;
  const orderRef = useRef(options.liveOrder);
  orderRef.current = options.liveOrder;
  // What is loaded, for a refresh to merge into without waiting for a render.
  const loaded = useRef({ items, nextCursor: cursor });
  loaded.current = { items, nextCursor: cursor };

  const load = useCallback(async (after: string | null) => {
    const mine = ++latest.current;
    setLoading(true);
    try {
      const page = await fetchRef.current(after);
      if (mine !== latest.current) return;
      setItems((current) => (after ? [...current, ...page.items] : page.items));
      setCursor(page.next_cursor);
      setError(null);
    } catch (cause) {
      if (mine === latest.current) setError(toApiError(cause));
    } finally {
      if (mine === latest.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    if (key !== null) void load(null);
  }, [key, load]);

  const keyRef = useRef(key);
  keyRef.current = key;
  const refreshes = useRef(0);
  useEffect(() => {
    const orderOf = orderRef.current;
    if (tick === 0 || keyRef.current === null || !orderOf) return;
    // Any read started since (another key, an older page, a later refresh) has the last word.
    const mine = latest.current;
    const refresh = ++refreshes.current;
    void fetchRef.current(null).then(
      (page) => {
        if (mine !== latest.current || refresh !== refreshes.current) return;
        const merged = mergeFirstPage(loaded.current, page, orderOf);
        setItems(merged.items);
        setCursor(merged.nextCursor);
        setError(null);
        markUpdated();
      },
      (cause: unknown) => {
        if (mine === latest.current && refresh === refreshes.current) setError(toApiError(cause));
      },
    );
  }, [tick, markUpdated]);

  return { items, setItems, hasMore: cursor !== null, error, loading, loadMore: () => void load(cursor) };
}
