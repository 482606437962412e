import { useCallback, useEffect, useRef, useState } from 'react';
import { toApiError, type ApiError } from '../api/client';
import { useLive } from './live';

export interface Resource<T> {
  data: T | undefined;
  error: ApiError | null;
  loading: boolean;
  reload(): void;
}

/** Loads `load()` now, again when `key` changes, and on every live tick; keeps the last data while refetching. */
export function useResource<T>(key: string, load: () => Promise<T>, options: { live?: boolean } = {}): Resource<T> {
  const { tick, markUpdated } = useLive();
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const [reloads, setReloads] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const liveTick = options.live === false ? 0 : tick;

  useEffect(() => {
    setData(undefined);
    setLoading(true);
  }, [key]);

  useEffect(() => {
    let current = true;
    loadRef
      .current()
      .then((value) => {
        if (!current) return;
        setData(value);
        setError(null);
        markUpdated();
      })
      .catch((cause: unknown) => {
        if (current) setError(toApiError(cause));
      })
      .finally(() => current && setLoading(false));
    return () => {
      current = false;
    };
  }, [key, liveTick, reloads, markUpdated]);

  const reload = useCallback(() => setReloads((n) => n + 1), []);
  return { data, error, loading, reload };
}
