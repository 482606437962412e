import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UNAUTHORIZED_EVENT, type Artifact } from '../api/client';
import { clearToken, saveToken } from '../lib/session';
import { installFakeXhr, sentUpload } from '../testing/fake-xhr';
import { ArtifactUpload } from './artifact-upload';

vi.mock('../lib/identity', () => ({ useIdentity: () => ({ whoami: { subject: 'alice', tenant: 'default', scopes: ['artifacts:write'] } }) }));

const MiB = 1024 * 1024;
const stored: Artifact = {
  id: '00000000-0000-4000-8000-000000000001',
  tenant_id: 'default',
  name: 'weights.bin',
  content_type: 'application/octet-stream',
  size_bytes: 8 * MiB,
  sha256: 'a'.repeat(64),
  created_by: 'alice',
  created_at: '2026-12-08T00:00:00.000Z',
  expires_at: null,
};
// A File whose size is what counts here; its bytes never leave the test.
const bigFile = () => {
  const file = new File(['x'], 'weights.bin', { type: 'application/octet-stream' });
  Object.defineProperty(file, 'size', { value: 8 * MiB });
  return file;
};

let uploaded: ReturnType<typeof vi.fn<(artifact: Artifact) => void>>;
beforeEach(() => {
  installFakeXhr();
  uploaded = vi.fn<(artifact: Artifact) => void>();
  render(<ArtifactUpload id="upload" label="Upload a file" onUploaded={uploaded} />);
});
afterEach(() => {
  vi.unstubAllGlobals();
  clearToken();
});

describe('ArtifactUpload', () => {
  it('shows how much has gone out, then the stored artifact; the input is off meanwhile', async () => {
    saveToken('token-1');
    await userEvent.upload(screen.getByLabelText('Upload a file'), bigFile());
    const upload = await sentUpload();
    expect(upload.headers).toEqual({ 'Content-Type': 'application/octet-stream', Authorization: 'Bearer token-1' });
    expect(screen.getByRole('status')).toHaveTextContent('Uploading weights.bin…');
    expect(screen.getByLabelText('Upload a file')).toBeDisabled();

    upload.progress(2 * MiB, 8 * MiB);
    expect(screen.getByRole('progressbar', { name: 'Upload of weights.bin' })).toHaveAttribute('value', String(2 * MiB));
    expect(screen.getByTestId('upload-sent')).toHaveTextContent('2.0 MiB of 8.0 MiB (25 %)');
    expect(screen.getByRole('button', { name: 'Cancel upload' })).toBeEnabled();

    // Everything sent: the API commits the bytes, and a cancel could no longer be sure to keep nothing.
    upload.progress(8 * MiB, 8 * MiB);
    expect(screen.getByTestId('upload-sent')).toHaveTextContent('8.0 MiB sent; the API is storing it…');
    expect(screen.getByRole('button', { name: 'Cancel upload' })).toBeDisabled();

    upload.answer(201, stored);
    expect(await screen.findByTestId('upload-done')).toHaveTextContent(`Uploaded weights.bin (8.0 MiB) as artifact ${stored.id}.`);
    expect(uploaded).toHaveBeenCalledWith(stored);
    expect(screen.queryByRole('progressbar')).not.toBeInTheDocument();
    expect(screen.getByLabelText('Upload a file')).toBeEnabled();
  });

  it('cancels an upload in progress: the request is aborted and nothing is handed on', async () => {
    await userEvent.upload(screen.getByLabelText('Upload a file'), bigFile());
    const upload = await sentUpload();
    upload.progress(1 * MiB, 8 * MiB);

    await userEvent.click(screen.getByRole('button', { name: 'Cancel upload' }));

    expect(upload.aborted).toBe(true);
    expect(await screen.findByTestId('upload-cancelled')).toHaveTextContent('Cancelled the upload of weights.bin; nothing was kept.');
    expect(uploaded).not.toHaveBeenCalled();
    expect(screen.getByLabelText('Upload a file')).toBeEnabled();
  });

  it('says when the connection broke off', async () => {
    await userEvent.upload(screen.getByLabelText('Upload a file'), bigFile());
    (await sentUpload()).fail();
    expect(await screen.findByText(/^Upload failed \(unreachable unreachable\): The API could not be reached/)).toBeInTheDocument();
  });

  it('a refused token ends the session, as the typed client does', async () => {
    const ended = vi.fn();
    window.addEventListener(UNAUTHORIZED_EVENT, ended);
    await userEvent.upload(screen.getByLabelText('Upload a file'), bigFile());
    (await sentUpload()).answer(401, { error: { code: 'unauthorized', message: 'token revoked', request_id: 'r1' } }, { 'x-request-id': 'r1' });
    expect(await screen.findByText('Upload failed (401 unauthorized): token revoked')).toBeInTheDocument();
    expect(ended).toHaveBeenCalledTimes(1);
    window.removeEventListener(UNAUTHORIZED_EVENT, ended);
  });
});
