import type { Job } from '../api/client';
import { usePrefs } from '../lib/prefs';
import { formatDuration, formatTime } from '../lib/time';
import { layoutTimeline, type Phase } from '../lib/timeline';

function Bar({ phase, label }: { phase: Phase; label: string }) {
  return (
    <span
      className={`phase phase-${phase.kind}${phase.open ? ' phase-open' : ''}`}
      style={{ left: `${phase.left}%`, width: `max(${phase.width}%, 3px)` }}
      title={`${label}: ${formatDuration(phase.end - phase.start)}`}
    />
  );
}

/** One row per attempt on a shared time axis: queued → placed → running → how it ended. */
export function AttemptTimeline({ job, now }: { job: Job; now: number }) {
  const { timeMode } = usePrefs();
  const timeline = layoutTimeline(job, job.assignments, now);
  if (timeline.rows.length === 0 && !timeline.waiting) return <p className="muted">No attempt yet.</p>;
  return (
    <div className="timeline" data-testid="timeline">
      <ol>
        {timeline.rows.map((row) => (
          <li key={row.attempt} className="timeline-row" data-testid={`attempt-${row.attempt}`}>
            <div className="timeline-label">
              <strong>Attempt {row.attempt}</strong> · {row.nodeId}
              {row.gpuIds.length > 0 ? ` · GPU ${row.gpuIds.join(',')}` : ''} · <span className={`badge badge-${row.state.toLowerCase()}`}>{row.state}</span>
              {row.reason ? <span className="muted"> · {row.reason}</span> : null}
              {row.preemptedBy ? <span className="muted"> · preempted by {row.preemptedBy.slice(0, 8)}</span> : null}
            </div>
            <div className="timeline-track" aria-hidden="true">
              {row.phases.map((phase) => (
                <Bar key={phase.kind} phase={phase} label={phase.kind} />
              ))}
            </div>
            <div className="sr-only">
              {row.phases.map((phase) => `${phase.kind} ${formatDuration(phase.end - phase.start)}${phase.open ? ' so far' : ''}`).join(', ')}
            </div>
          </li>
        ))}
        {timeline.waiting ? (
          <li className="timeline-row">
            <div className="timeline-label">
              <strong>Waiting</strong> since {formatTime(new Date(timeline.waiting.start).toISOString(), timeMode)}
            </div>
            <div className="timeline-track" aria-hidden="true">
              <Bar phase={timeline.waiting} label="queued" />
            </div>
          </li>
        ) : null}
      </ol>
      <p className="legend small">
        <span className="phase-key phase-queued" /> queued <span className="phase-key phase-placed" /> placed <span className="phase-key phase-running" /> running · axis{' '}
        {formatTime(new Date(timeline.start).toISOString(), timeMode)} → {formatDuration(timeline.end - timeline.start)}
      </p>
    </div>
  );
}
