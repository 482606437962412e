import { useEffect, useRef, useState } from 'react';
import { toApiError, type ApiError, type Artifact } from '../api/client';
import { formatBytes } from '@mlis/contracts/bytes';
import { useIdentity } from '../lib/identity';
import { missingScope } from '../lib/scopes';
import { UploadCancelledError, uploadArtifact, type UploadProgress } from '../lib/upload';

type Outcome = { kind: 'uploaded'; artifact: Artifact } | { kind: 'failed'; error: ApiError } | { kind: 'cancelled'; name: string };

/**
 * A file input that uploads the chosen file as an artifact and hands it to `onUploaded`, showing how much has gone out,
 * with a button that cancels it until the whole file has. The browser streams the File as the request body; the API keeps
 * nothing of an upload that fails or breaks off. `id` names the input (and its status line).
 */
export function ArtifactUpload({ id, label, onUploaded }: { id: string; label: string; onUploaded: (artifact: Artifact) => void }) {
  const { whoami } = useIdentity();
  const blocked = missingScope(whoami, 'artifacts:write');
  const [uploading, setUploading] = useState<{ name: string; progress: UploadProgress } | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const cancel = useRef<AbortController | null>(null);
  // Leaving the page cancels an upload in progress: nothing would show its outcome.
  useEffect(() => () => cancel.current?.abort(), []);

  const upload = async (file: File) => {
    const controller = new AbortController();
    cancel.current = controller;
    setOutcome(null);
    setUploading({ name: file.name, progress: { sent: 0, total: file.size } });
    try {
      const artifact = await uploadArtifact(file, (progress) => setUploading({ name: file.name, progress }), controller.signal);
      setOutcome({ kind: 'uploaded', artifact });
      onUploaded(artifact);
    } catch (cause) {
      setOutcome(cause instanceof UploadCancelledError ? { kind: 'cancelled', name: file.name } : { kind: 'failed', error: toApiError(cause) });
    } finally {
      cancel.current = null;
      setUploading(null);
    }
  };

  const progress = uploading?.progress;
  const allSent = progress !== undefined && progress.sent >= progress.total;
  return (
    <div className="artifact-upload">
      <label htmlFor={id} className="small">
        {label}
      </label>
      <input
        id={id}
        type="file"
        name={id}
        disabled={blocked !== null || uploading !== null}
        aria-describedby={`${id}-status`}
        onChange={(e) => {
          const file = e.target.files?.[0];
          // Cleared, so that choosing the same file again (after a cancel or a failure) uploads it again.
          e.target.value = '';
          if (file) void upload(file);
        }}
      />
      {uploading && progress ? (
        // Outside the status line: a screen reader announces the start and the outcome, not every step.
        <span className="upload-progress small">
          <progress id={`${id}-progress`} max={Math.max(progress.total, 1)} value={progress.sent} aria-label={`Upload of ${uploading.name}`} />
          <span className="muted" data-testid={`${id}-sent`}>
            {allSent
              ? `${formatBytes(progress.total)} sent; the API is storing it…`
              : `${formatBytes(progress.sent)} of ${formatBytes(progress.total)} (${Math.floor((100 * progress.sent) / Math.max(progress.total, 1))} %)`}
          </span>
          <button type="button" disabled={allSent} onClick={() => cancel.current?.abort()}>
            Cancel upload
          </button>
        </span>
      ) : null}
      <span id={`${id}-status`} className="small" role="status">
        {blocked ? <span className="muted">{blocked}: uploading needs artifacts:write.</span> : null}
        {uploading ? <span className="muted">Uploading {uploading.name}…</span> : null}
        {outcome?.kind === 'uploaded' ? (
          <span className="muted" data-testid={`${id}-done`}>
            Uploaded {outcome.artifact.name ?? 'the file'} ({formatBytes(outcome.artifact.size_bytes)}) as artifact <code>{outcome.artifact.id}</code>.
          </span>
        ) : null}
        {outcome?.kind === 'cancelled' ? (
          <span className="muted" data-testid={`${id}-cancelled`}>
            Cancelled the upload of {outcome.name}; nothing was kept.
          </span>
        ) : null}
        {outcome?.kind === 'failed' ? (
          <span className="field-error">
            Upload failed ({outcome.error.status || 'unreachable'} {outcome.error.code}): {outcome.error.message}
          </span>
        ) : null}
      </span>
    </div>
  );
}
