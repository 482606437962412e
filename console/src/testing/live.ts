import { act } from '@testing-library/react';
import { useSyncExternalStore } from 'react';

// A stand-in for lib/live in page tests: `vi.mock('../lib/live', () => import('../testing/live'))`, then
// `bumpLiveTick()` where the stream would have brought a change.
const store = { tick: 0, listeners: new Set<() => void>() };

const subscribe = (listener: () => void) => {
  store.listeners.add(listener);
  return () => store.listeners.delete(listener);
};

// Stable, as the real one is: pages list it among their effects' dependencies.
const markUpdated = (): void => undefined;

export function useLive() {
  return { tick: useSyncExternalStore(subscribe, () => store.tick), markUpdated };
}

export function bumpLiveTick(): void {
  act(() => {
    store.tick += 1;
    store.listeners.forEach((listener) => listener());
  });
}

/** Before each test: no tick yet. */
export function resetLive(): void {
  store.tick = 0;
}
