import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import type { TimeMode } from './time';

export type Theme = 'light' | 'dark';

interface Prefs {
  theme: Theme;
  setTheme(theme: Theme): void;
  timeMode: TimeMode;
  setTimeMode(mode: TimeMode): void;
}

const PrefsContext = createContext<Prefs | null>(null);

function stored<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
  const value = localStorage.getItem(key);
  return allowed.includes(value as T) ? (value as T) : fallback;
}

/** Display preferences (not secrets): kept in localStorage across sessions. */
export function PrefsProvider({ children }: { children: ReactNode }) {
  const prefersDark = typeof window.matchMedia === 'function' && window.matchMedia('(prefers-color-scheme: dark)').matches;
  const [theme, setTheme] = useState<Theme>(() => stored('mlis.theme', ['light', 'dark'], prefersDark ? 'dark' : 'light'));
  const [timeMode, setTimeMode] = useState<TimeMode>(() => stored('mlis.time', ['utc', 'local'], 'utc'));
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem('mlis.theme', theme);
  }, [theme]);
  useEffect(() => localStorage.setItem('mlis.time', timeMode), [timeMode]);
  // Another tab (or a test) changed a preference: follow it.
  useEffect(() => {
    const onStorage = (event: StorageEvent) => {
      if (event.key === 'mlis.theme' && (event.newValue === 'light' || event.newValue === 'dark')) setTheme(event.newValue);
      if (event.key === 'mlis.time' && (event.newValue === 'utc' || event.newValue === 'local')) setTimeMode(event.newValue);
    };
    window.addEventListener('storage', onStorage);
    return () => window.removeEventListener('storage', onStorage);
  }, []);
  return <PrefsContext.Provider value={{ theme, setTheme, timeMode, setTimeMode }}>{children}</PrefsContext.Provider>;
}

export function usePrefs(): Prefs {
  const prefs = useContext(PrefsContext);
  if (!prefs) throw new Error('usePrefs outside PrefsProvider');
  return prefs;
}
