import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { api, ApiError, unwrap } from '../api/client';
import { AttemptTimeline } from '../components/attempt-timeline';
import { ErrorNotice, JsonView, StateBadge } from '../components/common';
import { openDownloadLink } from '../lib/download';
import { useIdentity } from '../lib/identity';
import { usePrefs } from '../lib/prefs';
import { missingScope } from '../lib/scopes';
import { formatTime } from '../lib/time';
import { useResource } from '../lib/use-resource';

const PENDING_EXPLAINED: Record<string, string> = {
  queued: 'waiting its turn in the scheduling order',
  no_nodes_registered: 'no worker node has registered yet',
  insufficient_capacity: 'no eligible node has enough free resources right now; it starts when some free up',
  quota_exceeded: "its tenant's running-job or GPU quota is used up; it starts when the tenant's jobs finish",
  no_matching_group: 'no node matches its group, selector or GPU model',
  no_live_node: 'its group has no live node',
  all_nodes_draining: 'every eligible node is draining',
  preempting: 'lower-priority jobs are being asked to give way',
};

export function JobDetailPage() {
  const { id = '' } = useParams();
  const { whoami, config } = useIdentity();
  const { timeMode } = usePrefs();
  const job = useResource(`job-${id}`, () => unwrap(api.GET('/v1/jobs/{id}', { params: { path: { id } } })));
  const auditBlocked = missingScope(whoami, 'admin:audit');
  const audit = useResource(`audit-${id}-${auditBlocked ?? ''}`, () =>
    auditBlocked ? Promise.resolve(null) : unwrap(api.GET('/v1/audit', { params: { query: { resource: `job/${id}`, limit: 50 } } })),
  );
  const cancelBlocked = missingScope(whoami, 'jobs:cancel');
  const [cancelError, setCancelError] = useState<ApiError | null>(null);
  const [cancelling, setCancelling] = useState(false);
  const paramsBlocked = missingScope(whoami, 'artifacts:read');
  const [downloading, setDownloading] = useState(false);
  const [downloadError, setDownloadError] = useState<{ of: 'params' | 'result'; error: ApiError } | null>(null);

  if (job.error && !job.data) return <ErrorNotice error={job.error} what={`job ${id}`} />;
  if (!job.data) return <p>Loading…</p>;
  const j = job.data;
  const finished = j.state !== 'QUEUED' && j.state !== 'RUNNING';
  const paramsArtifact = j.params_artifact;
  // The job's result, or its params stored as an artifact, saved as a file by the browser through a download link.
  const download = async (of: 'params' | 'result', linkOf: () => Promise<{ url: string }>) => {
    setDownloading(true);
    setDownloadError(null);
    try {
      openDownloadLink((await linkOf()).url);
    } catch (error) {
      setDownloadError({ of, error: error as ApiError });
    } finally {
      setDownloading(false);
    }
  };
  const downloadResult = () => download('result', () => unwrap(api.POST('/v1/jobs/{id}/result/download-link', { params: { path: { id } } })));
  const downloadParams = (artifactId: string) =>
    download('params', () => unwrap(api.POST('/v1/artifacts/{id}/download-link', { params: { path: { id: artifactId } } })));
  const cancel = async () => {
    setCancelling(true);
    setCancelError(null);
    try {
      await unwrap(api.POST('/v1/jobs/{id}/cancel', { params: { path: { id } } }));
      job.reload();
    } catch (error) {
      setCancelError(error as ApiError);
    } finally {
      setCancelling(false);
    }
  };
  const temporalUrl = config
    ? `${config.temporal_ui_url}/namespaces/${encodeURIComponent(config.temporal_namespace)}/workflows/job-${j.id}`
    : null;

  return (
    <>
      <p>
        <Link to="/jobs">← Jobs</Link>
      </p>
      <h1>
        Job <span className="mono">{j.id}</span> <StateBadge state={j.state} />
      </h1>
      <div className="toolbar">
        <button type="button" onClick={() => void cancel()} disabled={finished || cancelBlocked !== null || cancelling} title={cancelBlocked ?? (finished ? 'The job has finished' : undefined)}>
          Cancel job
        </button>
        {cancelBlocked ? <span className="muted small" data-testid="cancel-reason">{cancelBlocked}</span> : null}
        {temporalUrl ? (
          <a href={temporalUrl} target="_blank" rel="noreferrer">
            Workflow job-{j.id.slice(0, 8)} in Temporal Web UI ↗
          </a>
        ) : null}
      </div>
      {cancelError ? <ErrorNotice error={cancelError} what="the cancellation" /> : null}
      {j.state === 'QUEUED' ? (
        <section className="card" aria-labelledby="why-title" data-testid="why-pending">
          <h2 id="why-title">Why pending</h2>
          <p>
            <strong>{j.pending_reason ?? 'queued'}</strong>: {PENDING_EXPLAINED[j.pending_reason ?? 'queued'] ?? ''}
          </p>
          {j.pending_detail ? <p>Detail: {j.pending_detail}</p> : null}
          <p>
            Queue position: <strong data-testid="queue-position">{j.queue_position ?? 'not in the last cycle’s view'}</strong>
          </p>
          <p className="muted small">
            Needs {j.cpu} CPU, {j.mem_mb} MiB{j.gpu ? `, ${j.gpu} GPU${j.gpu_model ? ` (${j.gpu_model})` : ''}` : ''}
            {j.worker_group ? ` in group ${j.worker_group}` : ''}
            {Object.keys(j.node_selector).length ? ` on nodes labelled ${Object.entries(j.node_selector).map(([k, v]) => `${k}=${v}`).join(', ')}` : ''}.
          </p>
        </section>
      ) : null}
      <section aria-labelledby="attempts-title">
        <h2 id="attempts-title">
          Attempts ({j.attempts}/{j.max_attempts})
        </h2>
        <AttemptTimeline job={j} now={Date.now()} />
      </section>
      <div className="cards">
        <section className="card" aria-labelledby="request-title">
          <h2 id="request-title">Request</h2>
          <dl className="facts">
            <dt>Task</dt>
            <dd>{j.task_type}</dd>
            <dt>Tenant</dt>
            <dd>{j.tenant_id}</dd>
            <dt>Submitted by</dt>
            <dd>{j.submitted_by}</dd>
            <dt>Priority</dt>
            <dd>
              {j.priority}
              {j.priority_class ? ` (${j.priority_class})` : ''}
            </dd>
            <dt>Resources</dt>
            <dd>
              {j.cpu} CPU · {j.mem_mb} MiB · {j.gpu} GPU
            </dd>
            <dt>Submitted</dt>
            <dd>{formatTime(j.created_at, timeMode)}</dd>
            <dt>Started</dt>
            <dd>{formatTime(j.started_at, timeMode)}</dd>
            <dt>Finished</dt>
            <dd>{formatTime(j.finished_at, timeMode)}</dd>
          </dl>
          <h3>Params</h3>
          {paramsArtifact ? (
            <p data-testid="params-artifact">
              Too large to show here: stored as artifact <code>{paramsArtifact}</code>.{' '}
              {paramsBlocked ? (
                <span className="muted small">{paramsBlocked}: downloading them needs artifacts:read.</span>
              ) : (
                <button type="button" onClick={() => void downloadParams(paramsArtifact)} disabled={downloading}>
                  Download params
                </button>
              )}
            </p>
          ) : (
            <JsonView value={j.params} label="Params" />
          )}
          {downloadError?.of === 'params' ? <ErrorNotice error={downloadError.error} what="the params" /> : null}
        </section>
        <section className="card" aria-labelledby="result-title">
          <h2 id="result-title">Result</h2>
          {j.error ? (
            <div className="notice notice-error" data-testid="job-error">
              <strong>{j.error.code}</strong>: {j.error.message}
            </div>
          ) : null}
          {j.result_artifact ? (
            <p data-testid="result-artifact">
              The result is too large to show here: artifact <code>{j.result_artifact}</code>.{' '}
              <button type="button" onClick={() => void downloadResult()} disabled={downloading}>
                Download result
              </button>
            </p>
          ) : j.result !== null && j.result !== undefined ? (
            <JsonView value={j.result} label="Result" />
          ) : (
            <p className="muted">No result{finished ? '' : ' yet'}.</p>
          )}
          {downloadError?.of === 'result' ? <ErrorNotice error={downloadError.error} what="the result" /> : null}
        </section>
      </div>
      <section aria-labelledby="audit-title">
        <h2 id="audit-title">Audit events</h2>
        {auditBlocked ? (
          <p className="muted">{auditBlocked}: audit events are an admin view.</p>
        ) : audit.error ? (
          <ErrorNotice error={audit.error} what="audit events" />
        ) : audit.data ? (
          audit.data.items.length === 0 ? (
            <p className="muted">No audit event for this job.</p>
          ) : (
            <table className="table" data-testid="job-audit">
              <thead>
                <tr>
                  <th scope="col">At</th>
                  <th scope="col">Action</th>
                  <th scope="col">By</th>
                  <th scope="col">Result</th>
                </tr>
              </thead>
              <tbody>
                {audit.data.items.map((event) => (
                  <tr key={event.id}>
                    <td>{formatTime(event.at, timeMode)}</td>
                    <td>{event.action}</td>
                    <td>
                      {event.actor_subject ?? '—'} @ {event.actor_tenant ?? '—'}
                    </td>
                    <td>
                      {event.result}
                      {event.reason ? ` (${event.reason})` : ''}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        ) : null}
      </section>
    </>
  );
}
