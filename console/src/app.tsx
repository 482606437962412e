import { BrowserRouter, Navigate, NavLink, Route, Routes } from 'react-router';
import { IdentityProvider, useIdentity } from './lib/identity';
import { LiveProvider, useLive } from './lib/live';
import { PrefsProvider, usePrefs } from './lib/prefs';
import { formatTime } from './lib/time';
import { ArtifactsPage } from './pages/artifacts-page';
import { AuditPage } from './pages/audit-page';
import { JobDetailPage } from './pages/job-detail-page';
import { JobsPage } from './pages/jobs-page';
import { OverviewPage } from './pages/overview-page';
import { QueuePage } from './pages/queue-page';
import { SignInPage } from './pages/sign-in-page';
import { SubmitPage } from './pages/submit-page';
import { TenantsPage } from './pages/tenants-page';
import { WorkersPage } from './pages/workers-page';

export function App() {
  return (
    <PrefsProvider>
      <IdentityProvider>
        <BrowserRouter basename="/console">
          <Shell />
        </BrowserRouter>
      </IdentityProvider>
    </PrefsProvider>
  );
}

function Shell() {
  const { whoami, checking } = useIdentity();
  if (checking) return <p className="page">Checking your session…</p>;
  if (!whoami) return <SignInPage />;
  return (
    <LiveProvider enabled>
      <Header />
      <main id="main" className="page" tabIndex={-1}>
        <Routes>
          <Route path="/" element={<OverviewPage />} />
          <Route path="/jobs" element={<JobsPage />} />
          <Route path="/jobs/:id" element={<JobDetailPage />} />
          <Route path="/queue" element={<QueuePage />} />
          <Route path="/workers" element={<WorkersPage />} />
          <Route path="/submit" element={<SubmitPage />} />
          <Route path="/artifacts" element={<ArtifactsPage />} />
          <Route path="/tenants" element={<TenantsPage />} />
          <Route path="/audit" element={<AuditPage />} />
          <Route path="*" element={<Navigate to="/" replace />} />
        </Routes>
      </main>
    </LiveProvider>
  );
}

function Header() {
  const { whoami, signOut } = useIdentity();
  const { theme, setTheme, timeMode, setTimeMode } = usePrefs();
  const live = useLive();
  if (!whoami) return null;
  return (
    <header className="header">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <div className="brand">MLIS</div>
      <nav aria-label="Main">
        <NavLink to="/" end>
          Overview
        </NavLink>
        <NavLink to="/jobs">Jobs</NavLink>
        <NavLink to="/queue">Queue</NavLink>
        <NavLink to="/workers">Workers</NavLink>
        <NavLink to="/submit">Submit</NavLink>
        {whoami.scopes.includes('artifacts:read') ? <NavLink to="/artifacts">Artifacts</NavLink> : null}
        {whoami.scopes.includes('admin:tenants') ? <NavLink to="/tenants">Tenants</NavLink> : null}
        {whoami.scopes.includes('admin:audit') ? <NavLink to="/audit">Audit</NavLink> : null}
      </nav>
      <div className="header-tools">
        <span className={`live live-${live.mode}`} role="status" aria-live="polite" data-testid="live-status">
          {live.mode === 'live' ? 'Live' : live.mode === 'polling' ? 'Polling' : 'Paused'}
          {live.lastUpdated ? ` · updated ${formatTime(new Date(live.lastUpdated).toISOString(), timeMode).slice(11)}` : ''}
        </span>
        <button type="button" onClick={() => live.setPaused(!live.paused)} aria-pressed={live.paused}>
          {live.paused ? 'Resume' : 'Pause'}
        </button>
        <button type="button" onClick={() => setTimeMode(timeMode === 'utc' ? 'local' : 'utc')} aria-label={`Times in ${timeMode === 'utc' ? 'UTC' : 'local time'}; switch`}>
          {timeMode === 'utc' ? 'UTC' : 'Local'}
        </button>
        <button type="button" onClick={() => setTheme(theme === 'dark' ? 'light' : 'dark')} aria-label={`${theme === 'dark' ? 'Dark' : 'Light'} theme; switch`}>
          {theme === 'dark' ? 'Dark' : 'Light'}
        </button>
        <span className="who" data-testid="identity" title={whoami.scopes.join(' ')}>
          <strong>{whoami.subject}</strong> @ {whoami.tenant}
          <span className="scopes">{whoami.scopes.join(' ')}</span>
        </span>
        <button type="button" onClick={() => signOut()}>
          Sign out
        </button>
      </div>
    </header>
  );
}
