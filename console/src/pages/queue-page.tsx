import { Link } from 'react-router';
import { api, unwrap } from '../api/client';
import { ErrorNotice, Meter } from '../components/common';
import { useIdentity } from '../lib/identity';
import { usePrefs } from '../lib/prefs';
import { missingScope } from '../lib/scopes';
import { ageOf, formatTime } from '../lib/time';
import { useResource } from '../lib/use-resource';

const percent = (fraction: number) => `${Math.round(fraction * 100)}%`;

export function QueuePage() {
  const { whoami } = useIdentity();
  const { timeMode } = usePrefs();
  const blocked = missingScope(whoami, 'admin:workers');
  const queue = useResource(`queue-${blocked ?? ''}`, () => (blocked ? Promise.resolve(null) : unwrap(api.GET('/ui/api/queue'))));

  if (blocked) {
    return (
      <>
        <h1>Queue</h1>
        <p className="notice">{blocked}: the queue shows every tenant's waiting jobs, an admin view. Your own jobs' positions are on the Jobs page.</p>
      </>
    );
  }
  const now = Date.now();
  return (
    <>
      <h1>Queue</h1>
      {queue.error ? <ErrorNotice error={queue.error} what="the queue" /> : null}
      {queue.data ? (
        <>
          <p className="muted">Order of the last scheduling cycle{queue.data.cycle_at ? `, ${formatTime(queue.data.cycle_at, timeMode)}` : ' (none yet)'}.</p>
          <section aria-labelledby="shares-title">
            <h2 id="shares-title">Tenants: share against weight and quota</h2>
            {queue.data.tenants.length === 0 ? (
              <p className="muted">No tenant has running or waiting work.</p>
            ) : (
              <div className="grid-wrap">
                <table className="table" data-testid="tenant-shares">
                  <thead>
                    <tr>
                      <th scope="col">Tenant</th>
                      <th scope="col">Weight (fair share)</th>
                      <th scope="col">Dominant share</th>
                      <th scope="col">Running / quota</th>
                      <th scope="col">GPUs / quota</th>
                      <th scope="col">Waiting</th>
                    </tr>
                  </thead>
                  <tbody>
                    {queue.data.tenants.map((tenant) => (
                      <tr key={tenant.tenant_id}>
                        <th scope="row">{tenant.tenant_id}</th>
                        <td>
                          {tenant.weight} ({percent(tenant.fair_share)})
                        </td>
                        <td>
                          <Meter label={percent(tenant.dominant_share)} used={tenant.dominant_share * 100} total={100} unit="%" />
                        </td>
                        <td>
                          {tenant.running_jobs} / {tenant.max_running_jobs ?? '∞'}
                        </td>
                        <td>
                          {tenant.gpus} / {tenant.max_gpus ?? '∞'}
                        </td>
                        <td>{tenant.waiting_jobs}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
          {queue.data.groups.length === 0 ? <p className="empty">Nothing is waiting.</p> : null}
          {queue.data.groups.map((group) => (
            <section key={group.group ?? '*'} aria-labelledby={`queue-${group.group ?? 'any'}`}>
              <h2 id={`queue-${group.group ?? 'any'}`}>{group.group ? `Group ${group.group}` : 'Any group'}</h2>
              <div className="grid-wrap">
                <table className="table" data-testid={`queue-${group.group ?? 'any'}`}>
                  <thead>
                    <tr>
                      <th scope="col">Position</th>
                      <th scope="col">Job</th>
                      <th scope="col">Tenant</th>
                      <th scope="col">Priority</th>
                      <th scope="col">GPUs</th>
                      <th scope="col">Reason</th>
                      <th scope="col">Waiting</th>
                    </tr>
                  </thead>
                  <tbody>
                    {group.jobs.map((job) => (
                      <tr key={job.id}>
                        <td>{job.position}</td>
                        <td className="mono">{job.tenant_id === whoami?.tenant ? <Link to={`/jobs/${job.id}`}>{job.id.slice(0, 8)}</Link> : job.id.slice(0, 8)}</td>
                        <td>{job.tenant_id}</td>
                        <td>
                          {job.priority}
                          {job.priority_class ? ` (${job.priority_class})` : ''}
                        </td>
                        <td>{job.gpu}</td>
                        <td>
                          {job.pending_reason ?? ''}
                          {job.pending_detail ? <span className="muted"> ({job.pending_detail})</span> : null}
                        </td>
                        <td>{ageOf(job.created_at, now)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </section>
          ))}
        </>
      ) : null}
    </>
  );
}
