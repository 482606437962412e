import { useState } from 'react';
import { api, ApiError, unwrap, type Artifact } from '../api/client';
import { formatBytes } from './common';
import { useIdentity } from '../lib/identity';
import { missingScope } from '../lib/scopes';

/**
 * A file input that uploads the chosen file as an artifact and hands it to `onUploaded`. The browser streams the File
 * as the request body; the API keeps nothing of an upload that fails. `id` names the input (and its status line).
 */
export function ArtifactUpload({ id, label, onUploaded }: { id: string; label: string; onUploaded: (artifact: Artifact) => void }) {
  const { whoami } = useIdentity();
  const blocked = missingScope(whoami, 'artifacts:write');
  const [busy, setBusy] = useState(false);
  const [uploaded, setUploaded] = useState<Artifact | null>(null);
  const [error, setError] = useState<ApiError | null>(null);

  const upload = async (file: File) => {
    setBusy(true);
    setError(null);
    setUploaded(null);
    try {
      const artifact = await unwrap(
        api.POST('/v1/artifacts', {
          params: { query: { name: file.name } },
          body: file as unknown as string,
          bodySerializer: (body: unknown) => body as File,
          headers: { 'Content-Type': file.type || 'application/octet-stream' },
        }),
      );
      setUploaded(artifact);
      onUploaded(artifact);
    } catch (cause) {
      setError(cause as ApiError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="artifact-upload">
      <label htmlFor={id} className="small">
        {label}
      </label>
      <input
        id={id}
        type="file"
        name={id}
        disabled={blocked !== null || busy}
        aria-describedby={`${id}-status`}
        onChange={(e) => {
          const file = e.target.files?.[0];
          if (file) void upload(file);
        }}
      />
      <span id={`${id}-status`} className="small" role="status">
        {blocked ? <span className="muted">{blocked}: uploading needs artifacts:write.</span> : null}
        {busy ? <span className="muted">Uploading…</span> : null}
        {uploaded ? (
          <span className="muted" data-testid={`${id}-done`}>
            Uploaded {uploaded.name ?? 'the file'} ({formatBytes(uploaded.size_bytes)}) as artifact <code>{uploaded.id}</code>.
          </span>
        ) : null}
        {error ? (
          <span className="field-error">
            Upload failed ({error.status || 'unreachable'} {error.code}): {error.message}
          </span>
        ) : null}
      </span>
    </div>
  );
}
