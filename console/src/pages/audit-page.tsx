import { useMemo, type FormEvent } from 'react';
import { useSearchParams } from 'react-router';
import { api, unwrap, type components } from '../api/client';
import { ErrorNotice } from '../components/common';
import { useIdentity } from '../lib/identity';
import { usePrefs } from '../lib/prefs';
import { missingScope } from '../lib/scopes';
import { useCursorPages } from '../lib/use-cursor-pages';
import { formatTime } from '../lib/time';

type AuditEvent = components['schemas']['AuditEventDto'];
const KEYS = ['action', 'result', 'actor_tenant', 'target_tenant', 'resource'] as const;
type AuditFilters = Partial<Record<(typeof KEYS)[number], string>>;

export function AuditPage() {
  const { whoami } = useIdentity();
  const { timeMode } = usePrefs();
  const blocked = missingScope(whoami, 'admin:audit');
  const [search, setSearch] = useSearchParams();
  const filters = useMemo(() => Object.fromEntries(KEYS.flatMap((key) => (search.get(key) ? [[key, search.get(key)!]] : []))) as AuditFilters, [search]);
  // Read again when the filters (the URL) change.
  const { items: events, hasMore, error, loading, loadMore } = useCursorPages<AuditEvent>(blocked ? null : search.toString(), (after) => {
    const query = { ...filters, result: filters.result as 'allow' | 'deny' | undefined, limit: 100, ...(after ? { cursor: after } : {}) };
    return unwrap(api.GET('/v1/audit', { params: { query } }));
  });

  if (blocked) {
    return (
      <>
        <h1>Audit</h1>
        <p className="notice">{blocked}: the audit log is an admin view.</p>
      </>
    );
  }

  const apply = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const next = new URLSearchParams();
    for (const key of KEYS) {
      const value = String(data.get(key) ?? '').trim();
      if (value) next.set(key, value);
    }
    setSearch(next);
  };

  return (
    <>
      <h1>Audit</h1>
      <form className="filters" onSubmit={apply} aria-label="Audit filters" key={search.toString()}>
        <label>
          Action
          <input name="action" defaultValue={filters.action} placeholder="job.cancel" />
        </label>
        <label>
          Result
          <select name="result" defaultValue={filters.result ?? ''}>
            <option value="">any</option>
            <option>allow</option>
            <option>deny</option>
          </select>
        </label>
        <label>
          Actor tenant
          <input name="actor_tenant" defaultValue={filters.actor_tenant} />
        </label>
        <label>
          Target tenant
          <input name="target_tenant" defaultValue={filters.target_tenant} />
        </label>
        <label>
          Resource
          <input name="resource" defaultValue={filters.resource} placeholder="job/<id>" />
        </label>
        <button type="submit">Apply</button>
        <button type="button" onClick={() => setSearch(new URLSearchParams())}>
          Clear
        </button>
      </form>
      {error ? <ErrorNotice error={error} what="audit events" /> : null}
      {!loading && !error && events.length === 0 ? <p className="empty">No audit event matches.</p> : null}
      {events.length > 0 ? (
        <div className="grid-wrap">
          <table className="table" data-testid="audit-table">
            <thead>
              <tr>
                <th scope="col">At</th>
                <th scope="col">Action</th>
                <th scope="col">Resource</th>
                <th scope="col">Actor</th>
                <th scope="col">Target tenant</th>
                <th scope="col">Result</th>
                <th scope="col">Request</th>
              </tr>
            </thead>
            <tbody>
              {events.map((event) => (
                <tr key={event.id}>
                  <td>{formatTime(event.at, timeMode)}</td>
                  <td>{event.action}</td>
                  <td className="mono">{event.resource}</td>
                  <td>
                    {event.actor_subject ?? '—'} @ {event.actor_tenant ?? '—'}
                  </td>
                  <td>{event.target_tenant ?? '—'}</td>
                  <td>
                    <span className={`badge badge-${event.result === 'deny' ? 'failed' : 'succeeded'}`}>{event.result}</span>
                    {event.reason ? ` ${event.reason}` : ''}
                    {event.occurrences > 1 ? <span title="requests this summary row stands for"> ×{event.occurrences}</span> : null}
                  </td>
                  <td className="mono small">{event.request_id}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {hasMore ? (
        <button type="button" onClick={loadMore} disabled={loading}>
          Load older events
        </button>
      ) : null}
    </>
  );
}
