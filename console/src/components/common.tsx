import type { ReactNode } from 'react';
import type { ApiError, JobState } from '../api/client';

/** An API error as the operator needs it: what, the code, and the request id to grep the logs for. */
export function ErrorNotice({ error, what }: { error: ApiError; what: string }) {
  const title =
    error.status === 0
      ? 'API unreachable'
      : error.status === 403
        ? 'Not allowed (403)'
        : error.status === 404
          ? 'Not found (404)'
          : `Error ${error.status}`;
  return (
    <div className="notice notice-error" role="alert">
      <strong>
        {title} while loading {what}
      </strong>
      <p>{error.message}</p>
      <p className="muted">
        code {error.code}
        {error.requestId ? ` · request ${error.requestId}` : ''}
      </p>
    </div>
  );
}

export function StateBadge({ state }: { state: JobState | string }) {
  return <span className={`badge badge-${state.toLowerCase()}`}>{state}</span>;
}

/** A used / total bar with its numbers as text (the bar alone is not accessible). */
export function Meter({ label, used, total, unit = '' }: { label: string; used: number; total: number; unit?: string }) {
  const percent = total > 0 ? Math.min(100, (used / total) * 100) : 0;
  return (
    <div className="meter">
      <span className="meter-label">
        {label} {formatNumber(used)}/{formatNumber(total)}
        {unit}
      </span>
      <span className="meter-track" aria-hidden="true">
        <span className={`meter-fill${percent >= 90 ? ' meter-hot' : ''}`} style={{ width: `${percent}%` }} />
      </span>
    </div>
  );
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

export function Stat({ label, value, hint }: { label: string; value: ReactNode; hint?: string }) {
  return (
    <div className="stat">
      <div className="stat-value">{value}</div>
      <div className="stat-label">{label}</div>
      {hint ? <div className="muted small">{hint}</div> : null}
    </div>
  );
}

export function JsonView({ value, label }: { value: unknown; label: string }) {
  return (
    <pre className="json" aria-label={label} tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}
