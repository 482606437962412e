import { useState } from 'react';
import { Link } from 'react-router';
import { api, ApiError, unwrap, type Node } from '../api/client';
import { ErrorNotice, Meter } from '../components/common';
import { useIdentity } from '../lib/identity';
import { missingScope } from '../lib/scopes';
import { ageOf } from '../lib/time';
import { useResource } from '../lib/use-resource';

export function WorkersPage() {
  const { whoami } = useIdentity();
  const blocked = missingScope(whoami, 'admin:workers');
  const nodes = useResource(`workers-${blocked ?? ''}`, () => (blocked ? Promise.resolve(null) : unwrap(api.GET('/v1/workers'))));
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  if (blocked) {
    return (
      <>
        <h1>Workers</h1>
        <p className="notice">{blocked}: the Workers page is an admin view.</p>
      </>
    );
  }

  const toggleDrain = async (node: Node) => {
    setBusy(node.node_id);
    setActionError(null);
    try {
      const path = { params: { path: { id: node.node_id } } };
      await unwrap(node.status === 'DRAINING' ? api.POST('/v1/workers/{id}/undrain', path) : api.POST('/v1/workers/{id}/drain', path));
      nodes.reload();
    } catch (error) {
      setActionError(error as ApiError);
    } finally {
      setBusy(null);
    }
  };

  const now = Date.now();
  return (
    <>
      <h1>Workers</h1>
      {nodes.error ? <ErrorNotice error={nodes.error} what="workers" /> : null}
      {actionError ? <ErrorNotice error={actionError} what="the drain request" /> : null}
      {nodes.data && nodes.data.items.length === 0 ? <p className="empty">No worker node has registered yet.</p> : null}
      <div className="cards">
        {nodes.data?.items.map((node) => (
          <section className="card node" key={node.node_id} aria-labelledby={`node-${node.node_id}`} data-testid={`node-${node.node_id}`}>
            <h2 id={`node-${node.node_id}`}>
              {node.node_id} <span className={`badge badge-${node.status.toLowerCase()}`}>{node.status}</span>
            </h2>
            <p className="muted small">
              group <strong>{node.group}</strong> · {node.hostname}:{node.pid} · incarnation {node.incarnation} · heartbeat {ageOf(node.last_seen_at, now)} ago
              {node.left_at ? ` · left ${ageOf(node.left_at, now)} ago` : null}
            </p>
            {Object.keys(node.labels).length > 0 ? (
              <p className="labels">
                {Object.entries(node.labels).map(([key, value]) => (
                  <span className="label" key={key}>
                    {key}={value}
                  </span>
                ))}
              </p>
            ) : null}
            <Meter label="Slots" used={node.used_slots} total={node.slots} />
            <Meter label="CPU" used={node.used_cpu} total={node.cpu} />
            <Meter label="Memory" used={node.used_mem_mb} total={node.mem_mb} unit=" MiB" />
            {node.gpus.length > 0 ? (
              <div className="gpu-map" aria-label={`GPUs of ${node.node_id}`}>
                {node.gpus.map((gpu) => {
                  const text = `GPU ${gpu.index} ${gpu.use}`;
                  return gpu.job_id ? (
                    <Link key={gpu.index} to={`/jobs/${gpu.job_id}`} className={`gpu gpu-${gpu.use}`} title={`${gpu.model}, job ${gpu.job_id}`} data-testid="gpu-cell">
                      {text}
                    </Link>
                  ) : (
                    <span key={gpu.index} className={`gpu gpu-${gpu.use}`} title={gpu.model} data-testid="gpu-cell">
                      {text}
                    </span>
                  );
                })}
              </div>
            ) : null}
            {node.status !== 'DEAD' ? (
              <button type="button" onClick={() => void toggleDrain(node)} disabled={busy === node.node_id}>
                {node.status === 'DRAINING' ? 'Undrain' : 'Drain'} {node.node_id}
              </button>
            ) : null}
          </section>
        ))}
      </div>
    </>
  );
}
