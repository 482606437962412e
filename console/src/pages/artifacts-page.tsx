import { useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router';
import { api, ApiError, unwrap, type Artifact } from '../api/client';
import { ArtifactUpload } from '../components/artifact-upload';
import { formatBytes } from '@mlis/contracts/bytes';
import { ErrorNotice } from '../components/common';
import { openDownloadLink } from '../lib/download';
import { useIdentity } from '../lib/identity';
import { usePrefs } from '../lib/prefs';
import { missingScope } from '../lib/scopes';
import { formatTime } from '../lib/time';
import { useCursorPages } from '../lib/use-cursor-pages';

/** The tenant's artifacts, newest first: upload, download, delete (a delete asks to be confirmed in its row). */
export function ArtifactsPage() {
  const { whoami } = useIdentity();
  const { timeMode } = usePrefs();
  const blocked = missingScope(whoami, 'artifacts:read');
  const writeBlocked = missingScope(whoami, 'artifacts:write');
  // A name prefix to filter by, in the URL (?prefix=) so that a filtered list can be linked to and survives a reload.
  const [search, setSearch] = useSearchParams();
  const prefix = search.get('prefix') ?? '';
  const {
    items: artifacts,
    setItems: setArtifacts,
    hasMore,
    error,
    loading,
    loadMore,
  } = useCursorPages<Artifact>(
    blocked ? null : `artifacts?prefix=${prefix}`,
    (after) => unwrap(api.GET('/v1/artifacts', { params: { query: { limit: 100, ...(prefix ? { prefix } : {}), ...(after ? { cursor: after } : {}) } } })),
    // Live: a job's result stored as an artifact shows up as the job ends.
    { liveOrder: (artifact) => artifact.created_at },
  );
  const [confirming, setConfirming] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<{ text: string; error?: ApiError } | null>(null);

  if (blocked) {
    return (
      <>
        <h1>Artifacts</h1>
        <p className="notice">{blocked}: the artifacts list needs artifacts:read.</p>
      </>
    );
  }

  const nameOf = (artifact: Artifact) => artifact.name ?? artifact.id;

  const filter = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const value = String(new FormData(event.currentTarget).get('prefix') ?? '');
    setSearch(value ? new URLSearchParams({ prefix: value }) : new URLSearchParams());
  };

  const download = async (artifact: Artifact) => {
    setBusy(artifact.id);
    setOutcome(null);
    try {
      openDownloadLink((await unwrap(api.POST('/v1/artifacts/{id}/download-link', { params: { path: { id: artifact.id } } }))).url);
    } catch (cause) {
      setOutcome({ text: `Could not download ${nameOf(artifact)}`, error: cause as ApiError });
    } finally {
      setBusy(null);
    }
  };

  const remove = async (artifact: Artifact) => {
    setBusy(artifact.id);
    setConfirming(null);
    setOutcome(null);
    try {
      await unwrap(api.DELETE('/v1/artifacts/{id}', { params: { path: { id: artifact.id } } }));
      setArtifacts((current) => current.filter((candidate) => candidate.id !== artifact.id));
      setOutcome({ text: `Deleted ${nameOf(artifact)}.` });
    } catch (cause) {
      setOutcome({ text: `Could not delete ${nameOf(artifact)}`, error: cause as ApiError });
    } finally {
      setBusy(null);
    }
  };

  return (
    <>
      <h1>Artifacts</h1>
      <p className="muted">
        Files your tenant uploaded, and the large params and results of its jobs. A job takes one as <code>artifact://&lt;id&gt;</code>; one that a waiting or
        running job uses cannot be deleted.
      </p>
      {writeBlocked ? (
        <p className="muted small">{writeBlocked}: uploading and deleting need artifacts:write.</p>
      ) : (
        <div className="toolbar">
          <ArtifactUpload
            id="upload-artifact"
            label="Upload a file"
            onUploaded={(artifact) => {
              // Listed at once, unless the filter would leave it out.
              if (!prefix || artifact.name?.startsWith(prefix)) setArtifacts((current) => [artifact, ...current]);
            }}
          />
        </div>
      )}
      <div className="toolbar">
        <form className="filters" role="search" aria-label="Artifact filter" onSubmit={filter} key={prefix}>
          <label>
            Name starts with
            <input name="prefix" defaultValue={prefix} maxLength={255} placeholder="result-" />
          </label>
          <button type="submit">Filter</button>
          {prefix ? (
            <button type="button" onClick={() => setSearch(new URLSearchParams())}>
              Clear
            </button>
          ) : null}
        </form>
      </div>
      {outcome ? (
        <div className={`notice${outcome.error ? ' notice-error' : ''}`} role={outcome.error ? 'alert' : 'status'} data-testid="artifact-outcome">
          <strong>{outcome.text}</strong>
          {outcome.error ? (
            <p>
              {outcome.error.code}: {outcome.error.message}
            </p>
          ) : null}
        </div>
      ) : null}
      {error ? <ErrorNotice error={error} what="artifacts" /> : null}
      {!loading && !error && artifacts.length === 0 ? (
        <p className="empty">{prefix ? `No artifacts whose name starts with “${prefix}”.` : 'No artifacts yet.'}</p>
      ) : null}
      {artifacts.length > 0 ? (
        <div className="grid-wrap">
          <table className="table" data-testid="artifacts-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Size</th>
                <th scope="col">Type</th>
                <th scope="col">Created by</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">SHA-256</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {artifacts.map((artifact) => (
                <tr key={artifact.id} data-testid={`artifact-${artifact.id}`}>
                  <td>
                    {artifact.name ?? <span className="muted">unnamed</span>}
                    <div className="mono small muted">{artifact.id}</div>
                  </td>
                  <td className="nowrap">{formatBytes(artifact.size_bytes)}</td>
                  <td className="small">{artifact.content_type}</td>
                  <td>{artifact.created_by}</td>
                  <td>{formatTime(artifact.created_at, timeMode)}</td>
                  <td>{artifact.expires_at ? formatTime(artifact.expires_at, timeMode) : 'never'}</td>
                  <td className="mono small" title={artifact.sha256}>
                    {artifact.sha256.slice(0, 12)}…
                  </td>
                  <td className="nowrap">
                    <button type="button" onClick={() => void download(artifact)} disabled={busy === artifact.id} aria-label={`Download ${nameOf(artifact)}`}>
                      Download
                    </button>{' '}
                    {confirming === artifact.id ? (
                      <>
                        <button type="button" className="danger" onClick={() => void remove(artifact)} aria-label={`Delete for good: ${nameOf(artifact)}`}>
                          Delete for good
                        </button>{' '}
                        <button type="button" onClick={() => setConfirming(null)}>
                          Keep
                        </button>
                      </>
                    ) : (
                      <button
                        type="button"
                        onClick={() => setConfirming(artifact.id)}
                        disabled={writeBlocked !== null || busy === artifact.id}
                        title={writeBlocked ?? undefined}
                        aria-label={`Delete ${nameOf(artifact)}`}
                      >
                        Delete
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {hasMore ? (
        <button type="button" onClick={loadMore} disabled={loading}>
          Load older artifacts
        </button>
      ) : null}
    </>
  );
}
