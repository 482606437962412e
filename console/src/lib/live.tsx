import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { api, unwrap } from '../api/client';

export type LiveMode = 'live' | 'polling' | 'paused';

interface Live {
  mode: LiveMode;
  paused: boolean;
  setPaused(paused: boolean): void;
  /** Bumped on every change event (or poll tick): resources refetch when it moves. */
  tick: number;
  lastUpdated: number | null;
  markUpdated(): void;
}

const LiveContext = createContext<Live | null>(null);
const POLL_MS = 3000;
const RETRY_STREAM_MS = 10_000;
// Events arrive in bursts (a cycle places many jobs): one refetch per burst.
const COALESCE_MS = 150;

/**
 * Keeps pages fresh. Prefers the API's server-sent events stream, opened with a short-lived single-use
 * ticket (never the bearer token in a URL); falls back to polling while the stream is down; does nothing while paused.
 */
export function LiveProvider({ enabled, children }: { enabled: boolean; children: ReactNode }) {
  const [paused, setPaused] = useState(false);
  const [streaming, setStreaming] = useState(false);
  const [tick, setTick] = useState(0);
  const [lastUpdated, setLastUpdated] = useState<number | null>(null);
  const pending = useRef<number | null>(null);
  const bump = useCallback(() => {
    if (pending.current !== null) return;
    pending.current = window.setTimeout(() => {
      pending.current = null;
      setTick((n) => n + 1);
    }, COALESCE_MS);
  }, []);

  useEffect(() => {
    if (!enabled || paused || typeof EventSource === 'undefined') return;
    let source: EventSource | null = null;
    let retry: number | undefined;
    let closed = false;
    const open = async () => {
      try {
        const { ticket } = await unwrap(api.POST('/v1/stream/tickets'));
        if (closed) return;
        source = new EventSource(`/v1/stream?ticket=${encodeURIComponent(ticket)}`);
        source.onopen = () => setStreaming(true);
        source.addEventListener('job', bump);
        source.addEventListener('node', bump);
        source.addEventListener('queue', bump);
        source.addEventListener('artifact', bump);
        source.onerror = () => {
          // A ticket is single-use: reconnecting needs a new one, not EventSource's own retry.
          source?.close();
          setStreaming(false);
          if (!closed) retry = window.setTimeout(open, RETRY_STREAM_MS);
        };
      } catch {
        setStreaming(false);
        if (!closed) retry = window.setTimeout(open, RETRY_STREAM_MS);
      }
    };
    void open();
    return () => {
      closed = true;
      source?.close();
      window.clearTimeout(retry);
      setStreaming(false);
    };
  }, [enabled, paused, bump]);

  useEffect(() => {
    if (!enabled || paused || streaming) return;
    const timer = window.setInterval(() => setTick((n) => n + 1), POLL_MS);
    return () => window.clearInterval(timer);
  }, [enabled, paused, streaming]);

  const markUpdated = useCallback(() => setLastUpdated(Date.now()), []);
  const mode: LiveMode = paused ? 'paused' : streaming ? 'live' : 'polling';
  return <LiveContext.Provider value={{ mode, paused, setPaused, tick, lastUpdated, markUpdated }}>{children}</LiveContext.Provider>;
}

export function useLive(): Live {
  const live = useContext(LiveContext);
  if (!live) throw new Error('useLive outside LiveProvider');
  return live;
}
