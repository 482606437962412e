import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, ApiError, unwrap, UNAUTHORIZED_EVENT, type ConsoleConfig, type Whoami } from '../api/client';
import { clearToken, readToken, saveToken } from './session';

interface Identity {
  config: ConsoleConfig | null;
  whoami: Whoami | null;
  /** Checking a stored token on load. */
  checking: boolean;
  /** Why the last sign-in or session ended, shown on the sign-in page. */
  notice: string | null;
  signIn(token: string): Promise<void>;
  signOut(notice?: string): void;
}

const IdentityContext = createContext<Identity | null>(null);

export function IdentityProvider({ children }: { children: ReactNode }) {
  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  const [whoami, setWhoami] = useState<Whoami | null>(null);
  const [checking, setChecking] = useState(() => readToken() !== null);
  const [notice, setNotice] = useState<string | null>(null);

  const signOut = useCallback((why?: string) => {
    clearToken();
    setWhoami(null);
    setNotice(why ?? null);
  }, []);

  const signIn = useCallback(async (token: string) => {
    saveToken(token);
    try {
      setWhoami(await unwrap(api.GET('/v1/auth/whoami')));
      setNotice(null);
    } catch (error) {
      clearToken();
      setWhoami(null);
      throw error;
    }
  }, []);

  useEffect(() => {
    unwrap(api.GET('/ui/api/console-config'))
      .then(setConfig)
      .catch(() => setConfig(null));
    const token = readToken();
    if (token) {
      signIn(token)
        .catch((error: unknown) => setNotice(error instanceof ApiError ? error.message : String(error)))
        .finally(() => setChecking(false));
    }
  }, [signIn]);

  useEffect(() => {
    const onUnauthorized = () => signOut('Your session ended (401): sign in again.');
    window.addEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
  }, [signOut]);

  return <IdentityContext.Provider value={{ config, whoami, checking, notice, signIn, signOut }}>{children}</IdentityContext.Provider>;
}

export function useIdentity(): Identity {
  const identity = useContext(IdentityContext);
  if (!identity) throw new Error('useIdentity outside IdentityProvider');
  return identity;
}
