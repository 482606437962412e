import { Link } from 'react-router';
import { api, unwrap } from '../api/client';
import { ErrorNotice, Meter, Stat, StateBadge } from '../components/common';
import { usePrefs } from '../lib/prefs';
import { ageOf, formatTime } from '../lib/time';
import { useResource } from '../lib/use-resource';

const ATTENTION_LABELS: Record<string, string> = {
  node_dead: 'Dead node',
  group_blocked: 'Group admits nothing',
  waiting_long: 'Waiting long',
  attempts_exhausted: 'Attempts exhausted',
  node_silent: 'Silent node',
};

export function OverviewPage() {
  const { timeMode } = usePrefs();
  const overview = useResource('overview', () => unwrap(api.GET('/ui/api/overview')));
  const now = Date.now();
  return (
    <>
      <h1>Overview</h1>
      {overview.error ? <ErrorNotice error={overview.error} what="the overview" /> : null}
      {overview.data ? (
        <>
          <section className="stats" aria-label="Summary">
            <Stat label="Queued" value={overview.data.jobs_by_state.QUEUED} />
            <Stat label="Running" value={overview.data.jobs_by_state.RUNNING} />
            <Stat label="GPUs used" value={`${overview.data.capacity.used_gpus}/${overview.data.capacity.gpus}`} />
            <Stat label="Oldest waiting" value={overview.data.oldest_queued_at ? ageOf(overview.data.oldest_queued_at, now) : 'none'} />
            <Stat label="Failures, last hour" value={overview.data.failed_last_hour} />
            <Stat
              label="Nodes not ACTIVE"
              value={overview.data.nodes_by_status.DRAINING + overview.data.nodes_by_status.DEAD}
              hint={`${overview.data.nodes_by_status.DRAINING} draining, ${overview.data.nodes_by_status.DEAD} dead`}
            />
          </section>
          <section aria-labelledby="attention-title">
            <h2 id="attention-title">Needs attention</h2>
            {overview.data.attention.length === 0 ? (
              <p className="muted">Nothing needs attention.</p>
            ) : (
              <ul className="attention" data-testid="attention">
                {overview.data.attention.map((item) => (
                  <li key={`${item.kind}-${item.subject}`}>
                    <span className={`badge badge-${item.kind}`}>{ATTENTION_LABELS[item.kind] ?? item.kind}</span>{' '}
                    {item.kind === 'waiting_long' || item.kind === 'attempts_exhausted' ? (
                      <Link to={`/jobs/${item.subject}`}>{item.subject.slice(0, 8)}</Link>
                    ) : (
                      <strong>{item.subject}</strong>
                    )}{' '}
                    {item.message}
                    {item.since ? <span className="muted"> · since {formatTime(item.since, timeMode)}</span> : null}
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section aria-labelledby="groups-title">
            <h2 id="groups-title">Capacity per worker group</h2>
            <div className="cards">
              {overview.data.groups.map((group) => (
                <div className="card" key={group.name}>
                  <h3>{group.name}</h3>
                  <p className="muted small">
                    {group.active_nodes} active node(s){group.other_nodes ? `, ${group.other_nodes} not active` : ''}
                  </p>
                  <Meter label="Slots" used={group.used_slots} total={group.slots} />
                  {group.gpus > 0 ? <Meter label="GPUs" used={group.used_gpus} total={group.gpus} /> : null}
                </div>
              ))}
            </div>
          </section>
          <section aria-labelledby="recent-title">
            <h2 id="recent-title">Recent jobs</h2>
            {overview.data.recent_jobs.length === 0 ? (
              <p className="muted">
                No jobs yet. <Link to="/submit">Submit one</Link>.
              </p>
            ) : (
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">Job</th>
                    <th scope="col">Task</th>
                    <th scope="col">State</th>
                    <th scope="col">Submitted</th>
                  </tr>
                </thead>
                <tbody>
                  {overview.data.recent_jobs.map((job) => (
                    <tr key={job.id}>
                      <td>
                        <Link to={`/jobs/${job.id}`}>{job.id.slice(0, 8)}</Link>
                      </td>
                      <td>{job.task_type}</td>
                      <td>
                        <StateBadge state={job.state} />
                      </td>
                      <td>{formatTime(job.created_at, timeMode)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </>
      ) : overview.loading ? (
        <p>Loading…</p>
      ) : null}
    </>
  );
}
