import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api, type Artifact } from '../api/client';
import { installFakeXhr, sentUpload } from '../testing/fake-xhr';
import { bumpLiveTick, resetLive } from '../testing/live';
import { ArtifactsPage } from './artifacts-page';

const identity = vi.hoisted(() => ({ scopes: ['artifacts:read', 'artifacts:write'] }));
vi.mock('../lib/live', () => import('../testing/live'));
vi.mock('../lib/identity', () => ({ useIdentity: () => ({ whoami: { subject: 'alice', tenant: 'default', scopes: identity.scopes } }) }));
vi.mock('../lib/prefs', () => ({ usePrefs: () => ({ timeMode: 'utc' }) }));

const artifact = (n: number, overrides: Partial<Artifact> = {}): Artifact => ({
  id: `00000000-0000-4000-8000-00000000000${n}`,
  tenant_id: 'default',
  name: `file-${n}.txt`,
  content_type: 'text/plain',
  size_bytes: 1536 * n,
  sha256: `${n}`.repeat(64),
  created_by: 'alice',
  // Newest first, as the API lists them: a higher n is older.
  created_at: new Date(Date.UTC(2026, 11, 8) - n * 1000).toISOString(),
  expires_at: null,
  ...overrides,
});
const answer = (status: number, data?: unknown, error?: unknown) => Promise.resolve({ data, error, response: new Response(null, { status }) }) as never;

let get: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  resetLive();
  get = vi.spyOn(api, 'GET').mockImplementation(((_path: string, options: { params: { query: { cursor?: string } } }) =>
    options.params.query.cursor === 'page-2'
      ? answer(200, { items: [artifact(3)], next_cursor: null })
      : answer(200, { items: [artifact(1), artifact(2, { name: null, expires_at: '2026-12-09T00:00:00.000Z' })], next_cursor: 'page-2' })) as never);
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
  identity.scopes = ['artifacts:read', 'artifacts:write'];
});

const renderPage = (path = '/artifacts') =>
  render(
    <MemoryRouter initialEntries={[path]}>
      <ArtifactsPage />
    </MemoryRouter>,
  );

describe('ArtifactsPage', () => {
  it('lists the tenant’s artifacts newest first, and older pages on demand', async () => {
    renderPage();
    const table = await screen.findByTestId('artifacts-table');
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows.map((row) => row.textContent)).toEqual([
      expect.stringContaining('file-1.txt'),
      expect.stringContaining('unnamed'),
    ]);
    expect(rows[0]).toHaveTextContent('1.5 KiB');
    expect(rows[0]).toHaveTextContent('never');
    expect(rows[1]).toHaveTextContent('2026-12-09 00:00:00 UTC');

    await userEvent.click(screen.getByRole('button', { name: 'Load older artifacts' }));
    await screen.findByText('file-3.txt');
    expect(get).toHaveBeenLastCalledWith('/v1/artifacts', { params: { query: { limit: 100, cursor: 'page-2' } } });
    expect(screen.queryByRole('button', { name: 'Load older artifacts' })).not.toBeInTheDocument();
  });

  it('reads the first page again on a live change: a new artifact (a job’s result) shows, one deleted elsewhere goes, older pages stay', async () => {
    renderPage();
    await userEvent.click(await screen.findByRole('button', { name: 'Load older artifacts' }));
    await screen.findByText('file-3.txt');
    // Since: a job's result stored (the newest), and file-1.txt deleted from another console.
    get.mockImplementation((() => answer(200, { items: [artifact(0, { name: 'result-job.json' }), artifact(2)], next_cursor: 'page-2' })) as never);

    bumpLiveTick();

    await waitFor(() =>
      expect(within(screen.getByTestId('artifacts-table')).getAllByRole('row').slice(1).map((row) => row.textContent)).toEqual([
        expect.stringContaining('result-job.json'),
        expect.stringContaining('file-2.txt'),
        expect.stringContaining('file-3.txt'),
      ]),
    );
    expect(get).toHaveBeenLastCalledWith('/v1/artifacts', { params: { query: { limit: 100 } } });
    // Every page was loaded before the refresh, and still is.
    expect(screen.queryByRole('button', { name: 'Load older artifacts' })).not.toBeInTheDocument();
  });

  it('deletes only once confirmed in the row, and says what it did', async () => {
    const remove = vi.spyOn(api, 'DELETE').mockImplementation(() => answer(204));
    renderPage();
    await userEvent.click(await screen.findByRole('button', { name: 'Delete file-1.txt' }));
    expect(remove).not.toHaveBeenCalled();
    await userEvent.click(screen.getByRole('button', { name: 'Keep' }));
    expect(screen.queryByRole('button', { name: 'Delete for good: file-1.txt' })).not.toBeInTheDocument();

    await userEvent.click(screen.getByRole('button', { name: 'Delete file-1.txt' }));
    await userEvent.click(screen.getByRole('button', { name: 'Delete for good: file-1.txt' }));
    expect(await screen.findByTestId('artifact-outcome')).toHaveTextContent('Deleted file-1.txt.');
    expect(remove).toHaveBeenCalledWith('/v1/artifacts/{id}', { params: { path: { id: artifact(1).id } } });
    expect(screen.queryByText('file-1.txt')).not.toBeInTheDocument();
  });

  it('keeps a row the API refused to delete, and shows its code (409 artifact_in_use)', async () => {
    vi.spyOn(api, 'DELETE').mockImplementation(() =>
      answer(409, undefined, { error: { code: 'artifact_in_use', message: 'a QUEUED or RUNNING job references it', request_id: 'r1' } }),
    );
    renderPage();
    await userEvent.click(await screen.findByRole('button', { name: 'Delete file-1.txt' }));
    await userEvent.click(screen.getByRole('button', { name: 'Delete for good: file-1.txt' }));

    const outcome = await screen.findByTestId('artifact-outcome');
    expect(outcome).toHaveTextContent('Could not delete file-1.txt');
    expect(outcome).toHaveTextContent('artifact_in_use: a QUEUED or RUNNING job references it');
    expect(screen.getByText('file-1.txt')).toBeInTheDocument();
  });

  it('downloads through a single-use link that the browser opens itself, and shows why when the API refuses one', async () => {
    const link = vi.spyOn(api, 'POST').mockImplementationOnce(() => answer(201, { url: '/v1/downloads?ticket=t1', expires_at: '2026-12-08T00:00:30.000Z' }));
    const clicked: { href: string; download: string }[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push({ href: this.getAttribute('href') ?? '', download: this.getAttribute('download') ?? '' });
    });
    renderPage();
    await userEvent.click(await screen.findByRole('button', { name: 'Download file-1.txt' }));
    await waitFor(() => expect(clicked).toEqual([{ href: '/v1/downloads?ticket=t1', download: '' }]));
    expect(link).toHaveBeenCalledWith('/v1/artifacts/{id}/download-link', { params: { path: { id: artifact(1).id } } });

    link.mockImplementationOnce(() => answer(404, undefined, { error: { code: 'artifact_not_found', message: 'no such artifact', request_id: 'r2' } }));
    await userEvent.click(screen.getByRole('button', { name: 'Download file-1.txt' }));
    const outcome = await screen.findByTestId('artifact-outcome');
    expect(outcome).toHaveTextContent('Could not download file-1.txt');
    expect(outcome).toHaveTextContent('artifact_not_found: no such artifact');
    expect(clicked).toHaveLength(1);
  });

  it('filters by a name prefix from the URL and the filter form, and clears it', async () => {
    renderPage('/artifacts?prefix=file-');
    await screen.findByTestId('artifacts-table');
    expect(get).toHaveBeenLastCalledWith('/v1/artifacts', { params: { query: { limit: 100, prefix: 'file-' } } });
    expect(screen.getByRole('textbox', { name: 'Name starts with' })).toHaveValue('file-');

    get.mockImplementation((() => answer(200, { items: [], next_cursor: null })) as never);
    await userEvent.clear(screen.getByRole('textbox', { name: 'Name starts with' }));
    await userEvent.type(screen.getByRole('textbox', { name: 'Name starts with' }), 'model-');
    await userEvent.click(screen.getByRole('button', { name: 'Filter' }));
    expect(await screen.findByText('No artifacts whose name starts with “model-”.')).toBeInTheDocument();
    expect(get).toHaveBeenLastCalledWith('/v1/artifacts', { params: { query: { limit: 100, prefix: 'model-' } } });

    await userEvent.click(screen.getByRole('button', { name: 'Clear' }));
    await waitFor(() => expect(get).toHaveBeenLastCalledWith('/v1/artifacts', { params: { query: { limit: 100 } } }));
    expect(await screen.findByText('No artifacts yet.')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Clear' })).not.toBeInTheDocument();
  });

  it('leaves out of a filtered list an upload the filter would not list', async () => {
    installFakeXhr();
    renderPage('/artifacts?prefix=file-');
    await screen.findByTestId('artifacts-table');
    await userEvent.upload(screen.getByLabelText('Upload a file'), new File(['w'], 'weights.bin'));
    (await sentUpload()).answer(201, artifact(4, { name: 'weights.bin' }));
    await screen.findByTestId('upload-artifact-done');
    expect(screen.queryByText('weights.bin', { selector: 'td *, td' })).not.toBeInTheDocument();
  });

  it('puts an upload at the top of the list', async () => {
    installFakeXhr();
    renderPage();
    await screen.findByTestId('artifacts-table');
    await userEvent.upload(screen.getByLabelText('Upload a file'), new File(['four'], 'file-4.txt', { type: 'text/plain' }));
    (await sentUpload()).answer(201, artifact(4));

    await waitFor(() => expect(within(screen.getByTestId('artifacts-table')).getAllByRole('row')[1]).toHaveTextContent('file-4.txt'));
  });

  it('reads without artifacts:write: no upload, delete off, each saying why', async () => {
    identity.scopes = ['artifacts:read'];
    renderPage();
    expect(await screen.findByRole('button', { name: 'Delete file-1.txt' })).toBeDisabled();
    expect(screen.queryByLabelText('Upload a file')).not.toBeInTheDocument();
    expect(screen.getByText('Your token lacks the artifacts:write scope: uploading and deleting need artifacts:write.')).toBeInTheDocument();
  });

  it('asks for nothing without artifacts:read, and says why', async () => {
    identity.scopes = ['jobs:read'];
    renderPage();
    expect(screen.getByText('Your token lacks the artifacts:read scope: the artifacts list needs artifacts:read.')).toBeInTheDocument();
    expect(get).not.toHaveBeenCalled();
  });
});
