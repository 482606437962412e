import { useState, type FormEvent } from 'react';
import { api, ApiError, unwrap } from '../api/client';
import { useIdentity } from '../lib/identity';
import type { Scope } from '../lib/scopes';

const ALL_SCOPES: Scope[] = ['jobs:submit', 'jobs:read', 'jobs:cancel', 'admin:workers', 'admin:tenants', 'admin:audit', 'artifacts:read', 'artifacts:write'];

export function SignInPage() {
  const { config, notice, signIn } = useIdentity();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [tenant, setTenant] = useState('default');
  const [user, setUser] = useState('dev');
  const [scopes, setScopes] = useState<Scope[]>(ALL_SCOPES);
  const [busy, setBusy] = useState(false);

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (cause) {
      setError(cause instanceof ApiError ? `${cause.message} (${cause.code})` : String(cause));
    } finally {
      setBusy(false);
    }
  };

  const onToken = (event: FormEvent) => {
    event.preventDefault();
    void run(() => signIn(token));
  };

  const onDev = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      const minted = await unwrap(api.POST('/v1/auth/dev-token', { body: { tenant, user, scopes } }));
      await signIn(minted.token);
    });
  };

  return (
    <main id="main" className="page sign-in">
      <h1>Sign in to the MLIS console</h1>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      {error ? (
        <p className="notice notice-error" role="alert">
          {error}
        </p>
      ) : null}
      <form onSubmit={onToken} className="card">
        <h2>Paste a token</h2>
        <label htmlFor="token">Bearer token</label>
        <textarea id="token" rows={4} value={token} onChange={(e) => setToken(e.target.value)} required />
        <p className="muted small">Kept in this tab's session storage only; `mlis dev-token` or your identity provider issues it.</p>
        <button type="submit" disabled={busy || token.trim() === ''}>
          Sign in
        </button>
      </form>
      {config?.dev_sign_in ? (
        <form onSubmit={onDev} className="card" aria-labelledby="dev-title">
          <h2 id="dev-title">Dev sign-in</h2>
          <p className="muted small">Offered only while the API signs tokens with its development key (never with JWKS).</p>
          <label htmlFor="dev-tenant">Tenant</label>
          <input id="dev-tenant" value={tenant} onChange={(e) => setTenant(e.target.value)} required />
          <label htmlFor="dev-user">User</label>
          <input id="dev-user" value={user} onChange={(e) => setUser(e.target.value)} required />
          <fieldset>
            <legend>Scopes</legend>
            {ALL_SCOPES.map((scope) => (
              <label key={scope} className="check">
                <input
                  type="checkbox"
                  checked={scopes.includes(scope)}
                  onChange={(e) => setScopes(e.target.checked ? [...scopes, scope] : scopes.filter((s) => s !== scope))}
                />
                {scope}
              </label>
            ))}
          </fieldset>
          <button type="submit" disabled={busy}>
            Sign in as {user || '…'} @ {tenant || '…'}
          </button>
        </form>
      ) : null}
    </main>
  );
}
