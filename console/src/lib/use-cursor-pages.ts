import { useCallback, useEffect, useRef, useState, type Dispatch, type SetStateAction } from 'react';
import { toApiError, type ApiError } from '../api/client';

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
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
 * read (for a key since changed) is dropped.
 */
export function useCursorPages<T>(key: string | null, fetchPage: (cursor: string | null) => Promise<Page<T>>): CursorPages<T> {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(false);
  const latest = useRef(0);
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;

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

  return { items, setItems, hasMore: cursor !== null, error, loading, loadMore: () => void load(cursor) };
}
